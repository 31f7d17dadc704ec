/**
 * Request body compression for HTTP transports. Each transport names its default and whether its SIEM takes a
 * compressed body at all; this file only turns a body into what goes on the wire. Batch limits stay on the
 * uncompressed size: every SIEM here checks (or may check) its limit after decompressing.
 */
import { promisify } from 'node:util';
import { gzip as gzipCallback, constants } from 'node:zlib';
import { ConfigurationError } from './errors.js';

export const COMPRESSIONS = ['gzip', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

const gzip = promisify(gzipCallback);

/**
 * Level 6 (zlib's default, as the Azure SDK and Splunk's OpenTelemetry exporter use): on beacon records it
 * shrinks a body about a tenth further than level 1 for a few milliseconds per megabyte, which runs on the
 * thread pool (the async call), beside the formatting on the main thread.
 */
const LEVEL = constants.Z_DEFAULT_COMPRESSION;

export interface WireBody {
  body: Buffer;
  /** Headers to add: `content-encoding` when compressed. */
  headers: Record<string, string>;
}

export async function wireBody(body: Buffer, compression: Compression): Promise<WireBody> {
  if (compression === 'none') return { body, headers: {} };
  return { body: await gzip(body, { level: LEVEL }), headers: { 'content-encoding': 'gzip' } };
}

/** The compression a transport uses: what the user asked for, else the transport's default; refused where the SIEM cannot take it. */
export function chooseCompression(requested: Compression | null | undefined, transport: string, policy: { default: Compression; gzip: boolean; why?: string }): Compression {
  const c = requested ?? policy.default;
  if (c === 'gzip' && !policy.gzip) throw new ConfigurationError(`${transport} cannot take gzip bodies${policy.why ? ` (${policy.why})` : ''}: drop --compress gzip`);
  return c;
}
