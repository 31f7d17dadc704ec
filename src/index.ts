/**
 * The library API. It mirrors the reference module (`OversightEvent`, `fromRegistryRow`, the formatters and
 * `FORMATTERS`, `sentinelAuthorization`, the sinks, `iterRegistryEvents`, `exportEvents`) and exposes the
 * delivery stages the CLI is built from.
 */
import type { BatchLimits } from './pipeline/batcher.js';
import type { OversightEvent } from './registry/event.js';
import type { SplunkHecOptions } from './records/formats/index.js';
import { HttpClient } from './transports/http/client.js';
import { HttpJsonTransport } from './transports/http/http.js';
import { FileTransport } from './transports/local.js';
import { StdoutTransport } from './transports/local.js';
import { runPipeline, type PipelineResult } from './pipeline/index.js';
import { eventFormatter, type RecordSpec } from './records/spec.js';
import { RETRY_DEFAULTS, type RetryOptions } from './pipeline/retry.js';
import type { Transport } from './transports/transport.js';

export * from './registry/event.js';
export * from './records/formats/index.js';
export { sentinelAuthorization, rfc1123, type SentinelAuthorizationInput } from './transports/http/sentinel-auth.js';
export { ClientCredential, TokenError, type ClientCredentialConfig } from './transports/http/azure-auth.js';
export { RegistrySource, iterRegistryEvents, type ReadOptions } from './registry/source.js';
export { quoteAscii, floatRepr, transcodePython, dumpsPython } from './registry/pyjson.js';
export { ConfigurationError, ExportError } from './shared/errors.js';
export { Batcher, type BatchLimits } from './pipeline/batcher.js';
export { jsonLinesEncoder, jsonArrayEncoder, hecEncoder, bulkEncoder, makeEntry, encode, type Encoder, type Entry } from './pipeline/encoder.js';
export { Checkpoint, writeAtomic, type CheckpointData } from './pipeline/checkpoint.js';
export { DeadLetterFile, readDeadLetters, type DeadLetter } from './pipeline/dead-letter.js';
export { Delivery, type DeliveryStats } from './pipeline/delivery.js';
export { HttpClient, NetworkError, type HttpOptions, type HttpResponse } from './transports/http/client.js';
export { RETRY_DEFAULTS, backoffDelay, parseRetryAfter, RetryBudget, type RetryOptions } from './pipeline/retry.js';
export { runPipeline, type PipelineOptions, type PipelineResult, type PreparedRecord } from './pipeline/index.js';
export { recordFormatter, eventFormatter, plainSpec, type RecordSpec, type EnvelopeSpec } from './records/spec.js';
export { parseHeaders, statusVerdict, type Transport, type Verdict, type Rejection, type AckSource } from './transports/transport.js';
export { StdoutTransport, FileTransport } from './transports/local.js';
export { HttpJsonTransport } from './transports/http/http.js';
export { SplunkHecTransport, classifyHecResponse, hecAckUrl } from './transports/http/splunk-hec.js';
export { ElasticsearchTransport, classifyBulkResponse, documentId, dataStreamName } from './transports/http/elasticsearch.js';
export { SentinelDcaTransport, classifySentinelResponse } from './transports/http/sentinel-dca.js';
export { LogsIngestionTransport, classifyLogsIngestionResponse, LOGS_INGESTION_MAX_BYTES } from './transports/http/azure-logs-ingestion.js';
export { createTransport, detectTransport, resolveTransport, REQUIRED_FORMAT, TRANSPORT_NAMES, TRANSPORTS, transportByName, type TransportDescription } from './transports/index.js';
export { writeDemoRegistry, DEMO_REGISTRY_ID } from './registry/demo.js';

/** The reference's sink names. */
export const StdoutSink = StdoutTransport;
export const FileSink = FileTransport;

/** The reference's `HTTPJSONSink(url, headers=…, timeout=10.0, verify=True)`, batched and retried. */
export function httpJsonSink(url: string, options: { headers?: Record<string, string>; timeoutMs?: number; verify?: boolean } = {}): HttpJsonTransport {
  return new HttpJsonTransport(url, options.headers ?? {}, new HttpClient({ timeoutMs: options.timeoutMs ?? 10_000, insecure: options.verify === false }));
}

/**
 * The reference's `export_events`: format events and push them through a sink (any transport). Returns how many
 * reached it. Batching, retries and dead letters work as in the CLI; there is no checkpoint. Records are made as
 * the CLI makes them: the sink's envelope (an RFC 5424 header for syslog and RELP) is added, and `spec` can name
 * format settings and privacy rules.
 */
export async function exportEvents(options: {
  events: Iterable<OversightEvent>;
  fmt: string;
  sink: Transport;
  splunkOptions?: SplunkHecOptions;
  spec?: Partial<Omit<RecordSpec, 'format'>>;
  limits?: Partial<BatchLimits>;
  retry?: Partial<RetryOptions>;
}): Promise<PipelineResult> {
  const formatter = eventFormatter({
    format: options.fmt,
    settings: options.spec?.settings ?? options.splunkOptions ?? {},
    envelope: options.spec?.envelope ?? options.sink.envelope ?? null,
    privacy: options.spec?.privacy ?? null,
  });
  const records = (function* () {
    for (const evt of options.events) {
      yield { rowid: evt.rowid, event_id: evt.event_id, registry_id: evt.registry_id, record: formatter(evt) };
    }
  })();
  return runPipeline({
    source: records,
    transport: options.sink,
    limits: { ...options.sink.defaults, ...options.limits },
    retry: { ...RETRY_DEFAULTS, ...options.retry },
  });
}
