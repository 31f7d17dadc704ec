/**
 * One exporter per state file. Two exporters on one checkpoint would send every event twice and overwrite each
 * other's progress, so the first takes `<state>.lock` (holding its pid and host) for its whole life and removes
 * it on the way out. The lock sits beside the file the state path really leads to, so two names of one state
 * file (a symbolic link) take one lock. A lock whose process is gone (kill -9, a crash, a reboot) is stale and
 * is taken over at once.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkWritableFolder } from '../pipeline/checkpoint.js';
import { ExportError, errorMessage } from '../shared/errors.js';
import { readBounded, realTarget } from '../shared/files.js';
import { log } from '../shared/log.js';

/**
 * An empty or unreadable lock younger than this may be an older exporter's, created and not yet written: it is
 * left alone. An older one was left by a crash or a full disk between the two steps, and is taken over.
 */
const UNREADABLE_STALE_MS = 5000;

type Holder = { pid: number; host: string } | 'unreadable' | 'gone';

export class StateLock {
  private released = false;
  private readonly onExit = (): void => this.release();

  private constructor(readonly file: string) {
    process.once('exit', this.onExit);
  }

  static acquire(stateFile: string): StateLock {
    const target = realTarget(stateFile);
    checkWritableFolder(target, '--state');
    const file = `${target}.lock`;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (create(file, stateFile)) return new StateLock(file);
      const holder = readHolder(file);
      if (holder === 'gone') continue;
      if (holder === 'unreadable') {
        const age = ageMs(file);
        if (age === null) continue;
        if (age < UNREADABLE_STALE_MS) {
          throw new ExportError(
            `state file ${stateFile}: its lock ${file} is empty or unreadable (an exporter taking it this moment, or one that crashed while taking it): try again in a few seconds, or remove ${file} if no exporter runs`,
          );
        }
        log.warn(`taking over the lock ${file}: it is empty or unreadable and ${Math.round(age / 1000)}s old, left by an exporter that stopped while taking it`, { lock: file });
      } else if (holder.host !== os.hostname()) {
        throw new ExportError(
          `state file ${stateFile} is in use by an exporter on ${holder.host} (pid ${holder.pid}): stop it, or remove ${file} if it is gone`,
        );
      } else if (alive(holder.pid)) {
        throw new ExportError(
          `state file ${stateFile} is in use by another exporter (pid ${holder.pid}): stop it first, or give this one its own --state`,
        );
      }
      // Stale: its process is gone. Another starter may remove it at the same moment; the exclusive create decides.
      try {
        fs.rmSync(file, { force: true });
      } catch (err) {
        throw new ExportError(`cannot remove the stale lock ${file} of state file ${stateFile}: ${errorMessage(err)}; remove it by hand`);
      }
    }
    throw new ExportError(`cannot lock state file ${stateFile}: another exporter keeps taking ${file}`);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    process.off('exit', this.onExit);
    const holder = readHolder(this.file);
    if (typeof holder === 'object' && holder.pid === process.pid) fs.rmSync(this.file, { force: true });
  }
}

/**
 * Create the lock with its content in one step, so no one ever reads it empty: the content goes into a file of
 * its own, which is then linked to the lock's name (atomic, and refused when the name is taken). False when
 * the lock is taken.
 */
function create(file: string, stateFile: string): boolean {
  const content = `${process.pid} ${os.hostname()}\n`;
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
  try {
    fs.writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
    try {
      fs.linkSync(tmp, file);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    }
    // A file system without hard links (FAT, some network shares): an exclusive create, written at once.
    let fd: number;
    try {
      fd = fs.openSync(file, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    try {
      fs.writeSync(fd, content);
    } finally {
      fs.closeSync(fd);
    }
    return true;
  } catch (err) {
    throw new ExportError(`cannot lock state file ${stateFile} (${file}): ${errorMessage(err)}`);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Who holds the lock: its pid and host, or 'unreadable' (empty, torn, not a lock), or 'gone' since. */
function readHolder(file: string): Holder {
  let text: string;
  try {
    const bytes = readBounded(file, 'state lock', 1024, 'remove it');
    if (bytes === null) return 'gone';
    text = bytes.toString('utf8');
  } catch {
    return 'unreadable';
  }
  const m = /^(\d+) (\S+)\n?$/.exec(text);
  const pid = m ? Number(m[1]) : 0;
  return m && Number.isSafeInteger(pid) && pid > 0 ? { pid, host: m[2]! } : 'unreadable';
}

/** How long ago the lock was last written, or null when it is gone. */
function ageMs(file: string): number | null {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
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
