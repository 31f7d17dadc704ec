/** Microsoft Sentinel / Log Analytics flat row, field for field as the reference's `to_sentinel`. */
import { actionForKind, SCHEMA_VERSION } from '../../registry/event.js';
import { kindCache, lastOf, member, memberJson, overEvents, quote, type EventJson, type JsonFormatter, type RecordFormatter } from './fields.js';
import type { FormatDescription } from './format.js';

/**
 * The table column that keeps the callback's own time: the data collection rule `siem setup` deploys moves each
 * row's TimeGenerated there and sets TimeGenerated to the arrival (docs/SIEM.md, "One clock story").
 */
export const OCCURRED_COLUMN = 'OccurredAt';

export function sentinelJsonFormatter(): JsonFormatter {
  const kindPart = kindCache((kind) => member(',"BeaconKind":', kind) + ',"Action":' + quote(actionForKind(kind)));
  const registry = lastOf(quote);
  // ExtraJson is Python's exact `json.dumps` text (ASCII-escaped), carried as a string column.
  return (e: EventJson): string =>
    `{${e.occurredAt === '' ? '' : `"TimeGenerated":"${e.occurredAt}",`}"Schema":"${SCHEMA_VERSION}"${
      e.registryId === '' ? '' : `,"RegistryId":${registry(e.registryId)}`}${memberJson(',"EventId":', e.idJson)}${kindPart(e.kind)}${
      memberJson(',"TokenId":', e.token)}${memberJson(',"FileId":', e.file)}${memberJson(',"RecipientId":', e.recipient)}${
      memberJson(',"IssuerId":', e.issuer)}${memberJson(',"SourceIp":', e.sourceIp)}${memberJson(',"UserAgent":', e.userAgent)}${
      memberJson(',"QualifiedTimestamp":', e.qualifiedTimestamp)}${memberJson(',"TlogIndex":', e.tlogIndex)}${member(',"ExtraJson":', e.extraJson)}}`;
}

export function sentinelFormatter(): RecordFormatter {
  return overEvents(sentinelJsonFormatter());
}

export const sentinelFormat: FormatDescription = {
  name: 'sentinel',
  summary: 'Microsoft Sentinel / Log Analytics rows',
  records: 'json',
  create: () => sentinelJsonFormatter(),
};
