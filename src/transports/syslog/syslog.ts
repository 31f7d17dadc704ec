/**
 * Syslog over TCP (RFC 6587) and TLS (RFC 5425), one RFC 5424 message per event. Frames are octet-counted by
 * default: `MSG-LEN SP SYSLOG-MSG`, the length in bytes and nothing after the frame; a wrong count or a trailing
 * newline makes syslog-ng drop the connection. `--syslog-framing lf` is for receivers that only split lines.
 * Plain syslog has no acknowledgements: a batch counts as delivered once the operating system took every byte.
 */
import { encode, type Encoder, type Entry } from '../../pipeline/encoder.js';
import { ConfigurationError } from '../../shared/errors.js';
import { count, option, type FlagSpec, type FlagValues } from '../../shared/options.js';
import type { NetworkError } from '../http/client.js';
import type { EnvelopeSpec } from '../../records/spec.js';
import { DEFAULT_SD_ID, parseFacility, parseHostname, parseSdId } from '../../records/rfc5424.js';
import { networkVerdict, type CheckLine, type StreamFraming, type Transport, type Verdict } from '../transport.js';
import type { TransportDescription } from '../describe.js';
import { DEFAULT_MAX_MESSAGE, lfEncoder, messageRefusal, octetCountingEncoder, SYSLOG_BATCH, unsendable } from './syslog-frames.js';
import { onThisMachine } from '../../shared/this-machine.js';
import { Connection, endpoint, type Endpoint } from './syslog-socket.js';
import { SyslogUdpTransport } from './syslog-udp.js';

/** The options of the syslog family (syslog and RELP share them), each read through its spec. */
export const SYSLOG_OPTIONS = {
  facility: option({
    flags: '--syslog-facility <name>',
    description: 'syslog facility: a name (local0-local7, daemon, …) or 0-23',
    default: 'local4',
    parse: parseFacility,
  }),
  sdId: option({
    flags: '--syslog-sd-id <name@PEN>',
    description: 'SD-ID of the structured data element; use your IANA enterprise number',
    default: DEFAULT_SD_ID,
    parse: parseSdId,
  }),
  hostname: option({ flags: '--syslog-hostname <name>', description: "HOSTNAME in every message (default: this machine's name)" }),
  maxMessage: option({
    flags: '--syslog-max-message <bytes>',
    description: 'largest message sent; larger records go to the dead-letter file',
    default: String(DEFAULT_MAX_MESSAGE),
    parse: count(480),
  }),
};
export const SYSLOG_FLAGS: readonly FlagSpec[] = Object.values(SYSLOG_OPTIONS);

const FRAMING = option({
  flags: '--syslog-framing <mode>',
  description: 'TCP/TLS framing: octet-counting (RFC 6587) or lf (one message per line)',
  default: 'octet-counting',
  choices: ['octet-counting', 'lf'],
});

/** The RFC 5424 header every message of the family carries, built in the record stage (see records/spec.ts). */
export function syslogEnvelope(flags: FlagValues): EnvelopeSpec {
  return {
    kind: 'rfc5424',
    settings: {
      facility: SYSLOG_OPTIONS.facility.read(flags)!,
      sdId: SYSLOG_OPTIONS.sdId.read(flags)!,
      hostname: parseHostname(SYSLOG_OPTIONS.hostname.read(flags)),
    },
  };
}

export function maxMessage(flags: FlagValues): number {
  return SYSLOG_OPTIONS.maxMessage.read(flags)!;
}

export class SyslogStreamTransport implements Transport {
  readonly name: string;
  readonly encoder: Encoder;
  readonly defaults = SYSLOG_BATCH;
  readonly hardMaxBytes = SYSLOG_BATCH.hardMaxBytes;
  /** One byte stream with nothing to answer: a large export's formatting threads frame the messages themselves. */
  readonly stream: StreamFraming;
  private readonly conn: Connection;

  constructor(ep: Endpoint, private readonly max: number, private readonly lf: boolean) {
    this.name = ep.tls ? 'syslog+tls' : 'syslog+tcp';
    this.encoder = lf ? lfEncoder : octetCountingEncoder;
    this.conn = new Connection(ep);
    this.stream = {
      framing: lf ? 'lf' : 'octet-counting',
      maxMessage: max,
      // The threads leave a record out by these same two rules, so one of them always applies.
      refusal: (record) => messageRefusal(Buffer.byteLength(record), () => record.includes('\n'), max, lf) ?? { status: 400, error: 'message cannot be framed for this receiver' },
      receiverHere: onThisMachine(ep.host),
    };
  }

  /** A connection (and its TLS handshake) made and closed: plain syslog has nothing more to ask. */
  async check(): Promise<CheckLine[]> {
    await this.conn.connect();
    await this.conn.close();
    return [{ what: this.name === 'syslog+tls' ? 'TLS connection' : 'TCP connection', ok: true, detail: 'made (syslog has no acknowledgements: use relp:// where loss matters)' }];
  }

  /**
   * With messages the receiver cannot take, only those before the first of them are written: an export without
   * a dead-letter file stops at it, and what followed must not have reached the receiver already (it would
   * arrive twice after a restart). The rest goes again at once, as HEC's unread events do.
   */
  async send(entries: readonly Entry[], body: Buffer): Promise<Verdict> {
    const rejected = unsendable(entries, this.max, this.lf);
    const first = rejected.length === 0 ? entries.length : rejected[0]!.index;
    const data = rejected.length === 0 ? body : encode(this.encoder, entries.slice(0, first));
    try {
      if (this.early !== null) await this.ahead();
      if (!this.conn.open) await this.conn.connect();
      if (data.length > 0) await this.conn.write(data);
    } catch (err) {
      this.conn.drop();
      return networkVerdict(err as NetworkError);
    }
    if (rejected.length === 0) return { kind: 'delivered' };
    const out = new Set(rejected.map((r) => r.index));
    const retry: number[] = [];
    for (let i = first + 1; i < entries.length; i++) if (!out.has(i)) retry.push(i);
    return { kind: 'partial', retry, rejected, unexamined: true, reason: `${rejected.length} message(s) cannot be sent` };
  }

  /** A connection made before the first send (connectAhead); a failure is met again by that send's own connect. */
  private early: Promise<void> | null = null;

  connectAhead(): void {
    if (this.early === null && !this.conn.open) this.early = this.conn.connect().catch(() => undefined);
  }

  private async ahead(): Promise<void> {
    const early = this.early;
    this.early = null;
    await early;
  }

  async close(): Promise<void> {
    await this.ahead();
    return this.conn.close();
  }
}

function create(output: string, flags: FlagValues, http: Parameters<typeof endpoint>[3], log: (m: string) => void): Transport {
  const scheme = output.slice(0, output.indexOf(':')).toLowerCase();
  const max = maxMessage(flags);
  if (scheme === 'syslog+udp') {
    const udp = new SyslogUdpTransport(endpoint(output, 514, false, http), max);
    log('warning: syslog over UDP has no delivery guarantee; a full receive buffer or a lost datagram drops events ' +
      'silently, and the checkpoint still moves. Where loss matters use relp:// (acknowledged) or the SIEM\'s HTTP API.');
    return udp;
  }
  const lf = FRAMING.read(flags) === 'lf';
  if (scheme === 'syslog+tls') return new SyslogStreamTransport(endpoint(output, 6514, true, http), max, lf);
  if (scheme === 'syslog+tcp') return new SyslogStreamTransport(endpoint(output, 514, false, http), max, lf);
  throw new ConfigurationError(`--output ${output}: syslog URLs start with syslog+tcp://, syslog+tls:// or syslog+udp://`);
}

export const syslogTransport: TransportDescription = {
  name: 'syslog',
  summary: 'RFC 5424 syslog over TCP, TLS (RFC 5425) or UDP; CEF and LEEF as they are, other formats as JSON',
  schemes: ['syslog+tcp', 'syslog+tls', 'syslog+udp'],
  credentials: 'syslog takes no credentials',
  // What syslog-fed SIEMs (ArcSight, Sentinel's AMA, QRadar, Wazuh) parse without configuration.
  defaultFormat: 'cef',
  batch: SYSLOG_BATCH,
  flags: [...SYSLOG_FLAGS, FRAMING],
  envelope: syslogEnvelope,
  create: (ctx) => create(ctx.output, ctx.flags, ctx.http, ctx.log),
};
