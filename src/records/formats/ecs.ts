/** Elastic Common Schema 8.x document, field for field as the reference's `to_ecs`. */
import { actionForKind, ECS_VERSION, nestedExtra, SCHEMA_VERSION } from '../../registry/event.js';
import { kindCache, lastOf, memberJson, overEvents, quote, valueJson, type EventJson, type JsonFormatter, type RecordFormatter } from './fields.js';
import type { FormatDescription } from './format.js';

const EVENT_HEAD =
  '"ecs":{"version":"' + ECS_VERSION + '"},"event":{"kind":"event","category":["network"],' +
  '"type":["access","info"],"dataset":"oversight.beacon","module":"oversight","provider":"oversight-registry",' +
  '"action":';

/** The document's opening up to the action, with and without the time between. */
const OPEN_TIME = '{"@timestamp":"';
const HEAD_AFTER_TIME = '",' + EVENT_HEAD;
const HEAD_WITHOUT_TIME = '{' + EVENT_HEAD;
const OUTCOME = ',"outcome":"success"}';

export function ecsJsonFormatter(): JsonFormatter {
  const action = kindCache((kind) => quote(actionForKind(kind)));
  const kindJson = kindCache((kind) => valueJson(kind) ?? '');
  // `labels` closed and `oversight` opened up to its registry: fixed for a run.
  const oversightHead = lastOf((id) => `},"oversight":{"schema":"${SCHEMA_VERSION}"${id === '' ? '' : `,"registry_id":${quote(id)}`}`);
  return (e: EventJson): string => {
    // Token, file, recipient and issuer appear twice, under labels and under oversight.
    const kind = e.kind === '' ? null : kindJson(e.kind);
    // Fixed text is written out whole where values meet it: each closing brace goes with the opening after it.
    const head = e.occurredAt === '' ? HEAD_WITHOUT_TIME + action(e.kind) : OPEN_TIME + e.occurredAt + HEAD_AFTER_TIME + action(e.kind);
    const event = `${head}${memberJson(',"id":', e.idJson)}${
      e.sourceIp === null
        ? e.userAgent === null ? OUTCOME_LABELS : OUTCOME_AGENT + e.userAgent + CLOSE_LABELS
        : OUTCOME_SOURCE + e.sourceIp + (e.userAgent === null ? CLOSE_LABELS : CLOSE_AGENT + e.userAgent + CLOSE_LABELS)}`;
    const rest = `${memberJson(',"oversight_file_id":', e.file)}${
      memberJson(',"oversight_recipient_id":', e.recipient)}${memberJson(',"oversight_issuer_id":', e.issuer)}${memberJson(',"oversight_beacon_kind":', kind)}`;
    // The token is nearly always there to lead; only without it is the first comma cut (slice copies the text).
    // `labels` is not `or None` in the reference, so an empty `{}` stays in the document.
    const labels = e.token === null ? rest.slice(1) : `"oversight_token_id":${e.token}${rest}`;
    return `${event}${labels}${oversightHead(e.registryId)}${memberJson(',"token_id":', e.token)}${memberJson(',"file_id":', e.file)}${
      memberJson(',"recipient_id":', e.recipient)}${memberJson(',"issuer_id":', e.issuer)}${memberJson(',"beacon_kind":', kind)}${
      memberJson(',"tlog_index":', e.tlogIndex)}${memberJson(',"qualified_timestamp":', e.qualifiedTimestamp)}${
      e.extraJson === null ? '' : `,"extra":${nestedExtra(e.extraJson)}`}}}`;
  };
}

/** What follows the event id up to the labels' first member, for each of source and user agent there or not. */
const OUTCOME_LABELS = OUTCOME + ',"labels":{';
const OUTCOME_AGENT = OUTCOME + ',"user_agent":{"original":';
const OUTCOME_SOURCE = OUTCOME + ',"source":{"ip":';
const CLOSE_AGENT = '},"user_agent":{"original":';
const CLOSE_LABELS = '},"labels":{';

export function ecsFormatter(): RecordFormatter {
  return overEvents(ecsJsonFormatter());
}

export const ecsFormat: FormatDescription = {
  name: 'ecs',
  summary: 'Elastic Common Schema documents',
  records: 'json',
  create: () => ecsJsonFormatter(),
};
