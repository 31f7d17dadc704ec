/**
 * Syslog over TCP (RFC 6587) and TLS (RFC 5425), one RFC 5424 message per event. Frames are octet-counted by
 * default: `MSG-LEN SP SYSLOG-MSG`, the length in bytes and nothing after the frame; a wrong count or a trailing
 * newline makes syslog-ng drop the connection. `--syslog-framing lf` is for receivers that only split lines.
 * Plain syslog has no acknowledgements: a batch counts as delivered once the operating system took every byte.
 */
import { encode, type Encoder, type Entry } from '../encoder.js';
import { ConfigurationError } from '../errors.js';
import { parseCount, textFlag, type FlagSpec, type FlagValues } from '../flags.js';
import type { JsonFormatter } from '../formatters/index.js';
import type { NetworkError } from '../http-client.js';
import { DEFAULT_SD_ID, parseFacility, parseHostname, parseSdId, syslogWrap, type SyslogSettings } from '../syslog-message.js';
import { networkVerdict, type Transport, type Verdict } from '../transport.js';
import type { TransportDescription } from './describe.js';
import { DEFAULT_MAX_MESSAGE, lfEncoder, octetCountingEncoder, unsendable } from './syslog-frames.js';
import { Connection, endpoint, type Endpoint } from './syslog-socket.js';
import { SyslogUdpTransport } from './syslog-udp.js';

export const SYSLOG_FLAGS: readonly FlagSpec[] = [
  { flags: '--syslog-facility <name>', description: 'syslog facility: a name (local0-local7, daemon, …) or 0-23', default: 'local4' },
  { flags: '--syslog-sd-id <name@PEN>', description: 'SD-ID of the structured data element; use your IANA enterprise number', default: DEFAULT_SD_ID },
  { flags: '--syslog-hostname <name>', description: 'HOSTNAME in every message (default: this machine\'s name)' },
  { flags: '--syslog-max-message <bytes>', description: 'largest message sent; larger records go to the dead-letter file', default: String(DEFAULT_MAX_MESSAGE) },
];

const FRAMING_FLAG: FlagSpec = {
  flags: '--syslog-framing <mode>',
  description: 'TCP/TLS framing: octet-counting (RFC 6587) or lf (one message per line)',
  default: 'octet-counting',
  choices: ['octet-counting', 'lf'],
};

export function syslogSettings(flags: FlagValues): SyslogSettings {
  return {
    facility: parseFacility(textFlag(flags, 'syslogFacility') ?? 'local4'),
    sdId: parseSdId(textFlag(flags, 'syslogSdId') ?? DEFAULT_SD_ID),
    hostname: parseHostname(textFlag(flags, 'syslogHostname')),
  };
}

export function maxMessage(flags: FlagValues): number {
  return parseCount(textFlag(flags, 'syslogMaxMessage') ?? String(DEFAULT_MAX_MESSAGE), '--syslog-max-message', 480) ?? DEFAULT_MAX_MESSAGE;
}

export const wrapSyslog = (inner: JsonFormatter, settings: unknown): JsonFormatter => syslogWrap(inner, settings as SyslogSettings);

export class SyslogStreamTransport implements Transport {
  readonly name: string;
  readonly encoder: Encoder;
  readonly defaults = { maxEvents: 1000, maxBytes: 1_000_000 };
  readonly hardMaxBytes = Infinity;
  private readonly conn: Connection;

  constructor(ep: Endpoint, private readonly max: number, private readonly lf: boolean) {
    this.name = ep.tls ? 'syslog+tls' : 'syslog+tcp';
    this.encoder = lf ? lfEncoder : octetCountingEncoder;
    this.conn = new Connection(ep);
  }

  async send(entries: readonly Entry[], body: Buffer): Promise<Verdict> {
    const rejected = unsendable(entries, this.max, this.lf);
    const out = new Set(rejected.map((r) => r.index));
    const data = rejected.length === 0 ? body : encode(this.encoder, entries.filter((_, i) => !out.has(i)));
    try {
      if (!this.conn.open) await this.conn.connect();
      if (data.length > 0) await this.conn.write(data);
    } catch (err) {
      this.conn.drop();
      return networkVerdict(err as NetworkError);
    }
    if (rejected.length === 0) return { kind: 'delivered' };
    return { kind: 'partial', retry: [], rejected, reason: `${rejected.length} message(s) cannot be sent` };
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

function create(output: string, flags: FlagValues, http: Parameters<typeof endpoint>[3], log: (m: string) => void): Transport {
  const scheme = output.slice(0, output.indexOf(':')).toLowerCase();
  const max = maxMessage(flags);
  if (scheme === 'syslog+udp') {
    const udp = new SyslogUdpTransport(endpoint(output, 514, false, http), max);
    log('warning: syslog over UDP has no delivery guarantee; a full receive buffer or a lost datagram drops events ' +
      'silently, and the checkpoint still moves. Use relp:// or syslog+tls:// where loss matters.');
    return udp;
  }
  const lf = textFlag(flags, 'syslogFraming') === 'lf';
  if (scheme === 'syslog+tls') return new SyslogStreamTransport(endpoint(output, 6514, true, http), max, lf);
  if (scheme === 'syslog+tcp') return new SyslogStreamTransport(endpoint(output, 514, false, http), max, lf);
  throw new ConfigurationError(`--output ${output}: syslog URLs start with syslog+tcp://, syslog+tls:// or syslog+udp://`);
}

export const syslogTransport: TransportDescription = {
  name: 'syslog',
  summary: 'RFC 5424 syslog over TCP, TLS (RFC 5425) or UDP; CEF and LEEF as they are, other formats as JSON',
  schemes: ['syslog+tcp', 'syslog+tls', 'syslog+udp'],
  // What syslog-fed SIEMs (ArcSight, Sentinel's AMA, QRadar, Wazuh) parse without configuration.
  defaultFormat: 'cef',
  batch: { maxEvents: 1000, maxBytes: 1_000_000, hardMaxBytes: Infinity },
  flags: [...SYSLOG_FLAGS, FRAMING_FLAG],
  wrapSettings: (ctx) => syslogSettings(ctx.flags),
  wrap: wrapSyslog,
  create: (ctx) => create(ctx.output, ctx.flags, ctx.http, ctx.log),
};
