/**
 * The shape of an Elasticsearch `_bulk` answer, checked in full before anything in it is believed: `errors` a
 * boolean and `items` one result per document sent, each an object with one action whose value has an HTTP
 * status. Elasticsearch always answers so (the exporter's `filter_path` keeps exactly those fields), so an answer
 * of any other shape came from something else, and nothing in it says the documents are in.
 */

import { redact } from '../../shared/errors.js';

/** One document's result, as far as the exporter reads it. */
export interface BulkItem {
  status: number;
  /** The error's `type` (`security_exception`, `mapper_parsing_exception`…), which says whose the failure is. */
  type: string | null;
  /** Elasticsearch's words for a failed item, secrets masked, bounded. */
  error: string | null;
  /** `used` when the document failed the stream's mapping or pipeline and went to its failure store instead. */
  failureStore: string | null;
}

const ACTIONS = new Set(['create', 'index', 'update', 'delete']);
/** Enough of an item's error for a dead letter or a message; the rest is Elasticsearch's stack of causes. */
const MAX_ERROR = 1000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Item results for `count` documents, or what is wrong with the answer, in a few words. */
export function readBulkAnswer(body: string, count: number): BulkItem[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 'not JSON';
  }
  if (!isObject(parsed)) return `not a JSON object but ${describe(parsed)}`;
  if (typeof parsed['errors'] !== 'boolean') return '"errors" is not true or false';
  const items = parsed['items'];
  if (!Array.isArray(items)) return 'no "items"';
  if (items.length !== count) return `${items.length} item result(s) for ${count} document(s)`;
  const out: BulkItem[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = readItem(items[i]);
    if (typeof item === 'string') return `item ${i} ${item}`;
    out.push(item);
  }
  return out;
}

function readItem(wrapper: unknown): BulkItem | string {
  if (!isObject(wrapper)) return `is ${describe(wrapper)}, not an object`;
  const keys = Object.keys(wrapper);
  if (keys.length !== 1 || !ACTIONS.has(keys[0]!)) return 'is not one create, index, update or delete result';
  const r = wrapper[keys[0]!];
  if (!isObject(r)) return `has ${describe(r)} for its result`;
  const status = r['status'];
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) return 'has no HTTP status';
  const failureStore = r['failure_store'];
  if (failureStore !== undefined && typeof failureStore !== 'string') return 'has a "failure_store" that is not a string';
  const error = r['error'];
  const type = isObject(error) && typeof error['type'] === 'string' ? error['type'] : null;
  return { status, type, error: errorText(error), failureStore: failureStore ?? null };
}

/** `type: reason` of an item's error object, or its text; whatever else it holds is shown as JSON. */
function errorText(e: unknown): string | null {
  if (e === undefined || e === null) return null;
  let text: string;
  if (typeof e === 'string') text = e;
  else if (isObject(e) && (typeof e['type'] === 'string' || typeof e['reason'] === 'string')) {
    text = [e['type'], e['reason']].filter((s): s is string => typeof s === 'string' && s !== '').join(': ');
  } else text = JSON.stringify(e);
  // Masked whole before it is cut: a secret the peer echoed across the cut would otherwise keep its first part,
  // which no later masking can recognise. The text is bounded by the answer, which the client reads at most 16 MiB of.
  const masked = redact(text);
  return masked.length > MAX_ERROR ? `${masked.slice(0, MAX_ERROR)}…` : masked;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return `${typeof v === 'object' ? 'an' : 'a'} ${typeof v}`;
}
