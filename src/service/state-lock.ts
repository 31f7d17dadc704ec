/**
 * One exporter per state file. Two exporters on one checkpoint would send every event twice and overwrite each
 * other's progress, so the first takes `<state>.lock` (holding its pid and host) for its whole life and removes
 * it on the way out. The lock sits beside the file the state path really leads to, so two names of one state
 * file (a symbolic link) take one lock. A lock whose process is gone (kill -9, a crash, a reboot) is stale and
 * is taken over at once, by one exporter only when several start together (see takeOver).
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

/** How long to wait for another exporter's takeover of a stale lock, which takes a moment, to end. */
const TAKEOVER_WAIT_MS = 2000;

type Holder = { pid: number; host: string } | 'unreadable' | 'gone';

export class StateLock {
  private released = false;
  private readonly onExit = (): void => this.release();

  private constructor(readonly file: string) {
    process.once('exit', this.onExit);
  }

  /**
   * `beforeTakeover` runs once a lock has been judged stale, before it is taken over: tests use it to start
   * another exporter at that moment.
   */
  static acquire(stateFile: string, beforeTakeover?: () => void): StateLock {
    const target = realTarget(stateFile);
    checkWritableFolder(target, '--state');
    const file = `${target}.lock`;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (create(file, stateFile)) return new StateLock(file);
      const ino = inode(file, stateFile);
      if (ino === null) continue;
      const stale = staleLock(file, stateFile);
      if (stale === null) continue;
      beforeTakeover?.();
      // Judged again once this exporter alone may take it over: another may have taken it over since, and the
      // lock now there is then that exporter's.
      if (takeOver(file, ino, () => staleLock(file, stateFile) !== null, stateFile, 0) && stale.warning) {
        log.warn(stale.warning, { lock: file });
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
 * Whether the lock `file` may be taken over: null when it is gone, else what to warn of when taking it over (nothing
 * when its exporter is gone). A lock of a running exporter, of another host, or perhaps being made, throws the
 * line that says so.
 */
function staleLock(file: string, stateFile: string): { warning?: string } | null {
  const holder = readHolder(file);
  if (holder === 'gone') return null;
  if (holder === 'unreadable') {
    const age = ageMs(file);
    if (age === null) return null;
    if (age < UNREADABLE_STALE_MS) {
      throw new ExportError(
        `state file ${stateFile}: its lock ${file} is empty or unreadable (an exporter taking it this moment, or one that crashed while taking it): try again in a few seconds, or remove ${file} if no exporter runs`,
      );
    }
    return { warning: `taking over the lock ${file}: it is empty or unreadable and ${Math.round(age / 1000)}s old, left by an exporter that stopped while taking it` };
  }
  if (holder.host !== os.hostname()) {
    throw new ExportError(
      `state file ${stateFile} is in use by an exporter on ${holder.host} (pid ${holder.pid}): stop it, or remove ${file} if it is gone`,
    );
  }
  if (alive(holder.pid)) {
    throw new ExportError(
      `state file ${stateFile} is in use by another exporter (pid ${holder.pid}): stop it first, or give this one its own --state`,
    );
  }
  return {};
}

/**
 * Remove the stale file `name` if it still is the file `ino` that was judged stale, and no other exporter does.
 * Exporters starting together may all find one stale lock; were each to remove it by name, one could remove the
 * lock another has just made in its place, and both would run. So each first creates a marker named after the
 * stale file, which only one can: that one checks that the name still leads to that file and that it is still
 * stale, and only then removes it. No one else removes the name while it leads to that file, so it cannot
 * change between the check and the removal. A marker left by an exporter that stopped half way (kill -9 at that
 * moment) is stale in turn, and taken over the same way. True when this exporter removed the file.
 */
function takeOver(name: string, ino: bigint, stillStale: () => boolean, stateFile: string, depth: number): boolean {
  const marker = path.join(path.dirname(name), `.${path.basename(name)}.${ino}.takeover`);
  if (!create(marker, stateFile)) {
    const markerIno = inode(marker, stateFile);
    if (markerIno === null) return false;
    if (!staleMarker(marker)) {
      waitGone(marker, name, stateFile);
      return false;
    }
    if (depth >= 2) throw new ExportError(`state file ${stateFile}: exporters keep stopping while taking over its lock: remove ${marker} if no exporter runs`);
    takeOver(marker, markerIno, () => staleMarker(marker), stateFile, depth + 1);
    return false;
  }
  try {
    if (inode(name, stateFile) !== ino || !stillStale()) return false;
    try {
      fs.rmSync(name, { force: true });
    } catch (err) {
      throw new ExportError(`cannot remove the stale lock ${name} of state file ${stateFile}: ${errorMessage(err)}; remove it by hand`);
    }
    return true;
  } finally {
    fs.rmSync(marker, { force: true });
  }
}

/** A takeover marker whose exporter is gone, or an unreadable one old enough not to be in the making. */
function staleMarker(marker: string): boolean {
  const holder = readHolder(marker);
  if (holder === 'gone') return false;
  if (holder === 'unreadable') return (ageMs(marker) ?? 0) >= UNREADABLE_STALE_MS;
  return holder.host === os.hostname() && !alive(holder.pid);
}

/** Another exporter is taking over the lock: it takes a moment, after which the lock is looked at again. */
function waitGone(marker: string, lock: string, stateFile: string): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; waited < TAKEOVER_WAIT_MS; waited += 10) {
    if (inode(marker, stateFile) === null) return;
    Atomics.wait(pause, 0, 0, 10);
  }
  const holder = readHolder(marker);
  const who = typeof holder === 'object' ? ` (pid ${holder.pid}${holder.host === os.hostname() ? '' : ` on ${holder.host}`})` : '';
  throw new ExportError(
    `state file ${stateFile}: another exporter${who} has been taking over its stale lock ${lock} for ${TAKEOVER_WAIT_MS / 1000}s: try again, or remove ${marker} if no exporter runs`,
  );
}

/** The inode the name leads to (not following a symbolic link), or null when there is no such name. */
function inode(file: string, stateFile: string): bigint | null {
  try {
    return fs.lstatSync(file, { bigint: true }).ino;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ExportError(`cannot lock state file ${stateFile} (${file}): ${errorMessage(err)}`);
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
