/**
 * Local outputs: JSON lines to stdout, or appended to a file. "Delivered" means written; with a checkpoint the
 * file is fsynced before the checkpoint moves. The file is opened in append mode and reopened when a log
 * rotator moves it away, so forwarders tailing it (Splunk UF, Azure Monitor Agent, Filebeat) see every line.
 * A file it creates gets --output-mode (0600 by default: records hold recipients and addresses), whatever the
 * umask. A named pipe is opened and written without blocking, so a pipe nobody reads cannot keep the process
 * from seeing SIGTERM.
 */
import fs from 'node:fs';
import { checkWritableFolder } from '../pipeline/checkpoint.js';
import { jsonLinesEncoder, type Entry } from '../pipeline/encoder.js';
import { ConfigurationError, ExportError, errorMessage } from '../shared/errors.js';
import { syncWritten } from '../shared/files.js';
import { option } from '../shared/options.js';
import type { CheckLine, Transport, Verdict } from './transport.js';
import type { TransportDescription } from './describe.js';

/** Big writes, few system calls; a file takes any size. */
const LOCAL_BATCH = { maxEvents: 10_000, maxBytes: 1 << 20, hardMaxBytes: Infinity };

/** `--output-mode`: octal permission bits, at most 0777 (no setuid, setgid or sticky bits on a data file). */
export function parseOutputMode(value: string): number {
  if (!/^0?[0-7]{3}$/.test(value.trim())) {
    throw new ConfigurationError(`--output-mode must be octal permission bits such as 0600 or 0640, not '${value}'`);
  }
  return parseInt(value.trim(), 8);
}

export class StdoutTransport implements Transport {
  readonly name = stdoutTransport.name;
  readonly encoder = jsonLinesEncoder;
  readonly defaults = LOCAL_BATCH;
  readonly hardMaxBytes = LOCAL_BATCH.hardMaxBytes;

  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  send(_entries: readonly Entry[], body: Buffer): Promise<Verdict> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new ExportError(`cannot write to stdout: ${errorMessage(err)}`));
      this.out.once('error', onError);
      this.out.write(body, (err) => {
        this.out.removeListener('error', onError);
        if (err) reject(new ExportError(`cannot write to stdout: ${errorMessage(err)}`));
        else resolve({ kind: 'delivered' });
      });
    });
  }

  async close(): Promise<void> {}
}

export class FileTransport implements Transport {
  readonly name = fileTransport.name;
  readonly encoder = jsonLinesEncoder;
  readonly defaults = LOCAL_BATCH;
  readonly hardMaxBytes = LOCAL_BATCH.hardMaxBytes;
  private fd: number | null = null;
  private inode = 0;
  /** A named pipe or device: opened and written without blocking (see `sendAsync`). */
  private pipeFd: number | null = null;
  private readonly special: boolean = false;

  /** The location was checked when the transport was made: say so for `siem check`. */
  async check(): Promise<CheckLine[]> {
    return [{ what: 'output file', ok: true, detail: `${this.path} can be written` }];
  }

  /** Checks the location now, so a bad path fails before anything is read or written. */
  constructor(
    readonly path: string,
    private readonly log: (message: string) => void = () => undefined,
    private readonly mode: number = DEFAULT_OUTPUT_MODE,
  ) {
    let st: fs.Stats | null = null;
    try {
      st = fs.statSync(path);
    } catch {
      checkWritableFolder(path, '--output');
      return;
    }
    if (st.isDirectory()) throw new ConfigurationError(`--output ${path} is a folder: name a file in it`);
    // A named pipe or device (/dev/null, a forwarder's FIFO) is written as it is; opening a FIFO here would block.
    if (!st.isFile()) {
      this.special = true;
      return;
    }
    try {
      fs.closeSync(fs.openSync(path, 'a'));
    } catch (err) {
      throw new ConfigurationError(`--output ${path} is not writable: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
    }
  }

  private open(): number {
    if (this.fd !== null) {
      // A rotator that renamed or removed the file leaves us writing to a ghost; follow the name instead.
      let current = -1;
      try { current = fs.statSync(this.path).ino; } catch { /* removed */ }
      if (current === this.inode) return this.fd;
      fs.closeSync(this.fd);
    }
    const first = this.inode === 0;
    // O_EXCL first, so only a file made here gets --output-mode, set exactly (the umask narrows open()'s mode).
    let created = true;
    try {
      this.fd = fs.openSync(this.path, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_EXCL, this.mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      created = false;
      this.fd = fs.openSync(this.path, 'a');
    }
    if (created) fs.fchmodSync(this.fd, this.mode);
    this.inode = fs.fstatSync(this.fd).ino;
    if (first) this.dropTornLine(this.fd);
    return this.fd;
  }

  /**
   * A run killed in the middle of a write can leave a partial last line. Those events are after the checkpoint
   * and will be written again, so the fragment is cut back to the last complete line rather than left to corrupt
   * the line appended after it. Readers that take whole lines (Filebeat, the Universal Forwarder) never saw it.
   */
  private dropTornLine(fd: number): void {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return;
    const rfd = fs.openSync(this.path, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      let end = size;
      while (end > 0) {
        const start = Math.max(0, end - buf.length);
        fs.readSync(rfd, buf, 0, end - start, start);
        const nl = buf.subarray(0, end - start).lastIndexOf(0x0a);
        if (nl >= 0) {
          end = start + nl + 1;
          break;
        }
        end = start;
      }
      if (end === size) return;
      fs.ftruncateSync(fd, end);
      this.log(`${this.path} ended in an incomplete line left by an interrupted run: removed its ${size - end} byte(s); those events are written again`);
    } finally {
      fs.closeSync(rfd);
    }
  }

  async send(_entries: readonly Entry[], body: Buffer): Promise<Verdict> {
    if (this.special) return this.sendAsync(body);
    try {
      const fd = this.open();
      let off = 0;
      while (off < body.length) off += fs.writeSync(fd, body, off);
    } catch (err) {
      throw new ExportError(`cannot write ${this.path}: ${errorMessage(err)}`);
    }
    return { kind: 'delivered' };
  }

  /**
   * A FIFO is opened and written without blocking: opening one with no reader fails at once (ENXIO) and the
   * attempt is retried like an unreachable SIEM, and a full pipe is waited on with timers. The main thread never
   * sits in a system call, so a stop signal is seen and --shutdown-timeout can always leave.
   */
  private async sendAsync(body: Buffer): Promise<Verdict> {
    try {
      if (this.pipeFd === null) {
        try {
          this.pipeFd = fs.openSync(this.path, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_NONBLOCK);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENXIO') return { kind: 'retry', reason: `no process reads the named pipe ${this.path}` };
          throw err;
        }
      }
      let off = 0;
      while (off < body.length) {
        try {
          off += fs.writeSync(this.pipeFd, body, off);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    } catch (err) {
      if (this.pipeFd !== null) fs.closeSync(this.pipeFd);
      this.pipeFd = null;
      // The reader went away: the whole batch is sent again once a reader is back.
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') return { kind: 'retry', reason: `the reader of ${this.path} went away` };
      throw new ExportError(`cannot write ${this.path}: ${errorMessage(err)}`);
    }
    return { kind: 'delivered' };
  }

  sync(): void {
    if (this.fd === null) return;
    syncWritten(this.fd, this.path);
  }

  async close(): Promise<void> {
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
    if (this.pipeFd !== null) fs.closeSync(this.pipeFd);
    this.pipeFd = null;
  }
}

const OUTPUT_MODE = option({
  flags: '--output-mode <octal>',
  description: 'permissions of an --output file the export creates (an existing file keeps its own)',
  default: '0600',
  parse: parseOutputMode,
});
/** Records are event data: readable by the exporter's user only unless asked otherwise. */
export const DEFAULT_OUTPUT_MODE = OUTPUT_MODE.read({})!;

export const stdoutTransport: TransportDescription = {
  name: 'stdout',
  summary: "'-': one record per line on stdout",
  local: 'stdout',
  batch: LOCAL_BATCH,
  create: () => new StdoutTransport(),
};

export const fileTransport: TransportDescription = {
  name: 'file',
  summary: 'a file path: one record per line, appended',
  local: 'file',
  batch: LOCAL_BATCH,
  flags: [OUTPUT_MODE],
  create: (ctx) => new FileTransport(ctx.output, ctx.log, OUTPUT_MODE.read(ctx.flags)!),
};
