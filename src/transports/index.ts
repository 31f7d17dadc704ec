/**
 * The transport registry: every transport, one line each. Which transport an `--output` gets, which record
 * formats it carries, its flags and batch defaults all come from the descriptions listed here.
 */
import type { Compression } from './compress.js';
import { ConfigurationError, maskUrl, maskUserinfoLoosely } from '../shared/errors.js';
import { refuseUrlCredentials } from '../shared/url-credentials.js';
import { DEFAULTS } from '../shared/defaults.js';
import { parseDuration, withDefaults, type FlagValues } from '../shared/options.js';
import { FORMAT_NAMES, formatByName, type FormatDescription } from '../records/formats/index.js';
import type { HttpOptions } from './http/client.js';
import type { Transport } from './transport.js';
import { logsIngestionTransport } from './http/azure-logs-ingestion.js';
import type { TransportContext, TransportDescription } from './describe.js';
import { elasticsearchTransport } from './http/elasticsearch.js';
import { httpTransport } from './http/http.js';
import { otlpTransport } from './http/otlp.js';
import { fileTransport, stdoutTransport } from './local.js';
import { sentinelDcaTransport } from './http/sentinel-dca.js';
import { splunkHecTransport } from './http/splunk-hec.js';
import { relpTransport } from './syslog/relp.js';
import { syslogTransport } from './syslog/syslog.js';

export const TRANSPORTS: readonly TransportDescription[] = [
  stdoutTransport,
  fileTransport,
  httpTransport,
  splunkHecTransport,
  elasticsearchTransport,
  sentinelDcaTransport,
  logsIngestionTransport,
  syslogTransport, relpTransport,
  otlpTransport,
];

export type { TransportContext, TransportDescription } from './describe.js';

/** `--transport` choices: auto, then every transport a URL can name. */
export const TRANSPORT_NAMES: readonly string[] = ['auto', ...TRANSPORTS.filter((t) => !t.local).map((t) => t.name)];
export type TransportName = string;

/** Every URL scheme some transport takes, as `scheme://`. */
export const URL_SCHEMES: readonly string[] = [...new Set(TRANSPORTS.flatMap((t) => t.schemes ?? []))].map((s) => `${s}://`);

export function transportByName(name: string): TransportDescription {
  const t = TRANSPORTS.find((d) => d.name === name);
  if (!t) throw new ConfigurationError(`unknown transport '${name}' (choices: ${TRANSPORT_NAMES.join(', ')})`);
  return t;
}

function schemeOf(output: string): string | null {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(output);
  return m ? m[1]!.toLowerCase() : null;
}

function takes(t: TransportDescription, scheme: string): boolean {
  return t.schemes?.includes(scheme) ?? false;
}

export function isUrl(output: string): boolean {
  const scheme = schemeOf(output);
  return scheme !== null && TRANSPORTS.some((t) => takes(t, scheme));
}

/** What `auto` picks for a URL: the first transport that recognizes it, else its scheme's catch-all. */
export function detectTransport(url: string): TransportName {
  const u = new URL(url);
  const scheme = u.protocol.slice(0, -1).toLowerCase();
  const candidates = TRANSPORTS.filter((t) => takes(t, scheme));
  const hit = candidates.find((t) => t.detect?.(u)) ?? candidates.find((t) => !t.detect);
  if (!hit) throw new ConfigurationError(`--output ${maskUrl(url)}: no transport recognizes this ${scheme}:// URL; name one with --transport`);
  return hit.name;
}

function schemeList(t: TransportDescription): string {
  const s = t.schemes ?? [];
  return s.join(',') === 'http,https' ? 'an http(s)://' : `a ${s.map((x) => `${x}://`).join(' or ')}`;
}

export function resolveTransport(output: string, requested: string): TransportName {
  const scheme = schemeOf(output);
  if (scheme === null || !isUrl(output)) {
    if (scheme !== null) {
      const others = URL_SCHEMES.filter((s) => s !== 'http://' && s !== 'https://');
      throw new ConfigurationError(
        `--output ${maskUserinfoLoosely(output)}: only http:// and https:// URLs are supported${others.length ? ` (and ${others.join(', ')})` : ''}`,
      );
    }
    if (requested !== 'auto') throw new ConfigurationError(`--transport ${requested} needs ${schemeList(transportByName(requested))} URL as --output`);
    return output === '-' ? 'stdout' : 'file';
  }
  try {
    new URL(output);
  } catch {
    throw new ConfigurationError(`--output ${maskUserinfoLoosely(output)} is not a valid URL`);
  }
  const named = requested === 'auto' ? detectTransport(output) : requested;
  refuseUrlCredentials('--output', output, transportByName(named).credentials ?? 'an Authorization header goes in --header-file');
  for (const t of TRANSPORTS) if (takes(t, scheme)) t.vetUrl?.(output);
  if (requested === 'auto') return named;
  const t = transportByName(requested);
  if (!takes(t, scheme)) throw new ConfigurationError(`--transport ${requested} needs ${schemeList(t)} URL as --output`);
  return t.name;
}

/** The format a transport gets: the one asked for, checked against what it carries, or its default. */
export function chooseFormat(t: TransportDescription, asked: string | null, askedByFlag: boolean): FormatDescription {
  const fmt = asked ?? t.format ?? t.defaultFormat ?? null;
  if (!fmt) throw new ConfigurationError(`--format is required (choices: ${formatChoices(t).join(', ')})`);
  const allowed = formatChoices(t);
  if (!allowed.includes(fmt)) {
    const fix = askedByFlag ? `use --format ${allowed.length === 1 ? allowed[0] : `${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}`}` : 'check the input';
    throw new ConfigurationError(`${t.name} carries ${allowed.join('/')} records, not ${fmt}: ${fix} or another --transport`);
  }
  return formatByName(fmt);
}

function formatChoices(t: TransportDescription): string[] {
  if (t.format) return [t.format];
  return [...(t.accepts ?? FORMAT_NAMES)];
}

export interface TransportSettings {
  output: string;
  /** A name from `resolveTransport`. */
  transport: TransportName;
  /** Flag values by attribute name (`esIndex`, `splunkAck`, …); each transport's defaults fill the gaps. */
  flags?: FlagValues;
  headers?: Record<string, string>;
  http?: HttpOptions;
  /** The record format (default: the one the transport needs or prefers, else JSON lines of `ecs`). */
  format?: string;
  /** `--compress`: null for the transport's own default. */
  compress?: Compression | null;
  env?: NodeJS.ProcessEnv;
  log?: (message: string) => void;
}

export function createTransport(s: TransportSettings): Transport {
  const t = transportByName(s.transport);
  const flags = withDefaults(t.flags ?? [], s.flags ?? {});
  const ctx: TransportContext = {
    output: s.output,
    flags,
    headers: s.headers ?? {},
    http: s.http ?? { timeoutMs: parseDuration(DEFAULTS.timeout, '--timeout') },
    format: formatByName(s.format ?? t.format ?? t.defaultFormat ?? DEFAULTS.format),
    compress: s.compress ?? null,
    env: s.env ?? process.env,
    log: s.log ?? (() => undefined),
  };
  return instantiate(t, ctx);
}

/** A transport built from its description; its envelope travels with it, so whoever formats for it adds it. */
export function instantiate(t: TransportDescription, ctx: TransportContext): Transport {
  const transport = t.create(ctx);
  if (t.envelope) Object.defineProperty(transport, 'envelope', { value: t.envelope(ctx.flags), enumerable: true });
  return transport;
}

/** The reference's name for a transport's required format, kept for library callers. */
export const REQUIRED_FORMAT: Readonly<Record<string, string>> = Object.fromEntries(
  TRANSPORTS.filter((t) => t.format).map((t) => [t.name, t.format!]),
);
