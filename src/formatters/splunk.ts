/** Splunk HTTP Event Collector envelope, field for field as the reference's `to_splunk_hec`. */
import { actionForKind, nestedExtra, SCHEMA_VERSION, type OversightEvent } from '../event.js';
import { floatRepr } from '../pyjson.js';
import { kindCache, lastQuoted, member, memberJson, quote, valueJson, type RecordFormatter } from './fields.js';

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
    ',"source":' + quote(source) + ',"sourcetype":' + quote(sourcetype) + ',"event":{"schema":"' + SCHEMA_VERSION + '"';
  const tail = options.index ? ',"index":' + quote(options.index) + '}' : '}';
  const kindPart = kindCache((kind) => member(',"kind":', kind) + ',"action":' + quote(actionForKind(kind)));
  const beaconKind = kindCache((kind) => member(',"beacon_kind":', kind));
  const fixedHost = options.host ? quote(options.host) : null;
  const registry = lastQuoted();

  return (evt: OversightEvent): string => {
    const reg = registry(evt.registry_id);
    const file = valueJson(evt.file_id);
    const recipient = valueJson(evt.recipient_id);
    const issuer = valueJson(evt.issuer_id);
    const fields = `${memberJson(',"file_id":', file)}${memberJson(',"recipient_id":', recipient)}${memberJson(',"issuer_id":', issuer)}${beaconKind(evt.event_kind)}`;
    return `{"time":${floatRepr(evt.occurred_unix)},"host":${fixedHost ?? reg}${middle}${kindPart(evt.event_kind)}${member(',"event_id":', evt.event_id)}${
      evt.occurred_at === '' ? '' : `,"occurred_at":"${evt.occurred_at}"`}${member(',"token_id":', evt.token_id)}${memberJson(',"file_id":', file)}${
      memberJson(',"recipient_id":', recipient)}${memberJson(',"issuer_id":', issuer)}${member(',"source_ip":', evt.source_ip)}${
      member(',"user_agent":', evt.user_agent)}${member(',"qualified_timestamp":', evt.qualified_timestamp)}${member(',"tlog_index":', evt.tlog_index)}${
      evt.registry_id === '' ? '' : `,"registry_id":${reg}`}${evt.extra_json === null ? '' : `,"extra":${nestedExtra(evt.extra_json)}`}},"fields":{${fields.slice(1)}}${tail}`;
  };
}
