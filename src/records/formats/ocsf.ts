/**
 * OCSF 1.8.0 Detection Finding (class 2004, activity 1 Create): one class for every beacon kind, so Amazon
 * Security Lake and other OCSF lakes take the stream as a single source. The raw callback is the evidence, the
 * file the affected resource; what OCSF has no place for goes under `unmapped.oversight`. Field by field in
 * docs/SIEM.md ("OCSF"); test/fixtures/ocsf-1.8.0 holds the schema's attribute lists the tests check against.
 */
import { actionForKind, nestedExtra } from '../../registry/event.js';
import { eventTimeMs, ipVersion, plain, PRODUCT, PRODUCT_VERSION, VENDOR } from './beacon.js';
import { kindCache, lastOf, quote, type EventJson, type JsonFormatter } from './fields.js';
import type { FormatDescription } from './format.js';

export const OCSF_VERSION = '1.8.0';

/**
 * A DNS callback reaches us through the reader's resolver: medium severity and confidence, like CEF's 6.
 * Caption siblings (`severity`, `class_name`, …) are left out throughout: OCSF makes them optional, consumers
 * derive them from the ids, and they would make every record a tenth larger.
 */
function severityIds(kind: string): string {
  return kind === 'dns'
    ? '"severity_id":3,"confidence_id":2'
    : '"severity_id":4,"confidence_id":3';
}

/** A JSON value as an OCSF string_t: registries may hold numbers where text is expected. */
function str(json: string): string {
  return json.charCodeAt(0) === 34 ? json : quote(json);
}

/** OCSF's ip_t `max_len` (40), quotes included. */
const IP_MAX_JSON = 42;

const HEAD =
  '{"activity_id":1,"category_uid":2,"class_uid":2004,"type_uid":200401,"status_id":1,"is_alert":true,';
const METADATA_HEAD =
  `,"timezone_offset":0,"metadata":{"version":"${OCSF_VERSION}","product":{"name":${quote(PRODUCT)},"vendor_name":${quote(VENDOR)},"version":${quote(PRODUCT_VERSION)}},` +
  '"log_name":"events"';
// Fixed text that meets other fixed text is kept as one string, chosen by what the record holds: writing a
// record out costs V8 about 17 ns for each piece it was joined from (bench/results.md).
const METADATA_HEAD_ID = METADATA_HEAD + ',"original_event_uid":';
const ORIGINAL_TIME = ',"original_time":"';
/** The correlation uid's opening, after the original time (whose closing quote it starts with) or without one. */
const CORRELATION = [',"correlation_uid":', '","correlation_uid":'] as const;
/**
 * The evidence closed, and closed with the resource's opening up to the file: after any last member, and after
 * the user (always the last member when there is one), whose type goes with it.
 */
const EVIDENCE_END = ['}}]', ',"type_id":1}}]'] as const;
const RESOURCES = ',"resources":[{"uid":';
const RESOURCE_HEAD = [EVIDENCE_END[0] + RESOURCES, EVIDENCE_END[1] + RESOURCES] as const;
/** After the file: the resource's type and role, then its end, or its owner's opening and the owner's end. */
const DOCUMENT = ',"type":"Document","role_id":1';
const RESOURCE_END = DOCUMENT + '}]';
const RESOURCE_OWNER = DOCUMENT + ',"owner":{"uid":';
const RESOURCE_OWNER_END = '}}]';
const UNMAPPED = ',"unmapped":{"oversight":{';

/**
 * A member's opening as the first of its list (after `list`, the text that opens the list), and after another
 * member: then it closes that one first. The last member is closed where the list ends.
 */
function opening(text: string, list = ''): readonly [string, string] {
  return [list + text, '},' + text];
}
const EVIDENCE_IP = opening('"src_endpoint":{"ip":');
const EVIDENCE_UA = opening('"http_request":{"user_agent":');
const EVIDENCE_QUERY = opening('"query":{"hostname":');
const EVIDENCE_USER = opening('"user":{"uid":');
const EVIDENCE_DATA = opening('"data":{"beacon_kind":');
const OBSERVABLES = ',"observables":[';
const OBSERVE_IP = opening('{"name":"evidences.src_endpoint.ip","type_id":2,"value":', OBSERVABLES);
const OBSERVE_UA = opening('{"name":"evidences.http_request.user_agent","type_id":16,"value":', OBSERVABLES);
const OBSERVE_QUERY = opening('{"name":"evidences.query.hostname","type_id":1,"value":', OBSERVABLES);

export function ocsfJsonFormatter(): JsonFormatter {
  // Everything up to the time, fixed per kind.
  const kindHead = kindCache(
    (kind) => `${HEAD}${severityIds(kind)},"message":${quote(`Leaked document beacon: ${kind || 'unknown'} callback`)},"time":`,
  );
  // `unmapped` opened, after the observables' end or without observables, up to the kind.
  const kindUnmapped = kindCache((kind) => {
    const open = `${UNMAPPED}"beacon_kind":${quote(kind)}`;
    return { open, afterObservables: '}]' + open };
  });
  // From the comma after the finding's uid to the opening of the first evidence member.
  const kindInfo = kindCache(
    (kind) =>
      `,"title":${quote(`Leaked document beacon (${kind || 'unknown'})`)},` +
      `"analytic":{"type_id":1,"uid":${quote(`oversight.beacon.${kind || 'unknown'}`)},"name":${quote(`Oversight ${actionForKind(kind)}`)}}},"evidences":[{`,
  );
  // The reporter, `metadata` closed, and `oversight:<registry>:` as the start of the finding's uid, the event id
  // to follow.
  const findingHead = lastOf(
    (id) => `${id === '' ? '' : `,"reporter":{"uid":${quote(id)}}`}},"finding_info":{"uid":${quote(`oversight:${id}:`).slice(0, -1)}`,
  );
  return (e: EventJson): string => {
    // `time` is required: an event without one a SIEM can read (0, or outside years 1-9999) says 0, as the
    // registry's own "no time" does, never `1e+23000`.
    const ms = eventTimeMs(e.occurredUnix) ?? '0';
    // ip_t allows 40 characters, fewer than an address can be written in (a fully written IPv4-mapped address,
    // a zone index): a longer one stays unmapped, as text that is not an address does. An address is ASCII
    // without escapes, so its JSON is two characters longer.
    const ipOk = e.sourceIp !== null && e.sourceIp.length <= IP_MAX_JSON && ipVersion(plain(e.sourceIp)) !== 0;
    const q = e.kind === 'dns' && e.extraJson !== null ? dnsQuestion(e.extraJson) : null;
    const ua = e.userAgent === null ? null : str(e.userAgent);

    // The evidence: the callback as it reached the registry, each member left open for the next one's opening
    // (or the list's end) to close. Openings are written out whole, so no record joins a comma or a brace to one.
    let evidence = ipOk ? EVIDENCE_IP[0] + e.sourceIp : '';
    if (ua !== null) evidence += EVIDENCE_UA[evidence === '' ? 0 : 1] + ua;
    if (q !== null) evidence += EVIDENCE_QUERY[evidence === '' ? 0 : 1] + q.qname + (q.qtype === null ? '' : ',"type":' + q.qtype);
    if (e.recipient !== null) evidence += EVIDENCE_USER[evidence === '' ? 0 : 1] + str(e.recipient);
    // An evidence object needs one of its main attributes (src_endpoint, query, user, …); a callback with none
    // of them still names what it was. So the evidence always has a member.
    if (!ipOk && q === null && e.recipient === null) evidence += EVIDENCE_DATA[evidence === '' ? 0 : 1] + quote(e.kind);

    let observables = ipOk ? OBSERVE_IP[0] + e.sourceIp : '';
    if (ua !== null) observables += OBSERVE_UA[observables === '' ? 0 : 1] + ua;
    if (q !== null) observables += OBSERVE_QUERY[observables === '' ? 0 : 1] + q.qname;

    // The file is the affected resource, its issuer the owner; an issuer without a file stays unmapped.
    // It closes the evidence before it (or, without a file, only closes the evidence).
    const user = e.recipient === null ? 0 : 1;
    const resource =
      e.file === null ? EVIDENCE_END[user] : RESOURCE_HEAD[user] + str(e.file) + (e.issuer === null ? RESOURCE_END : RESOURCE_OWNER + str(e.issuer) + RESOURCE_OWNER_END);

    const unmappedOpen = kindUnmapped(e.kind);
    let unmapped = observables === '' ? unmappedOpen.open : unmappedOpen.afterObservables;
    if (e.sourceIp !== null && !ipOk) unmapped += `,"source_ip":${e.sourceIp}`;
    if (e.issuer !== null && e.file === null) unmapped += `,"issuer_id":${e.issuer}`;
    if (e.qualifiedTimestamp !== null) unmapped += `,"qualified_timestamp":${e.qualifiedTimestamp}`;
    if (e.tlogIndex !== null) unmapped += `,"tlog_index":${e.tlogIndex}`;
    const rest = q === null ? (e.extraJson === null ? null : nestedExtra(e.extraJson)) : q.rest;
    if (rest !== null) unmapped += `,"extra":${rest}`;

    // The original time's closing quote goes with what follows it.
    const timed = e.occurredAt === '' ? 0 : 1;
    const original = (e.idJson === null ? METADATA_HEAD : METADATA_HEAD_ID + e.idJson) + (timed ? ORIGINAL_TIME + e.occurredAt : '');
    const correlation = e.token === null ? (timed ? '"' : '') : CORRELATION[timed] + str(e.token);
    return `${kindHead(e.kind)}${ms}${original}${correlation}${findingHead(e.registryId)}${
      e.idJson === null ? '"' : e.idJson.slice(1)}${kindInfo(e.kind)}${evidence}${resource}${observables}${unmapped}}}}`;
  };
}

/** The DNS question of a callback's `extra` as JSON strings, and the rest of `extra` (null when nothing is left). */
interface DnsQuestion {
  qname: string;
  qtype: string | null;
  rest: string | null;
}

/** What the registry writes for a DNS callback, as Python's compact JSON spells it. */
const USUAL_DNS = /^\{"qtype":("[^"\\]*"),"qname":("[^"\\]+")\}$/;

function dnsQuestion(extraJson: string): DnsQuestion | null {
  const m = USUAL_DNS.exec(extraJson);
  if (m) return { qname: m[2]!, qtype: m[1] === '""' ? null : m[1]!, rest: null };
  // Anything else is read in full; Python's NaN or Infinity make it no DNS question.
  let extra: Record<string, unknown>;
  try {
    extra = JSON.parse(extraJson) as Record<string, unknown>;
  } catch {
    return null;
  }
  const { qname, qtype } = extra;
  if (typeof qname !== 'string' || qname === '') return null;
  delete extra['qname'];
  const hasType = typeof qtype === 'string' && qtype !== '';
  if (hasType) delete extra['qtype'];
  const rest = JSON.stringify(extra);
  return { qname: quote(qname), qtype: hasType ? quote(qtype) : null, rest: rest === '{}' ? null : rest };
}

export const ocsfFormat: FormatDescription = {
  name: 'ocsf',
  summary: 'OCSF 1.8.0 Detection Finding (Amazon Security Lake, OCSF data lakes)',
  records: 'json',
  create: () => ocsfJsonFormatter(),
};
