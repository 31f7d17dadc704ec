/**
 * One exporter per state file. Two exporters on one checkpoint would send every event twice and overwrite each
 * other's progress, so the first takes `<state>.lock` (created exclusively, holding its pid) for its whole life
 * and removes it on the way out. A lock whose process is gone (kill -9, a crash, a reboot) is stale and is
 * taken over at once.
 */
import fs from 'node:fs';
import os from 'node:os';
import { ExportError, errorMessage } from '../shared/errors.js';

export class StateLock {
  private released = false;
  private readonly onExit = (): void => this.release();

  private constructor(readonly file: string) {
    process.once('exit', this.onExit);
  }

  static acquire(stateFile: string): StateLock {
    const file = `${stateFile}.lock`;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = fs.openSync(file, 'wx', 0o600);
        fs.writeSync(fd, `${process.pid} ${os.hostname()}\n`);
        fs.closeSync(fd);
        return new StateLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new ExportError(`cannot lock state file ${stateFile} (${file}): ${errorMessage(err)}`);
        }
      }
      const holder = readHolder(file);
      if (holder && holder.host !== os.hostname()) {
        throw new ExportError(
          `state file ${stateFile} is in use by an exporter on ${holder.host} (pid ${holder.pid}): stop it, or remove ${file} if it is gone`,
        );
      }
      if (holder && alive(holder.pid)) {
        throw new ExportError(
          `state file ${stateFile} is in use by another exporter (pid ${holder.pid}): stop it first, or give this one its own --state`,
        );
      }
      // Stale: its process is gone. Another starter may remove it at the same moment; the exclusive create decides.
      fs.rmSync(file, { force: true });
    }
    throw new ExportError(`cannot lock state file ${stateFile}: another exporter keeps taking ${file}`);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    process.off('exit', this.onExit);
    const holder = readHolder(this.file);
    if (holder?.pid === process.pid) fs.rmSync(this.file, { force: true });
  }
}

function readHolder(file: string): { pid: number; host: string } | null {
  try {
    const [pid, host] = fs.readFileSync(file, 'utf8').trim().split(/\s+/);
    return Number.isSafeInteger(Number(pid)) ? { pid: Number(pid), host: host ?? '' } : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process nobody has reaped yet (a container without an init) still answers signal 0, and a pid
  // reused by another program is no exporter: only a live process running the exporter holds the lock.
  try {
    if (/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))) return false;
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /oversight|cli\.js/.test(cmdline);
  } catch {
    return true;
  }
}
