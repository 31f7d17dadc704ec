/** Splunk HTTP Event Collector envelope, field for field as the reference's `to_splunk_hec`. */
import { actionForKind, nestedExtra, SCHEMA_VERSION, type OversightEvent } from '../event.js';
import { floatRepr } from '../pyjson.js';
import { kindCache, member, type RecordFormatter } from './fields.js';

export interface SplunkHecOptions {
  /** HEC `source`; default `oversight:registry`. */
  source?: string;
  /** HEC `sourcetype`; default `oversight:beacon`. */
  sourcetype?: string;
  /** HEC `index`; omitted when empty, so the token's default index applies. */
  index?: string | null;
  /** HEC `host`; default the event's registry id. */
  host?: string | null;
}

export function splunkHecFormatter(options: SplunkHecOptions = {}): RecordFormatter {
  const source = options.source ?? 'oversight:registry';
  const sourcetype = options.sourcetype ?? 'oversight:beacon';
  const middle =
    ',"source":' + JSON.stringify(source) + ',"sourcetype":' + JSON.stringify(sourcetype) +
    ',"event":{"schema":"' + SCHEMA_VERSION + '"';
  const tail = options.index ? ',"index":' + JSON.stringify(options.index) + '}' : '}';
  const kindPart = kindCache((kind) => member('kind', kind) + ',"action":' + JSON.stringify(actionForKind(kind)));
  const fixedHost = options.host ? JSON.stringify(options.host) : null;
  let lastRegistry: string | null = null;
  let registryHost = '';

  return (evt: OversightEvent): string => {
    if (evt.registry_id !== lastRegistry) {
      lastRegistry = evt.registry_id;
      registryHost = JSON.stringify(evt.registry_id);
    }
    return (
      '{"time":' + floatRepr(evt.occurred_unix) + ',"host":' + (fixedHost ?? registryHost) + middle +
      kindPart(evt.event_kind) +
      member('event_id', evt.event_id) +
      member('occurred_at', evt.occurred_at) +
      member('token_id', evt.token_id) +
      member('file_id', evt.file_id) +
      member('recipient_id', evt.recipient_id) +
      member('issuer_id', evt.issuer_id) +
      member('source_ip', evt.source_ip) +
      member('user_agent', evt.user_agent) +
      member('qualified_timestamp', evt.qualified_timestamp) +
      member('tlog_index', evt.tlog_index) +
      member('registry_id', evt.registry_id) +
      (evt.extra_json === null ? '' : ',"extra":' + nestedExtra(evt.extra_json)) +
      '},"fields":{' +
      (member('file_id', evt.file_id) +
        member('recipient_id', evt.recipient_id) +
        member('issuer_id', evt.issuer_id) +
        member('beacon_kind', evt.event_kind)).slice(1) +
      '}' + tail
    );
  };
}
