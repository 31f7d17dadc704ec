/** Microsoft Sentinel / Log Analytics flat row, field for field as the reference's `to_sentinel`. */
import { actionForKind, SCHEMA_VERSION, type OversightEvent } from '../event.js';
import { kindCache, lastQuoted, member, quote, type RecordFormatter } from './fields.js';

export function sentinelFormatter(): RecordFormatter {
  const kindPart = kindCache((kind) => member(',"BeaconKind":', kind) + ',"Action":' + quote(actionForKind(kind)));
  const registry = lastQuoted();
  // ExtraJson is Python's exact `json.dumps` text (ASCII-escaped), carried as a string column.
  return (evt: OversightEvent): string =>
    `{${evt.occurred_at === '' ? '' : `"TimeGenerated":"${evt.occurred_at}",`}"Schema":"${SCHEMA_VERSION}"${
      evt.registry_id === '' ? '' : `,"RegistryId":${registry(evt.registry_id)}`}${member(',"EventId":', evt.event_id)}${kindPart(evt.event_kind)}${
      member(',"TokenId":', evt.token_id)}${member(',"FileId":', evt.file_id)}${member(',"RecipientId":', evt.recipient_id)}${
      member(',"IssuerId":', evt.issuer_id)}${member(',"SourceIp":', evt.source_ip)}${member(',"UserAgent":', evt.user_agent)}${
      member(',"QualifiedTimestamp":', evt.qualified_timestamp)}${member(',"TlogIndex":', evt.tlog_index)}${member(',"ExtraJson":', evt.extra_json)}}`;
}
