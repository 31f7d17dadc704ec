/** Splunk HTTP Event Collector envelope, field for field as the reference's `to_splunk_hec`. */
import { actionForKind, nestedExtra, SCHEMA_VERSION } from '../../registry/event.js';
import { option } from '../../shared/options.js';
import { floatRepr } from '../../registry/pyjson.js';
import { kindCache, lastOf, member, memberJson, overEvents, quote, secondsText, type EventJson, type JsonFormatter, type RecordFormatter } from './fields.js';
import type { FormatDescription } from './format.js';

/** The reference's HEC source and sourcetype. */
const DEFAULT_SOURCE = 'oversight:registry';
const DEFAULT_SOURCETYPE = 'oversight:beacon';

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

export function splunkHecJsonFormatter(options: SplunkHecOptions = {}): JsonFormatter {
  const source = options.source ?? DEFAULT_SOURCE;
  const sourcetype = options.sourcetype ?? DEFAULT_SOURCETYPE;
  const middle =
    ',"source":' + quote(source) + ',"sourcetype":' + quote(sourcetype) + ',"event":{"schema":"' + SCHEMA_VERSION + '"';
  const tail = options.index ? ',"index":' + quote(options.index) + '}' : '}';
  const kindPart = kindCache((kind) => member(',"kind":', kind) + ',"action":' + quote(actionForKind(kind)));
  const beaconKind = kindCache((kind) => member(',"beacon_kind":', kind));
  const fixedHost = options.host ? quote(options.host) : null;
  const time = secondsText('.0', floatRepr);
  // The pieces that hold the registry id, fixed for a run: the host up to the event's first member, and the
  // event's `registry_id` member.
  const hostToEvent = lastOf((id) => ',"host":' + (fixedHost ?? quote(id)) + middle);
  const registryMember = lastOf((id) => (id === '' ? '' : ',"registry_id":' + quote(id)));

  return (e: EventJson): string => {
    const rest = `${memberJson(',"recipient_id":', e.recipient)}${memberJson(',"issuer_id":', e.issuer)}${beaconKind(e.kind)}`;
    // The file nearly always leads; only without it is the first comma cut (slice copies the text).
    const fields = e.file === null ? rest.slice(1) : `"file_id":${e.file}${rest}`;
    return `{"time":${time(e.occurredUnix)}${hostToEvent(e.registryId)}${kindPart(e.kind)}${memberJson(',"event_id":', e.idJson)}${
      e.occurredAt === '' ? '' : `,"occurred_at":"${e.occurredAt}"`}${memberJson(',"token_id":', e.token)}${memberJson(',"file_id":', e.file)}${
      memberJson(',"recipient_id":', e.recipient)}${memberJson(',"issuer_id":', e.issuer)}${memberJson(',"source_ip":', e.sourceIp)}${
      memberJson(',"user_agent":', e.userAgent)}${memberJson(',"qualified_timestamp":', e.qualifiedTimestamp)}${memberJson(',"tlog_index":', e.tlogIndex)}${
      registryMember(e.registryId)}${e.extraJson === null ? '' : `,"extra":${nestedExtra(e.extraJson)}`}},"fields":{${fields}}${tail}`;
  };
}

export function splunkHecFormatter(options: SplunkHecOptions = {}): RecordFormatter {
  return overEvents(splunkHecJsonFormatter(options));
}

// As in the reference exporter, an empty value leaves the envelope field out, and HEC applies its own default.
const SOURCE = option({ flags: '--splunk-source <source>', description: 'Splunk: source', default: DEFAULT_SOURCE, group: 'format', emptyLeavesOut: true });
const SOURCETYPE = option({ flags: '--splunk-sourcetype <sourcetype>', description: 'Splunk: sourcetype', default: DEFAULT_SOURCETYPE, group: 'format', emptyLeavesOut: true });
const INDEX = option({ flags: '--splunk-index <index>', description: 'Splunk: index (default: the token default)', group: 'format', emptyLeavesOut: true });
const HOST = option({ flags: '--splunk-host <host>', description: 'Splunk: host (default: the registry id)', group: 'format', emptyLeavesOut: true });

export const splunkFormat: FormatDescription<SplunkHecOptions> = {
  name: 'splunk',
  summary: 'Splunk HTTP Event Collector envelopes',
  records: 'json',
  flags: [
    SOURCE,
    SOURCETYPE,
    INDEX,
    HOST,
  ],
  settings: (f) => ({
    source: SOURCE.read(f)!,
    sourcetype: SOURCETYPE.read(f)!,
    index: INDEX.read(f),
    host: HOST.read(f),
  }),
  create: (settings) => splunkHecJsonFormatter(settings),
};
