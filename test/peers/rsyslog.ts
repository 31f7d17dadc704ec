/**
 * A real rsyslog as a test receiver: private config, pid file and work directory in a temp folder, loopback
 * ports only, no system inputs (no imuxsock/imklog), started as our own child and stopped by its pid. Every
 * message it takes is written as one JSON line with rsyslog's own view of it: the RFC 5424 header fields and
 * the structured data as `mmpstrucdata` parses it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { FIXTURES, sleep, tempDir } from '../helpers.js';

const RSYSLOGD = ['/usr/sbin/rsyslogd', '/usr/local/sbin/rsyslogd'].find((p) => fs.existsSync(p)) ?? 'rsyslogd';
export const TLS_CERT = path.join(FIXTURES, 'tls', 'localhost.crt');
const TLS_KEY = path.join(FIXTURES, 'tls', 'localhost.key');

/** Why rsyslog cannot run here (a reason to skip), or null when it can, with imtcp, imrelp, gtls and mmpstrucdata. */
export function rsyslogMissing(): string | null {
  const v = spawnSync(RSYSLOGD, ['-v'], { encoding: 'utf8' });
  if (v.error || v.status !== 0) return 'rsyslogd not installed (apt-get install rsyslog rsyslog-gnutls rsyslog-relp)';
  const dirs = ['/usr/lib/x86_64-linux-gnu/rsyslog', '/usr/lib/aarch64-linux-gnu/rsyslog', '/usr/lib/rsyslog', '/usr/lib64/rsyslog'];
  for (const mod of ['imtcp', 'imrelp', 'lmnsd_gtls', 'mmpstrucdata']) {
    if (!dirs.some((d) => fs.existsSync(path.join(d, `${mod}.so`)))) return `rsyslog module ${mod} missing (apt-get install rsyslog-gnutls rsyslog-relp)`;
  }
  return null;
}

export interface RsyslogRecord {
  pri: number;
  facility: number;
  severity: number;
  version: string;
  timestamp: string;
  hostname: string;
  app_name: string;
  procid: string;
  msgid: string;
  structured_data: string;
  sd?: Record<string, Record<string, string>>;
  msg: string;
  input: string;
  /** With the `cef` option: liblognorm's parse of a CEF MSG. */
  cef?: { DeviceVendor: string; DeviceProduct: string; DeviceVersion: string; SignatureID: string; Name: string; Severity: string; Extensions: Record<string, string> };
}

/** A free loopback port (taken and released; rsyslog binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * With `cef`, rsyslog also parses a CEF MSG with mmnormalize (liblognorm's `cef` type) into `cef`. liblognorm
 * 2.0.6 drops the first character of the first extension key unless a space follows the header's last `|`
 * (rsyslog/liblognorm#363, fixed upstream, not in Debian 12), so it is given "<header> <extension>".
 */
const CEF_RULES = `  if ($msg startswith "CEF:") then {
    set $.cefhdr = re_extract($msg, "^(CEF:[0-9]+(\\\\|([^|\\\\\\\\]|\\\\\\\\.)*){6}\\\\|)(.*)", 0, 1, "");
    set $.cefext = re_extract($msg, "^(CEF:[0-9]+(\\\\|([^|\\\\\\\\]|\\\\\\\\.)*){6}\\\\|)(.*)", 0, 4, "");
    set $.cefin = $.cefhdr & " " & $.cefext;
    action(type="mmnormalize" rule=["rule=:%.:cef%"] variable="$.cefin" path="$!cef")
  }
`;

function config(dir: string, p: { tcp: number; tls: number; relp: number; udp: number }, maxMessage: number, cef: boolean): string {
  return `# Test receiver only: 127.0.0.1, private work dir, no system logging.
global(workDirectory="${dir}/work" maxMessageSize="${maxMessage}" net.enableDNS="off"
       parser.escapeControlCharactersOnReceive="off"
       defaultNetstreamDriverCAFile="${TLS_CERT}" defaultNetstreamDriverCertFile="${TLS_CERT}" defaultNetstreamDriverKeyFile="${TLS_KEY}")
# On SIGTERM, write out everything already taken (and acknowledged over RELP) instead of dropping it after 1.5 s.
main_queue(queue.timeoutShutdown="20000")
module(load="imtcp" maxSessions="50")
module(load="imrelp")
module(load="imudp")
module(load="mmpstrucdata")
${cef ? 'module(load="mmnormalize")\n' : ''}template(name="jsonl" type="string" string="%$!%\\n")
template(name="ts" type="string" string="%timereported:::date-rfc3339%")
ruleset(name="peer") {
  action(type="mmpstrucdata" sd_name.lowercase="off")
  if ($structured-data != "-") then { set $!sd = $!rfc5424-sd; }
  unset $!rfc5424-sd;
  set $!pri = cnum($pri);
  set $!facility = cnum($syslogfacility);
  set $!severity = cnum($syslogseverity);
  set $!version = $protocol-version;
  set $!timestamp = exec_template("ts");
  set $!hostname = $hostname;
  set $!app_name = $app-name;
  set $!procid = $procid;
  set $!msgid = $msgid;
  set $!structured_data = $structured-data;
  set $!msg = $msg;
  set $!input = $inputname;
${cef ? CEF_RULES : ''}  action(type="omfile" file="${dir}/out.jsonl" template="jsonl")
}
input(type="imtcp" address="127.0.0.1" port="${p.tcp}" ruleset="peer" name="tcp")
input(type="imtcp" address="127.0.0.1" port="${p.tls}" ruleset="peer" name="tls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon" gnutlsPriorityString="NORMAL")
input(type="imrelp" address="127.0.0.1" port="${p.relp}" ruleset="peer" name="relp")
# A large receive buffer, so a burst of datagrams is not dropped before rsyslog reads it.
input(type="imudp" address="127.0.0.1" port="${p.udp}" ruleset="peer" name="udp" rcvbufSize="4m")
`;
}

/** Ports in LISTEN state on 127.0.0.1, from /proc/net/tcp. */
function listening(): Set<number> {
  const out = new Set<number>();
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] === '0A' && f[1]?.startsWith('0100007F:')) out.add(parseInt(f[1].slice(9), 16));
  }
  return out;
}

export class Rsyslog {
  readonly dir = tempDir();
  readonly out = path.join(this.dir, 'out.jsonl');
  ports = { tcp: 0, tls: 0, relp: 0, udp: 0 };
  private child: ChildProcess | null = null;

  constructor(private readonly maxMessage = 8192, private readonly options: { cef?: boolean } = {}) {}

  async start(): Promise<this> {
    if (this.ports.tcp === 0) this.ports = { tcp: await freePort(), tls: await freePort(), relp: await freePort(), udp: await freePort() };
    fs.mkdirSync(path.join(this.dir, 'work'), { recursive: true });
    const conf = path.join(this.dir, 'rsyslog.conf');
    fs.writeFileSync(conf, config(this.dir, this.ports, this.maxMessage, this.options.cef ?? false));
    const log = fs.openSync(path.join(this.dir, 'rsyslogd.log'), 'a');
    const child = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', path.join(this.dir, 'rsyslogd.pid')], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.child = child;
    // TLS start-up generates DH parameters: up to a few seconds on a busy machine. Bounded wait.
    const end = Date.now() + 20_000;
    for (;;) {
      const l = listening();
      if (l.has(this.ports.tcp) && l.has(this.ports.tls) && l.has(this.ports.relp)) return this;
      if (child.exitCode !== null || Date.now() > end) {
        child.kill('SIGKILL');
        throw new Error(`rsyslogd did not start: ${fs.readFileSync(path.join(this.dir, 'rsyslogd.log'), 'utf8').slice(-2000)}`);
      }
      await sleep(20);
    }
  }

  /** SIGTERM by pid (rsyslog writes out what it has queued) and wait for the exit; SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const c = this.child;
    this.child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** What rsyslog wrote so far, one record per message. */
  records(): RsyslogRecord[] {
    if (!fs.existsSync(this.out)) return [];
    return fs.readFileSync(this.out, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as RsyslogRecord);
  }

  /** Wait (bounded) until `n` records are written, then a moment longer to catch any extra ones. */
  async waitRecords(n: number, timeoutMs = 20_000): Promise<RsyslogRecord[]> {
    const end = Date.now() + timeoutMs;
    while (this.count() < n && Date.now() < end) await sleep(25);
    await sleep(300);
    return this.records();
  }

  count(): number {
    if (!fs.existsSync(this.out)) return 0;
    const b = fs.readFileSync(this.out);
    let n = 0;
    for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
    return n;
  }

  log(): string {
    return fs.readFileSync(path.join(this.dir, 'rsyslogd.log'), 'utf8');
  }
}
