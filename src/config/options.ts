/**
 * The options every delivering command shares, each with its default stated here and nowhere else. Formats and
 * transports declare their own options in their own files; the CLI, the environment variables, the config file
 * and the help are built from these lists.
 */
import { COMPRESSIONS } from '../transports/compress.js';
import { ConfigurationError } from '../shared/errors.js';
import { count, duration, listOption, option, switchOption } from '../shared/options.js';
import { LOG_FORMATS } from '../shared/log.js';
import { DEFAULT_MAX_ROW_BYTES, parseMaxRowBytes } from '../registry/rows.js';
import { DEFAULTS } from '../shared/defaults.js';
import { DEMO_MAX_EVENTS } from '../shared/defaults.js';

const oneOf = <T extends string>(choices: readonly T[]) => (value: string, flag: string): T => {
  if (!(choices as readonly string[]).includes(value)) throw new ConfigurationError(`${flag} must be one of ${choices.join(', ')}, not '${value}'`);
  return value as T;
};

/**
 * The most formatting threads taken. Each is a V8 heap of its own (up to 56 MB at the default row limit, see
 * docs/LIMITS-ROWS.md), and formatting gains nothing once every core has a thread: 16 covers the machines an
 * exporter runs on without letting a typo reserve gigabytes.
 */
const MAX_THREADS = 16;

/** Where records go and how: `siem export`, `siem replay`, `siem check`. */
export const DELIVERY = {
  output: option({
    flags: '--output <target>',
    description: "'-' for stdout (one record per line), a file path (lines appended), or a URL",
    default: DEFAULTS.output,
    group: 'common',
  }),
  transport: option({ flags: '--transport <name>', description: 'how to deliver to a URL; auto decides from the URL', default: DEFAULTS.transport, group: 'common' }),
  header: listOption({
    flags: '--header <header>',
    description: "extra HTTP header 'Name: value' (repeatable; visible in ps: prefer --header-file or the variables below)",
    group: 'common',
    secret: true,
  }),
  headerFile: option({
    flags: '--header-file <file>',
    description: "extra HTTP headers from a file, one 'Name: value' a line (credential:NAME reads a systemd credential)",
    group: 'common',
    secret: true,
  }),
  batchSize: option({ flags: '--batch-size <n>', description: 'events per request (same as --max-batch-events)', group: 'common', parse: count(1) }),
  maxBatchEvents: option({ flags: '--max-batch-events <n>', description: 'events per request (default per transport)', group: 'common', parse: count(1) }),
  maxBatchBytes: option({
    flags: '--max-batch-bytes <n>',
    description: 'bytes per request (default per transport, within the SIEM limit)',
    group: 'common',
    parse: count(1),
  }),
  retryMaxDuration: option({
    flags: '--retry-max-duration <duration>',
    description: 'how long one batch may be retried before the export fails (e.g. 90s, 5m)',
    default: DEFAULTS.retryMaxDuration,
    group: 'common',
    parse: duration,
  }),
  timeout: option({ flags: '--timeout <duration>', description: 'timeout of one request, and of any wait on the peer', default: DEFAULTS.timeout, group: 'common', parse: duration }),
  compress: option({
    flags: '--compress <codec>',
    description: 'request body compression (default: what the SIEM\'s own clients use)',
    choices: COMPRESSIONS,
    group: 'common',
    parse: oneOf(COMPRESSIONS),
  }),
  caFile: option({ flags: '--ca-file <pem>', description: 'trust this CA for the SIEM certificate', group: 'common' }),
  insecure: switchOption({ flags: '--insecure', description: 'do not verify the SIEM certificate (testing only)', default: false, group: 'common' }),
  deadLetter: option({ flags: '--dead-letter <file>', description: 'append records the SIEM refuses to this JSON-lines file and keep going', group: 'common' }),
  quiet: switchOption({ flags: '--quiet', description: 'print nothing but errors', default: false, group: 'common' }),
  logFormat: option({
    flags: '--log-format <format>',
    description: 'stderr lines as text, or one JSON object per line',
    default: DEFAULTS.logFormat,
    choices: LOG_FORMATS,
    group: 'common',
    parse: oneOf(LOG_FORMATS),
  }),
};

/** How an export hides personal data: `siem export`, and `siem verify`, which must know what the export wrote. */
export const PRIVACY = {
  pseudonymize: option({
    flags: '--pseudonymize <fields>',
    description: 'replace these fields by keyed pseudonyms: comma list of source_ip, recipient_id, issuer_id, user_agent, token_id',
    group: 'privacy',
  }),
  pseudonymKeyFile: option({
    flags: '--pseudonym-key-file <file>',
    description: 'file holding the secret pseudonym key (at least 32 bytes, mode 600)',
    group: 'privacy',
    secret: true,
  }),
  ipPrefix: option({ flags: '--ip-prefix <v4,v6>', description: 'keep only the network of source_ip: IPv4 and IPv6 prefix lengths, e.g. 24,64', group: 'privacy' }),
};

/** What `siem export` reads and how it runs. */
export const EXPORT = {
  db: option({ flags: '--db <path>', description: 'registry SQLite database (opened read-only)', group: 'common' }),
  registryId: option({
    flags: '--registry-id <id>',
    description: "the registry's identifier: its Ed25519 public key hex, or a short id of your choosing",
    group: 'common',
  }),
  format: option({ flags: '--format <fmt>', description: 'record format (default: the one the transport needs)', group: 'common' }),
  since: option({ flags: '--since <unix_ts>', description: 'only events whose timestamp is at or after this Unix time', group: 'common', parse: count(0) }),
  limit: option({ flags: '--limit <n>', description: 'export at most this many events', group: 'common', parse: count(0) }),
  maxRowBytes: option({
    flags: '--max-row-bytes <size>',
    description: `rows larger than this (stored bytes) are dead-lettered unformatted, or stop the export (e.g. 4MiB; default ${DEFAULT_MAX_ROW_BYTES >> 20}MiB)`,
    group: 'common',
    parse: (v) => parseMaxRowBytes(v),
  }),
  threads: option({
    flags: '--threads <n>',
    description: `threads that read and format a large export: 'auto' (two with a second core, none for a syslog receiver on this machine with one or two cores, one on one core for a file or stdout; without threads, a file, stdout or syslog export of 10,000 events or more is formatted in ranges by the export itself) or a number (1: none, record by record; at most ${MAX_THREADS})`,
    default: DEFAULTS.threads,
    group: 'common',
    parse: (v, flag) => {
      if (v === 'auto') return null;
      const n = count(1)(v, `${flag} (a number or 'auto')`);
      if (n > MAX_THREADS) throw new ConfigurationError(`${flag} must be at most ${MAX_THREADS} (each thread is a V8 heap of its own; 'auto' picks for this machine), not '${v}'`);
      return n;
    },
  }),
  preflight: switchOption({
    flags: '--no-preflight',
    description: 'skip the destination checks (siem check) a one-shot export makes before it sends',
    default: true,
    group: 'common',
  }),
  state: option({ flags: '--state <file>', description: 'checkpoint file: resume after the last event the SIEM acknowledged', group: 'service' }),
  follow: switchOption({ flags: '--follow', description: 'keep running and deliver new events as the registry records them', default: false, group: 'service' }),
  pollInterval: option({ flags: '--poll-interval <duration>', description: 'with --follow: how often to look for new events', default: DEFAULTS.pollInterval, group: 'service', parse: duration }),
  flushInterval: option({
    flags: '--flush-interval <duration>',
    description: 'with --follow: send a partial batch once it is this old',
    default: DEFAULTS.flushInterval,
    group: 'service',
    parse: duration,
  }),
  shutdownTimeout: option({
    flags: '--shutdown-timeout <duration>',
    description: 'on SIGTERM/SIGINT/SIGHUP: how long the request in flight may take before the process leaves anyway',
    default: DEFAULTS.shutdownTimeout,
    group: 'service',
    parse: duration,
  }),
  metricsListen: option({ flags: '--metrics-listen <host:port>', description: 'serve Prometheus /metrics and a JSON /healthz here (off by default)', group: 'service' }),
  healthStall: option({
    flags: '--health-stall <duration>',
    description: '/healthz answers 503 when events wait and nothing was delivered for this long',
    default: DEFAULTS.healthStall,
    group: 'service',
    parse: duration,
  }),
  verifyEvery: option({
    flags: '--verify-every <duration>',
    description: 'with --follow: check this often that the SIEM holds what was delivered (siem verify; gauges on /metrics)',
    group: 'service',
    parse: duration,
  }),
  ...PRIVACY,
};

/** `oversight demo`. */
export const DEMO = {
  db: option({ flags: '--db <path>', description: 'write the demo registry here and stop (a new file); without it, a temporary registry is exported' }),
  events: option({ flags: '--events <n>', description: `number of events (at most ${DEMO_MAX_EVENTS})`, default: DEFAULTS.demo.events, parse: count(1) }),
  seed: option({ flags: '--seed <n>', description: 'random seed (the same seed gives the same registry)', default: DEFAULTS.demo.seed, parse: count(0) }),
  format: option({ flags: '--format <fmt>', description: 'format of the export', default: DEFAULTS.demo.format }),
  output: option({ flags: '--output <target>', description: "where the export goes: '-' for stdout or a file path", default: DEFAULTS.output }),
};

/** `siem replay`: the dead-letter file it reads, and where records refused again go. */
export const REPLAY = {
  input: option({ flags: '--dead-letter <file>', description: 'dead-letter file to read (it is left as it is)', group: 'common' }),
  output: option({ flags: '--dead-letter-out <file>', description: 'append records refused again to this file and keep going', group: 'common' }),
};
