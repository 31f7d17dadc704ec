/**
 * The ingest pipeline every `logs-oversight.beacon-*` document passes through (the index template's default
 * pipeline). It leaves what the exporter sends in place and adds what ECS 9 and the Security app expect of an
 * alert from an external detector: event.kind alert, intrusion_detection/info, severity, event.ingested,
 * related.*, observer.*, rule.* per beacon kind, dns.question.*, GeoIP/ASN and the parsed user agent.
 *
 * Real registries send values a schema does not expect (the text `unknown` as source address, no address for
 * some DNS callbacks, Latin-1-garbled user agents, odd timestamps). Every step tolerates a missing field, a value
 * that does not fit is moved where a user can still see it instead of refusing the document, and any failure
 * keeps the document with `error.message` and the tag `pipeline_error`.
 *
 * Conditions are small Painless expressions of one form (null-safe field access compared with `==`/`!=`,
 * `instanceof`, `&&`), which the tests evaluate with their own interpreter of exactly that form.
 */
import { CUSTOM_PIPELINE } from './elastic-mappings.js';

/** The ECS release whose field definitions the pipeline's output follows. */
export const ECS_TARGET_VERSION = '9.4.0';

/** What the registry's rule for each beacon kind is called in `rule.*`. */
const BEACON_RULES: readonly { kind: string; name: string; description: string }[] = [
  { kind: 'dns', name: 'DNS beacon callback', description: 'A DNS lookup of a beacon name; the source is the reader\'s resolver, not the reader.' },
  { kind: 'http_img', name: 'HTTP pixel beacon callback', description: 'A viewer fetched the beacon image embedded in the document.' },
  { kind: 'ocsp', name: 'OCSP beacon callback', description: 'A viewer checked the revocation status of the document\'s signing certificate.' },
  { kind: 'license', name: 'License check beacon callback', description: 'A viewer asked the registry whether the copy may be opened.' },
];

type Processor = Record<string, Record<string, unknown>>;

const FILE_KNOWN = 'ctx.oversight?.file_id != null';
const FILE_UNKNOWN = 'ctx.oversight?.file_id == null';
const HAS_SOURCE_IP = 'ctx.source?.ip != null';

function set(tag: string, field: string, value: unknown, extra: Record<string, unknown> = {}): Processor {
  return { set: { tag, field, value, ...extra } };
}

function copy(tag: string, field: string, from: string, condition: string): Processor {
  return { set: { tag, field, copy_from: from, if: condition } };
}

function tagDoc(tag: string, value: string, condition?: string): Processor {
  return { append: { tag, field: 'tags', value: [value], allow_duplicates: false, ...(condition ? { if: condition } : {}) } };
}

export function ingestPipeline(version: string): Record<string, unknown> {
  const processors: Processor[] = [
    // A document without @timestamp cannot enter a data stream, one whose @timestamp the date mapping would not
    // parse neither: keep the registry's value under oversight.timestamp_original and index at arrival time.
    tagDoc('tag_timestamp_missing', 'oversight_timestamp_missing', "ctx['@timestamp'] == null"),
    {
      date: {
        tag: 'check_timestamp',
        if: "ctx['@timestamp'] != null",
        field: '@timestamp',
        target_field: '_temp.timestamp',
        formats: ['strict_date_optional_time'],
        on_failure: [
          { rename: { field: '@timestamp', target_field: 'oversight.timestamp_original', ignore_missing: true } },
          tagDoc('tag_timestamp_invalid', 'oversight_timestamp_invalid'),
        ],
      },
    },
    set('timestamp_from_arrival', '@timestamp', '{{{_ingest.timestamp}}}', { if: "ctx['@timestamp'] == null" }),
    { remove: { tag: 'remove_temp', field: '_temp', ignore_missing: true } },
    set('set_ingested', 'event.ingested', '{{{_ingest.timestamp}}}'),
    set('set_ecs_version', 'ecs.version', ECS_TARGET_VERSION),
    set('set_kind', 'event.kind', 'alert'),
    set('set_category', 'event.category', ['intrusion_detection']),
    set('set_type', 'event.type', ['info']),
    // Elastic's promotion rules read 21/47/73/99 as low/medium/high/critical.
    set('severity_leak', 'event.severity', 73, { if: FILE_KNOWN }),
    set('risk_leak', 'event.risk_score', 73, { if: FILE_KNOWN }),
    set('severity_unknown_token', 'event.severity', 47, { if: FILE_UNKNOWN }),
    set('risk_unknown_token', 'event.risk_score', 47, { if: FILE_UNKNOWN }),
    set('observer_vendor', 'observer.vendor', 'Oversight'),
    set('observer_product', 'observer.product', 'Oversight registry'),
    set('observer_type', 'observer.type', 'registry'),
    copy('observer_name', 'observer.name', 'oversight.registry_id', 'ctx.oversight?.registry_id != null'),
    // ECS keeps the raw address in source.address; source.ip keeps only what is an address.
    copy('source_address', 'source.address', 'source.ip', HAS_SOURCE_IP),
    {
      convert: {
        tag: 'check_source_ip',
        field: 'source.ip',
        type: 'ip',
        ignore_missing: true,
        on_failure: [
          { remove: { field: 'source.ip', ignore_missing: true } },
          tagDoc('tag_source_ip_invalid', 'oversight_source_ip_invalid'),
        ],
      },
    },
    { append: { tag: 'related_ip', field: 'related.ip', value: ['{{{source.ip}}}'], allow_duplicates: false, if: HAS_SOURCE_IP } },
    {
      append: {
        tag: 'related_user_recipient', field: 'related.user', value: ['{{{oversight.recipient_id}}}'], allow_duplicates: false,
        if: 'ctx.oversight?.recipient_id != null',
      },
    },
    {
      append: {
        tag: 'related_user_issuer', field: 'related.user', value: ['{{{oversight.issuer_id}}}'], allow_duplicates: false,
        if: 'ctx.oversight?.issuer_id != null',
      },
    },
    { geoip: { tag: 'geoip_city', field: 'source.ip', target_field: 'source.geo', ignore_missing: true } },
    {
      geoip: {
        tag: 'geoip_asn', field: 'source.ip', target_field: 'source.as', database_file: 'GeoLite2-ASN.mmdb',
        properties: ['asn', 'organization_name'], ignore_missing: true,
      },
    },
    { rename: { tag: 'asn_number', field: 'source.as.asn', target_field: 'source.as.number', ignore_missing: true } },
    { rename: { tag: 'asn_org', field: 'source.as.organization_name', target_field: 'source.as.organization.name', ignore_missing: true } },
    {
      user_agent: {
        tag: 'parse_user_agent',
        field: 'user_agent.original',
        ignore_missing: true,
        on_failure: [tagDoc('tag_user_agent_unparsed', 'oversight_user_agent_unparsed')],
      },
    },
    set('rule_ruleset', 'rule.ruleset', 'Oversight beacons'),
    set('rule_category', 'rule.category', 'Leaked document beacon'),
    set('rule_id', 'rule.id', 'oversight-beacon-{{{oversight.beacon_kind}}}', { if: 'ctx.oversight?.beacon_kind != null' }),
    set('rule_name', 'rule.name', 'Beacon callback'),
    ...BEACON_RULES.flatMap((r) => [
      set(`rule_name_${r.kind}`, 'rule.name', r.name, { if: `ctx.oversight?.beacon_kind == '${r.kind}'` }),
      set(`rule_description_${r.kind}`, 'rule.description', r.description, { if: `ctx.oversight?.beacon_kind == '${r.kind}'` }),
    ]),
    // Elastic's External Alerts rule names each alert after `message`.
    set('message_leak', 'message', 'Oversight: {{{rule.name}}} for file {{{oversight.file_id}}}', { if: FILE_KNOWN, override: false }),
    set('message_unknown_token', 'message', 'Oversight: {{{rule.name}}} for a token the registry does not know', { if: FILE_UNKNOWN, override: false }),
    copy('dns_question_name', 'dns.question.name', 'oversight.extra.qname',
      "ctx.oversight?.beacon_kind == 'dns' && ctx.oversight?.extra instanceof Map && ctx.oversight?.extra?.qname instanceof String"),
    copy('dns_question_type', 'dns.question.type', 'oversight.extra.qtype',
      "ctx.oversight?.beacon_kind == 'dns' && ctx.oversight?.extra instanceof Map && ctx.oversight?.extra?.qtype instanceof String"),
    { pipeline: { tag: 'custom_pipeline', name: CUSTOM_PIPELINE, ignore_missing_pipeline: true } },
  ];
  return {
    description: 'Oversight beacon callbacks: ECS 9 alert fields, GeoIP, user agent; keeps every document',
    processors,
    on_failure: [
      set('failure_message', 'error.message',
        'Processor {{{_ingest.on_failure_processor_type}}} with tag {{{_ingest.on_failure_processor_tag}}} in pipeline {{{_ingest.on_failure_pipeline}}} failed with message: {{{_ingest.on_failure_message}}}'),
      tagDoc('failure_tag', 'pipeline_error'),
    ],
    _meta: { managed_by: 'oversight-siem', managed: true, oversight_siem_version: version },
  };
}
