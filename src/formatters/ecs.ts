/** Elastic Common Schema 8.x document, field for field as the reference's `to_ecs`. */
import { actionForKind, ECS_VERSION, nestedExtra, SCHEMA_VERSION, type OversightEvent } from '../event.js';
import { kindCache, lastQuoted, member, memberJson, quote, valueJson, type RecordFormatter } from './fields.js';

const EVENT_HEAD =
  '"ecs":{"version":"' + ECS_VERSION + '"},"event":{"kind":"event","category":["network"],' +
  '"type":["access","info"],"dataset":"oversight.beacon","module":"oversight","provider":"oversight-registry",' +
  '"action":';

export function ecsFormatter(): RecordFormatter {
  const action = kindCache((kind) => quote(actionForKind(kind)));
  const kindJson = kindCache((kind) => valueJson(kind) ?? '');
  const registry = lastQuoted();
  return (evt: OversightEvent): string => {
    // Token, file, recipient and issuer appear twice; each is written as JSON once.
    const token = valueJson(evt.token_id);
    const file = valueJson(evt.file_id);
    const recipient = valueJson(evt.recipient_id);
    const issuer = valueJson(evt.issuer_id);
    const kind = evt.event_kind === '' ? null : kindJson(evt.event_kind);
    const labels = `${memberJson(',"oversight_token_id":', token)}${memberJson(',"oversight_file_id":', file)}${
      memberJson(',"oversight_recipient_id":', recipient)}${memberJson(',"oversight_issuer_id":', issuer)}${memberJson(',"oversight_beacon_kind":', kind)}`;
    const ip = valueJson(evt.source_ip);
    const ua = valueJson(evt.user_agent);
    // `labels` is not `or None` in the reference, so an empty `{}` stays in the document.
    return `{${evt.occurred_at === '' ? '' : `"@timestamp":"${evt.occurred_at}",`}${EVENT_HEAD}${action(evt.event_kind)}${member(',"id":', evt.event_id)},"outcome":"success"}${
      ip === null ? '' : `,"source":{"ip":${ip}}`}${ua === null ? '' : `,"user_agent":{"original":${ua}}`},"labels":{${labels.slice(1)}},"oversight":{"schema":"${SCHEMA_VERSION}"${
      evt.registry_id === '' ? '' : `,"registry_id":${registry(evt.registry_id)}`}${memberJson(',"token_id":', token)}${memberJson(',"file_id":', file)}${
      memberJson(',"recipient_id":', recipient)}${memberJson(',"issuer_id":', issuer)}${memberJson(',"beacon_kind":', kind)}${
      member(',"tlog_index":', evt.tlog_index)}${member(',"qualified_timestamp":', evt.qualified_timestamp)}${
      evt.extra_json === null ? '' : `,"extra":${nestedExtra(evt.extra_json)}`}}}`;
  };
}
