/**
 * Files named by settings are untrusted like any other input: only regular files are read, and only as much as
 * such a file ever holds. A path pointing at /dev/zero, a named pipe, a folder or a 3 GB file fails at once with
 * one line, instead of filling memory or waiting forever on a pipe nobody writes to (deaf to SIGTERM).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigurationError, ExportError, errorMessage } from './errors.js';

/** The longest line read from a dead-letter or record file: above the largest request any SIEM takes (100 MiB). */
export const MAX_LINE_BYTES = 128 * 1024 * 1024;

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}

/**
 * A descriptor of the regular file `file`, open for reading, or null when there is no such file. `what` names
 * the setting in messages (`--ca-file`, `state file`), `fix` says what to give instead of something else.
 * `secret`: the setting names a secret's file, and its value may be the secret itself, pasted where the path
 * belongs, so messages name the setting alone and never the value (nor the system's own words, which quote it).
 */
export function openRegular(file: string, what: string, fix: string, secret = false): number | null {
  const named = secret ? what : `${what} ${file}`;
  let fd: number;
  try {
    // Without O_NONBLOCK, opening a named pipe waits for a writer, with signals held off until one comes.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if (secret) throw new ConfigurationError(`${what} names no readable file (${withoutPath(err)}): ${fix}`);
    throw new ConfigurationError(`cannot read ${named}: ${errorMessage(err)}`);
  }
  const st = fs.fstatSync(fd);
  if (st.isFile()) return fd;
  fs.closeSync(fd);
  throw new ConfigurationError(`${named} is not a regular file (${kindOf(st)}): ${fix}`);
}

/** A system error without the path Node.js appends to it (`EACCES: permission denied, open '…'`). */
export function withoutPath(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const message = errorMessage(err);
  const cut = e.syscall ? message.indexOf(`, ${e.syscall}`) : -1;
  return cut > 0 ? message.slice(0, cut) : e.code ?? 'unreadable';
}

/** At most `maxBytes` of a regular file, null when it does not exist, or a usage error naming it (`secret` as for openRegular). */
export function readBounded(file: string, what: string, maxBytes: number, fix: string, secret = false): Buffer | null {
  const fd = openRegular(file, what, fix, secret);
  if (fd === null) return null;
  const named = secret ? what : `${what} ${file}`;
  try {
    // One byte more than allowed, to tell a file of exactly the limit from a larger one without a stat race.
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (;;) {
      const got = fs.readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > maxBytes) throw new ConfigurationError(`${named} is larger than ${maxBytes} bytes: is it the right file?`);
    }
    return buf.subarray(0, n);
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    throw new ConfigurationError(`cannot read ${named}: ${secret ? withoutPath(err) : errorMessage(err)}`);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The lines of an open file, read a chunk at a time, so memory holds one line (at most `maxLineBytes`) and never
 * the whole file. The descriptor is closed when the lines end or the reader stops. `name` is used in messages.
 */
export function* readLines(fd: number, name: string, maxLineBytes: number = MAX_LINE_BYTES): Generator<string> {
  const chunk = Buffer.alloc(64 * 1024);
  let parts: Buffer[] = [];
  let held = 0;
  let line = 0;
  const tooLong = (): ConfigurationError =>
    new ConfigurationError(`${name}, line ${line + 1}: longer than ${maxLineBytes} bytes, so not a line this tool writes: is it the right file?`);
  try {
    for (;;) {
      let got: number;
      try {
        got = fs.readSync(fd, chunk, 0, chunk.length, null);
      } catch (err) {
        throw new ExportError(`cannot read ${name}: ${errorMessage(err)}`);
      }
      if (got === 0) break;
      const data = chunk.subarray(0, got);
      let start = 0;
      for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, start)) {
        if (held + nl - start > maxLineBytes) throw tooLong();
        const text = parts.length === 0 ? data.toString('utf8', start, nl) : Buffer.concat([...parts, data.subarray(start, nl)]).toString('utf8');
        parts = [];
        held = 0;
        start = nl + 1;
        line++;
        yield text;
      }
      if (start < got) {
        held += got - start;
        if (held > maxLineBytes) throw tooLong();
        // A copy: the chunk is read into again.
        parts.push(Buffer.from(data.subarray(start)));
      }
    }
    if (held > 0) yield Buffer.concat(parts).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Where a path really leads: its folder resolved through symbolic links, and the path itself followed while it
 * is a link, even to a file not created yet. Two names of one state file give one answer, so they share one lock,
 * and a write to the answer leaves the operator's link in place.
 */
export function realTarget(file: string): string {
  let p = path.resolve(file);
  // The kernel's own limit on links followed in one lookup.
  for (let hops = 0; hops < 40; hops++) {
    let dir: string;
    try {
      dir = fs.realpathSync(path.dirname(p));
    } catch {
      // A folder that does not exist: the caller's check of the folder says so.
      return p;
    }
    p = path.join(dir, path.basename(p));
    let link: string;
    try {
      link = fs.readlinkSync(p);
    } catch {
      // Not a link (EINVAL), or not there yet (ENOENT): this is the file.
      return p;
    }
    p = path.resolve(dir, link);
  }
  throw new ConfigurationError(`${file}: too many levels of symbolic links: point it at a file`);
}

/**
 * Make what was written to `fd` durable. Pipes and devices (an output or dead-letter file of /dev/null, a named
 * pipe to a collector) have nothing to flush and answer EINVAL; any other failure is an error naming `name`.
 */
export function syncWritten(fd: number, name: string): void {
  try {
    fs.fdatasyncSync(fd);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw new ExportError(`cannot sync ${name}: ${errorMessage(err)}`);
  }
}

/**
 * Replace a small file so that readers, and a crash at any moment, see the old or the new content and never a
 * mix: a temporary file beside it (mode 0600), flushed, renamed over it, and the folder flushed so the rename
 * itself survives a power cut. The file a symbolic link leads to is replaced, so an operator's link stays a link.
 */
/**
 * The temporary file, created here and now (O_EXCL): a file or symbolic link already at its name (left by a run
 * killed mid-write whose pid came round again, or planted in a shared folder to have the state written through
 * it) is removed, never written through; unlink removes a link, not what it leads to.
 */
function openNew(tmp: string): number {
  try {
    return fs.openSync(tmp, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    fs.unlinkSync(tmp);
    return fs.openSync(tmp, 'wx', 0o600);
  }
}

export function writeFileAtomic(file: string, content: string | Buffer, name: string): void {
  const target = realTarget(file);
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.tmp`);
  try {
    const fd = openNew(tmp);
    try {
      fs.writeFileSync(fd, content);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch (err) {
    try { fs.unlinkSync(tmp); } catch { /* already gone */ }
    throw new ExportError(`cannot write ${name} ${file}: ${errorMessage(err)}`);
  }
}
