/**
 * OCSF 1.8.0 Detection Finding (class 2004, activity 1 Create): one class for every beacon kind, so Amazon
 * Security Lake and other OCSF lakes take the stream as a single source. The raw callback is the evidence, the
 * file the affected resource; what OCSF has no place for goes under `unmapped.oversight`. Field by field in
 * docs/SIEM.md ("OCSF"); test/fixtures/ocsf-1.8.0 holds the schema's attribute lists the tests check against.
 */
import { actionForKind, nestedExtra, SCHEMA_VERSION } from '../event.js';
import { dnsQuestion, ipVersion, plain, PRODUCT, PRODUCT_VERSION, VENDOR } from './beacon.js';
import { kindCache, lastQuoted, quote, type EventJson, type JsonFormatter } from './fields.js';
import type { FormatDescription } from './format.js';

export const OCSF_VERSION = '1.8.0';

/** A DNS callback reaches us through the reader's resolver: medium severity and confidence, like CEF's 6. */
function severityIds(kind: string): string {
  return kind === 'dns'
    ? '"severity_id":3,"severity":"Medium","confidence_id":2,"confidence":"Medium"'
    : '"severity_id":4,"severity":"High","confidence_id":3,"confidence":"High"';
}

/** A JSON value as an OCSF string_t: registries may hold numbers where text is expected. */
function str(json: string): string {
  return json.charCodeAt(0) === 34 ? json : quote(json);
}

const HEAD =
  '{"activity_id":1,"activity_name":"Create","category_uid":2,"category_name":"Findings","class_uid":2004,' +
  '"class_name":"Detection Finding","type_uid":200401,"type_name":"Detection Finding: Create","status_id":1,"status":"New",' +
  '"is_alert":true,';
const METADATA_HEAD =
  `"metadata":{"version":"${OCSF_VERSION}","product":{"name":${quote(PRODUCT)},"vendor_name":${quote(VENDOR)},"version":${quote(PRODUCT_VERSION)}},` +
  '"log_provider":"oversight-siem","log_name":"events"';

export function ocsfJsonFormatter(): JsonFormatter {
  const kindHead = kindCache(
    (kind) => `${severityIds(kind)},"message":${quote(`Leaked document beacon: ${kind || 'unknown'} callback`)},`,
  );
  const kindInfo = kindCache(
    (kind) =>
      `"title":${quote(`Leaked document beacon (${kind || 'unknown'})`)},"types":["Document Beacon",${quote(kind || 'unknown')}],` +
      `"analytic":{"type_id":1,"type":"Rule","uid":${quote(`oversight.beacon.${kind || 'unknown'}`)},"name":${quote(`Oversight ${actionForKind(kind)}`)}}`,
  );
  const registry = lastQuoted();
  return (e: EventJson): string => {
    const ms = e.occurredUnix * 1000;
    const reg = e.registryId === '' ? null : registry(e.registryId);
    const ip = plain(e.sourceIp);
    const ipOk = ipVersion(ip) !== 0;
    const q = e.kind === 'dns' ? dnsQuestion(e.extraJson) : null;

    // The evidence: the callback as it reached the registry.
    const evidence: string[] = [];
    if (ipOk) evidence.push(`"src_endpoint":{"ip":${e.sourceIp}}`);
    if (e.userAgent !== null) evidence.push(`"http_request":{"user_agent":${str(e.userAgent)}}`);
    if (q?.qname) evidence.push(`"query":{"hostname":${quote(q.qname)}${q.qtype ? `,"type":${quote(q.qtype)}` : ''}}`);
    if (e.recipient !== null) evidence.push(`"user":{"uid":${str(e.recipient)},"type_id":1,"type":"User"}`);
    // An evidence object needs one of its main attributes (src_endpoint, query, user, …); a callback with none
    // of them still names what it was.
    if (!ipOk && !q?.qname && e.recipient === null) evidence.push(`"data":{"beacon_kind":${quote(e.kind)}}`);

    const observables: string[] = [];
    if (ipOk) observables.push(`{"name":"evidences.src_endpoint.ip","type_id":2,"type":"IP Address","value":${e.sourceIp}}`);
    if (e.userAgent !== null) observables.push(`{"name":"evidences.http_request.user_agent","type_id":16,"type":"HTTP User-Agent","value":${str(e.userAgent)}}`);
    if (q?.qname) observables.push(`{"name":"evidences.query.hostname","type_id":1,"type":"Hostname","value":${quote(q.qname)}}`);

    // The file is the affected resource, its issuer the owner; an issuer without a file stays unmapped.
    const resource =
      e.file === null ? '' : `,"resources":[{"uid":${str(e.file)},"type":"Document","role_id":1,"role":"Target"${
        e.issuer === null ? '' : `,"owner":{"uid":${str(e.issuer)}}`}}]`;

    const unmapped = [`"schema":"${SCHEMA_VERSION}"`, `"beacon_kind":${quote(e.kind)}`];
    if (ip !== null && !ipOk) unmapped.push(`"source_ip":${e.sourceIp}`);
    if (e.issuer !== null && e.file === null) unmapped.push(`"issuer_id":${e.issuer}`);
    if (e.qualifiedTimestamp !== null) unmapped.push(`"qualified_timestamp":${e.qualifiedTimestamp}`);
    if (e.tlogIndex !== null) unmapped.push(`"tlog_index":${e.tlogIndex}`);
    const rest = restOfExtra(e.extraJson, q?.qname ? q : null);
    if (rest !== null) unmapped.push(`"extra":${rest}`);

    return `${HEAD}${kindHead(e.kind)}"time":${ms},"timezone_offset":0,${METADATA_HEAD}${
      e.idJson === null ? '' : `,"original_event_uid":${e.idJson}`}${e.occurredAt === '' ? '' : `,"original_time":"${e.occurredAt}"`}${
      e.token === null ? '' : `,"correlation_uid":${str(e.token)}`}${reg === null ? '' : `,"reporter":{"uid":${reg},"name":${quote(PRODUCT)}}`}},` +
      `"finding_info":{"uid":${quote(`oversight:${e.registryId}:${e.eventId}`)},${kindInfo(e.kind)},"created_time":${ms},"first_seen_time":${ms}},` +
      `"evidences":[{${evidence.join(',')}}]${resource}${
      observables.length ? `,"observables":[${observables.join(',')}]` : ''},"unmapped":{"oversight":{${unmapped.join(',')}}}}`;
  };
}

/** `extra` without the DNS question already mapped to the evidence (re-serialized only then), or null if empty. */
function restOfExtra(extraJson: string | null, mapped: { qname: string | null; qtype: string | null } | null): string | null {
  if (extraJson === null) return null;
  if (mapped === null) return nestedExtra(extraJson);
  const extra = JSON.parse(extraJson) as Record<string, unknown>;
  delete extra['qname'];
  if (mapped.qtype !== null) delete extra['qtype'];
  const text = JSON.stringify(extra);
  return text === '{}' ? null : text;
}

export const ocsfFormat: FormatDescription = {
  name: 'ocsf',
  summary: 'OCSF 1.8.0 Detection Finding (Amazon Security Lake, OCSF data lakes)',
  records: 'json',
  create: () => ocsfJsonFormatter(),
};
