/** Elastic Common Schema 8.x document, field for field as the reference's `to_ecs`. */
import { actionForKind, ECS_VERSION, nestedExtra, SCHEMA_VERSION, type OversightEvent } from '../event.js';
import { jsonScalar, kindCache, member, present, type RecordFormatter } from './fields.js';

const EVENT_HEAD =
  '"ecs":{"version":"' + ECS_VERSION + '"},"event":{"kind":"event","category":["network"],' +
  '"type":["access","info"],"dataset":"oversight.beacon","module":"oversight","provider":"oversight-registry",' +
  '"action":';

export function ecsFormatter(): RecordFormatter {
  const action = kindCache((kind) => JSON.stringify(actionForKind(kind)));
  return (evt: OversightEvent): string =>
    '{' +
    (evt.occurred_at === '' ? '' : '"@timestamp":' + JSON.stringify(evt.occurred_at) + ',') +
    EVENT_HEAD + action(evt.event_kind) + member('id', evt.event_id) + ',"outcome":"success"}' +
    (present(evt.source_ip) ? ',"source":{"ip":' + jsonScalar(evt.source_ip) + '}' : '') +
    (present(evt.user_agent) ? ',"user_agent":{"original":' + jsonScalar(evt.user_agent) + '}' : '') +
    // `labels` is not `or None` in the reference, so an empty `{}` stays in the document.
    ',"labels":{' +
    (member('oversight_token_id', evt.token_id) +
      member('oversight_file_id', evt.file_id) +
      member('oversight_recipient_id', evt.recipient_id) +
      member('oversight_issuer_id', evt.issuer_id) +
      member('oversight_beacon_kind', evt.event_kind)).slice(1) +
    '},"oversight":{"schema":"' + SCHEMA_VERSION + '"' +
    member('registry_id', evt.registry_id) +
    member('token_id', evt.token_id) +
    member('file_id', evt.file_id) +
    member('recipient_id', evt.recipient_id) +
    member('issuer_id', evt.issuer_id) +
    member('beacon_kind', evt.event_kind) +
    member('tlog_index', evt.tlog_index) +
    member('qualified_timestamp', evt.qualified_timestamp) +
    (evt.extra_json === null ? '' : ',"extra":' + nestedExtra(evt.extra_json)) +
    '}}';
}
