/**
 * A real syslog-ng as a second test receiver, the strictest about framing: its `syslog()` source drops the
 * connection on a frame whose length is off by one byte or that is followed by anything. Debian's syslog-ng and
 * rsyslog packages conflict, so it runs from an unpacked package (SYSLOG_NG_ROOT, default /opt/syslog-ng) or
 * from PATH. Private config, pid, persist and control files in a temp folder; stopped by pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sleep, tempDir } from '../helpers.js';
import { freePort, TLS_CERT, type RsyslogRecord } from './rsyslog.js';

const ROOT = process.env.SYSLOG_NG_ROOT ?? '/opt/syslog-ng';
const UNPACKED = path.join(ROOT, 'usr', 'sbin', 'syslog-ng');
const BIN = fs.existsSync(UNPACKED) ? UNPACKED : 'syslog-ng';
const ENV = fs.existsSync(UNPACKED) ? { ...process.env, LD_LIBRARY_PATH: path.join(ROOT, 'usr', 'lib', 'syslog-ng') } : process.env;
const MODULES = fs.existsSync(UNPACKED) ? ['--module-path', path.join(ROOT, 'usr', 'lib', 'syslog-ng', '3.38')] : [];

/** Why syslog-ng cannot run here, or null. */
export function syslogNgMissing(): string | null {
  const v = spawnSync(BIN, [...MODULES, '--version'], { env: ENV, encoding: 'utf8' });
  return v.error || v.status !== 0 ? `syslog-ng not available (see .ci/run: unpacked to ${ROOT}, as it conflicts with rsyslog)` : null;
}

export class SyslogNg {
  readonly dir = tempDir();
  readonly out = path.join(this.dir, 'out.jsonl');
  ports = { tcp: 0, tls: 0 };
  private child: ChildProcess | null = null;

  async start(): Promise<this> {
    this.ports = { tcp: await freePort(), tls: await freePort() };
    const key = path.join(path.dirname(TLS_CERT), 'localhost.key');
    const conf = path.join(this.dir, 'syslog-ng.conf');
    fs.writeFileSync(conf, `@version: 3.38
# Test receiver only: 127.0.0.1, private files, no system logging.
options { keep-hostname(yes); use-dns(no); dns-cache(no); keep-timestamp(yes); stats-freq(0); mark-freq(0); };
source s_tcp { syslog(ip("127.0.0.1") port(${this.ports.tcp}) transport("tcp")); };
source s_tls { syslog(ip("127.0.0.1") port(${this.ports.tls}) transport("tls") tls(key-file("${key}") cert-file("${TLS_CERT}") peer-verify(optional-untrusted))); };
destination d_json { file("${this.out}" template("$(format-json --scope none pri=int($PRI) facility=int($FACILITY_NUM) severity=int($LEVEL_NUM)
  timestamp=$ISODATE hostname=$HOST app_name=$PROGRAM procid=$PID msgid=$MSGID msg=$MESSAGE
  --key .SDATA.* --rekey .SDATA.* --shift 7 --add-prefix sd.)\\n")); };
log { source(s_tcp); source(s_tls); destination(d_json); flags(flow-control); };
`);
    const log = fs.openSync(path.join(this.dir, 'syslog-ng.log'), 'a');
    const file = (n: string): string => path.join(this.dir, n);
    this.child = spawn(BIN, [...MODULES, '-F', '-e', '--no-caps', '-f', conf, '-p', file('pid'), '-R', file('persist'), '-c', file('ctl')],
      { env: ENV, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const end = Date.now() + 20_000;
    for (;;) {
      const tcp = fs.readFileSync('/proc/net/tcp', 'utf8');
      const up = (p: number): boolean => tcp.includes(`0100007F:${p.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A`);
      if (up(this.ports.tcp) && up(this.ports.tls)) return this;
      if (this.child.exitCode !== null || Date.now() > end) {
        this.child.kill('SIGKILL');
        throw new Error(`syslog-ng did not start: ${fs.readFileSync(file('syslog-ng.log'), 'utf8').slice(-2000)}`);
      }
      await sleep(20);
    }
  }

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

  /** Records in rsyslog's shape (names as in the peer config), so one check serves both receivers. */
  records(): RsyslogRecord[] {
    if (!fs.existsSync(this.out)) return [];
    return fs.readFileSync(this.out, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as RsyslogRecord);
  }

  async waitRecords(n: number, timeoutMs = 20_000): Promise<RsyslogRecord[]> {
    const end = Date.now() + timeoutMs;
    while (this.records().length < n && Date.now() < end) await sleep(25);
    await sleep(300);
    return this.records();
  }

  log(): string {
    return fs.readFileSync(path.join(this.dir, 'syslog-ng.log'), 'utf8');
  }
}
