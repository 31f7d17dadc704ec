/** Elastic Common Schema 8.x document, field for field as the reference's `to_ecs`. */
import { actionForKind, ECS_VERSION, nestedExtra, SCHEMA_VERSION } from '../../registry/event.js';
import { kindCache, lastQuoted, memberJson, overEvents, quote, valueJson, type EventJson, type JsonFormatter, type RecordFormatter } from './fields.js';
import type { FormatDescription } from './format.js';

const EVENT_HEAD =
  '"ecs":{"version":"' + ECS_VERSION + '"},"event":{"kind":"event","category":["network"],' +
  '"type":["access","info"],"dataset":"oversight.beacon","module":"oversight","provider":"oversight-registry",' +
  '"action":';

export function ecsJsonFormatter(): JsonFormatter {
  const action = kindCache((kind) => quote(actionForKind(kind)));
  const kindJson = kindCache((kind) => valueJson(kind) ?? '');
  const registry = lastQuoted();
  return (e: EventJson): string => {
    // Token, file, recipient and issuer appear twice, under labels and under oversight.
    const kind = e.kind === '' ? null : kindJson(e.kind);
    const rest = `${memberJson(',"oversight_file_id":', e.file)}${
      memberJson(',"oversight_recipient_id":', e.recipient)}${memberJson(',"oversight_issuer_id":', e.issuer)}${memberJson(',"oversight_beacon_kind":', kind)}`;
    // The token is nearly always there to lead; only without it is the first comma cut (slice copies the text).
    const labels = e.token === null ? rest.slice(1) : `"oversight_token_id":${e.token}${rest}`;
    // `labels` is not `or None` in the reference, so an empty `{}` stays in the document.
    return `{${e.occurredAt === '' ? '' : `"@timestamp":"${e.occurredAt}",`}${EVENT_HEAD}${action(e.kind)}${memberJson(',"id":', e.idJson)},"outcome":"success"}${
      e.sourceIp === null ? '' : `,"source":{"ip":${e.sourceIp}}`}${e.userAgent === null ? '' : `,"user_agent":{"original":${e.userAgent}}`},"labels":{${labels}},"oversight":{"schema":"${SCHEMA_VERSION}"${
      e.registryId === '' ? '' : `,"registry_id":${registry(e.registryId)}`}${memberJson(',"token_id":', e.token)}${memberJson(',"file_id":', e.file)}${
      memberJson(',"recipient_id":', e.recipient)}${memberJson(',"issuer_id":', e.issuer)}${memberJson(',"beacon_kind":', kind)}${
      memberJson(',"tlog_index":', e.tlogIndex)}${memberJson(',"qualified_timestamp":', e.qualifiedTimestamp)}${
      e.extraJson === null ? '' : `,"extra":${nestedExtra(e.extraJson)}`}}}`;
  };
}

export function ecsFormatter(): RecordFormatter {
  return overEvents(ecsJsonFormatter());
}

export const ecsFormat: FormatDescription = {
  name: 'ecs',
  summary: 'Elastic Common Schema documents',
  records: 'json',
  create: () => ecsJsonFormatter(),
};
