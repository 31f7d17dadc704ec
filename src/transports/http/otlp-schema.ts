/**
 * The few OTLP messages the `otlp` transport writes and reads, described to protobufjs by hand: the logs
 * export request, its response, and the google.rpc.Status an error answer carries. Names and field numbers are
 * those of opentelemetry-proto (collector/logs/v1, logs/v1, common/v1, resource/v1) and googleapis'
 * rpc/status.proto; fields we never write (trace ids, entity refs, dropped counts) are left out, and a receiver
 * reads their absence as the default. Names are lowerCamelCase, as the OTLP JSON mapping spells them, so one
 * object shape serves both encodings.
 */
import protobuf from 'protobufjs';

const ANY_VALUE = {
  oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'] } },
  fields: {
    stringValue: { type: 'string', id: 1 },
    boolValue: { type: 'bool', id: 2 },
    intValue: { type: 'int64', id: 3 },
    doubleValue: { type: 'double', id: 4 },
    arrayValue: { type: 'ArrayValue', id: 5 },
    kvlistValue: { type: 'KeyValueList', id: 6 },
    bytesValue: { type: 'bytes', id: 7 },
  },
};

const root = protobuf.Root.fromJSON({
  nested: {
    otlp: {
      nested: {
        AnyValue: ANY_VALUE,
        ArrayValue: { fields: { values: { rule: 'repeated', type: 'AnyValue', id: 1 } } },
        KeyValueList: { fields: { values: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
        KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
        InstrumentationScope: {
          fields: {
            name: { type: 'string', id: 1 },
            version: { type: 'string', id: 2 },
            attributes: { rule: 'repeated', type: 'KeyValue', id: 3 },
          },
        },
        Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
        LogRecord: {
          fields: {
            timeUnixNano: { type: 'fixed64', id: 1 },
            severityNumber: { type: 'int32', id: 2 },
            severityText: { type: 'string', id: 3 },
            body: { type: 'AnyValue', id: 5 },
            attributes: { rule: 'repeated', type: 'KeyValue', id: 6 },
            observedTimeUnixNano: { type: 'fixed64', id: 11 },
            eventName: { type: 'string', id: 12 },
          },
        },
        ScopeLogs: {
          fields: {
            scope: { type: 'InstrumentationScope', id: 1 },
            logRecords: { rule: 'repeated', type: 'LogRecord', id: 2 },
            schemaUrl: { type: 'string', id: 3 },
          },
        },
        ResourceLogs: {
          fields: {
            resource: { type: 'Resource', id: 1 },
            scopeLogs: { rule: 'repeated', type: 'ScopeLogs', id: 2 },
            schemaUrl: { type: 'string', id: 3 },
          },
        },
        ExportLogsServiceRequest: { fields: { resourceLogs: { rule: 'repeated', type: 'ResourceLogs', id: 1 } } },
        ExportLogsPartialSuccess: {
          fields: { rejectedLogRecords: { type: 'int64', id: 1 }, errorMessage: { type: 'string', id: 2 } },
        },
        ExportLogsServiceResponse: { fields: { partialSuccess: { type: 'ExportLogsPartialSuccess', id: 1 } } },
        // google.rpc.Status; `details` (google.protobuf.Any) is skipped as an unknown field when read.
        Status: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 } } },
      },
    },
  },
});

const REQUEST = root.lookupType('otlp.ExportLogsServiceRequest');
const RESPONSE = root.lookupType('otlp.ExportLogsServiceResponse');
const STATUS = root.lookupType('otlp.Status');

/** A request in the OTLP JSON shape (int64 as decimal strings, enums as numbers), as protobuf bytes. */
export function encodeRequest(request: Record<string, unknown>): Buffer {
  const bytes = REQUEST.encode(REQUEST.fromObject(request)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export interface PartialSuccess {
  rejected: number;
  message: string;
}

/** Thrown for bytes that are not the message asked for. */
export class NotOtlp extends Error {}

/** The partial success of a protobuf ExportLogsServiceResponse (zero bytes are a valid, empty one). */
export function decodeResponse(bytes: Buffer): PartialSuccess {
  let obj: Record<string, unknown>;
  try {
    obj = RESPONSE.toObject(RESPONSE.decode(bytes), { longs: String }) as Record<string, unknown>;
  } catch (err) {
    throw new NotOtlp((err as Error).message);
  }
  return partial(obj['partialSuccess']);
}

/**
 * The partial success of a JSON ExportLogsServiceResponse. The JSON mapping writes int64 as a string but lets a
 * reader take a number too; field names are lowerCamelCase only (OTLP does not allow the proto names).
 */
export function decodeJsonResponse(text: string): PartialSuccess {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new NotOtlp('not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new NotOtlp('not a JSON object');
  return partial((v as Record<string, unknown>)['partialSuccess']);
}

function partial(p: unknown): PartialSuccess {
  if (p === undefined || p === null) return { rejected: 0, message: '' };
  if (typeof p !== 'object' || Array.isArray(p)) throw new NotOtlp('partialSuccess is not an object');
  const r = (p as Record<string, unknown>)['rejectedLogRecords'];
  const m = (p as Record<string, unknown>)['errorMessage'];
  const rejected = r === undefined || r === null ? 0 : typeof r === 'number' ? r : typeof r === 'string' && /^-?\d+$/.test(r) ? Number(r) : NaN;
  if (!Number.isSafeInteger(rejected) || rejected < 0) throw new NotOtlp(`rejectedLogRecords ${JSON.stringify(r)} is not a count`);
  if (m !== undefined && m !== null && typeof m !== 'string') throw new NotOtlp('errorMessage is not a string');
  return { rejected, message: typeof m === 'string' ? m : '' };
}

/**
 * The message of an error answer's google.rpc.Status, protobuf or JSON; null when the body is not one. `cut`: the
 * body is the start of a longer answer, which no decoder takes whole.
 */
export function statusMessage(body: Buffer, json: boolean, cut = false): string | null {
  try {
    if (json) {
      const v = JSON.parse(body.toString('utf8')) as { message?: unknown };
      return typeof v?.message === 'string' ? v.message : null;
    }
    const s = STATUS.toObject(STATUS.decode(body)) as { message?: string };
    return typeof s.message === 'string' && s.message !== '' ? s.message : null;
  } catch {
    return cut && !json ? cutStatusMessage(body) : null;
  }
}

/**
 * The start of the message of a Status cut short: encoders write fields in number order, so the code (1) and
 * the message (2) come before the details (3) that make a Status large. Null when field 2 does not begin there.
 */
function cutStatusMessage(body: Buffer): string | null {
  const r = protobuf.Reader.create(body);
  try {
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag === 0x12) {
        const len = r.uint32();
        return len > 0 ? body.subarray(r.pos, Math.min(r.pos + len, r.len)).toString('utf8') : null;
      }
      if (tag !== 0x08) return null;
      r.int32();
    }
  } catch {
    // A cut inside the code or the message's length: nothing of the message came.
  }
  return null;
}
