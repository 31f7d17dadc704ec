/**
 * Dead letters: one JSON line per record a SIEM refused, with everything needed to understand and replay it.
 * The file is created on the first rejection (mode 0600: it holds event data) and synced before the checkpoint
 * moves past the rejected event, so a refused event is never both skipped and unrecorded. A file moved away by a
 * log rotator is made again at its path by the next dead letter.
 */
import fs from 'node:fs';
import { checkWritableFolder } from './checkpoint.js';
import type { Entry } from './encoder.js';
import { ConfigurationError, ExportError, errorMessage, redact } from '../shared/errors.js';
import { openRegular, readLines, syncWritten } from '../shared/files.js';

export interface DeadLetter {
  dead_lettered_at: string;
  transport: string;
  format: string;
  registry_id: string;
  event_id: string;
  rowid: number;
  status: number;
  error: string;
  record: unknown;
}

export class DeadLetterFile {
  private fd: number | null = null;
  private dirty = false;
  private cutShort = false;
  count = 0;

  constructor(readonly file: string, private readonly transport: string, private readonly format: string) {
    checkWritableFolder(file, '--dead-letter');
    if (fs.existsSync(file)) {
      try {
        fs.accessSync(file, fs.constants.W_OK);
      } catch {
        throw new ConfigurationError(`dead-letter file ${file} is not writable: choose another --dead-letter path`);
      }
    }
  }

  write(entry: Entry, status: number, error: string): void {
    // The record goes in as JSON, not as a string, so the file reads naturally with jq.
    this.append(entry, status, error, entry.record.toString());
  }

  /** A dead letter without a record (`"record": null`): a registry row that was never formatted. */
  writeUnformatted(entry: Omit<Entry, 'record' | 'bytes'>, status: number, error: string): void {
    this.append(entry, status, error, 'null');
  }

  private append(entry: Omit<Entry, 'record' | 'bytes'>, status: number, error: string, record: string): void {
    const line =
      '{"dead_lettered_at":' + JSON.stringify(new Date().toISOString()) +
      ',"transport":' + JSON.stringify(this.transport) +
      ',"format":' + JSON.stringify(this.format) +
      ',"registry_id":' + JSON.stringify(entry.registry_id) +
      ',"event_id":' + JSON.stringify(entry.event_id) +
      ',"rowid":' + entry.rowid +
      ',"status":' + status +
      ',"error":' + JSON.stringify(redact(error).slice(0, 2000)) +
      ',"record":' + record + '}\n';
    try {
      if (this.fd !== null && this.moved()) this.reopen();
      if (this.fd === null) this.open();
      // A write can take less than the whole line (a full disk); the rest goes after it, or the error says why.
      const bytes = Buffer.from(this.cutShort ? '\n' + line : line);
      for (let off = 0; off < bytes.length; ) off += fs.writeSync(this.fd!, bytes, off);
      this.cutShort = false;
    } catch (err) {
      throw new ExportError(`cannot write dead-letter file ${this.file}: ${errorMessage(err)}`);
    }
    this.dirty = true;
    this.count++;
  }

  /**
   * A file whose last line was cut short (a crash or a full disk in the middle of a write) gets its next dead
   * letter on a line of its own: joined to the broken line, that dead letter could not be read back either.
   */
  private open(): void {
    this.fd = fs.openSync(this.file, 'a', 0o600);
    const size = fs.fstatSync(this.fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      const r = fs.openSync(this.file, 'r');
      try {
        fs.readSync(r, last, 0, 1, size - 1);
      } finally {
        fs.closeSync(r);
      }
      this.cutShort = last[0] !== 10;
    }
  }

  /**
   * The file was renamed or removed (a log rotator) since it was opened: writing on would put dead letters in a
   * file that is no longer at the path, or in none once the rotator deletes it, while the checkpoint moves on.
   */
  private moved(): boolean {
    try {
      const now = fs.statSync(this.file);
      const open = fs.fstatSync(this.fd!);
      return now.ino !== open.ino || now.dev !== open.dev;
    } catch {
      return true;
    }
  }

  /** What went to the old file is made durable first: the checkpoint may already count on it. */
  private reopen(): void {
    this.sync();
    fs.closeSync(this.fd!);
    this.fd = null;
  }

  /** Make every written line durable; called before a checkpoint moves past a dead-lettered event. */
  sync(): void {
    if (this.fd !== null && this.dirty) {
      syncWritten(this.fd, `dead-letter file ${this.file}`);
      this.dirty = false;
    }
  }

  close(): void {
    if (this.fd !== null) {
      this.sync();
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }
}

/**
 * Read a dead-letter file back, for `oversight siem replay`. A line it cannot send is the same line on every run,
 * so it is refused as a mistake (exit 2) that a restart would only repeat.
 */
export function* readDeadLetters(file: string): Generator<DeadLetter & { line: number; recordText: string }> {
  const fd = openRegular(file, '--dead-letter', 'give the dead-letter file an export wrote');
  if (fd === null) throw new ConfigurationError(`dead-letter file not found: ${file}`);
  let n = 0;
  // A line at a time: memory holds one dead letter, however long the file.
  for (const raw of readLines(fd, `dead-letter file ${file}`)) {
    n++;
    if (raw.trim() === '') continue;
    let obj: DeadLetter;
    try {
      obj = JSON.parse(raw) as DeadLetter;
    } catch {
      throw new ConfigurationError(`dead-letter file ${file}, line ${n}: not valid JSON`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj) || obj.record === undefined || typeof obj.format !== 'string') {
      throw new ConfigurationError(`dead-letter file ${file}, line ${n}: not a dead letter (needs record and format)`);
    }
    // The event a record is for: Elasticsearch's document id is made of the registry id and the rowid, so a line
    // without them would go out under another event's id, and be taken for a copy of it or overwrite it.
    const bad = (field: string, want: string): ConfigurationError =>
      new ConfigurationError(
        `dead-letter file ${file}, line ${n}: ${field} must be ${want}` +
          `${field in obj ? `, not ${String(JSON.stringify((obj as unknown as Record<string, unknown>)[field])).slice(0, 40)}` : ' and is missing'}: ` +
          'give the line as the export wrote it',
      );
    if (typeof obj.registry_id !== 'string' || obj.registry_id === '') throw bad('registry_id', 'the registry id');
    if (!Number.isSafeInteger(obj.rowid)) throw bad('rowid', 'a whole number (the registry row)');
    if (typeof obj.event_id !== 'string') throw bad('event_id', 'the event id as text');
    if (obj.record === null) {
      throw new ConfigurationError(
        `dead-letter file ${file}, line ${n}: registry row ${String(obj.rowid)} was set aside unformatted (${String(obj.error).slice(0, 200)}); ` +
          `export it from the registry with a higher --max-row-bytes, and replay the other lines: jq -c 'select(.record != null)' ${file}`,
      );
    }
    yield { ...obj, line: n, recordText: recordText(raw, obj.record) };
  }
}

/**
 * The record as it was written, byte for byte: parsing and writing it again would change numbers such as
 * Splunk's `1763856000.0`. The export writes the record last, so it is what follows the first `,"record":` (no
 * JSON string holds `,"` unescaped). A line edited since (a field added after the record, the fields reordered)
 * leaves there something that is not one JSON value, and then the record is written again from what was parsed.
 */
function recordText(raw: string, record: unknown): string {
  const line = raw.trimEnd();
  const at = line.indexOf(',"record":');
  if (at >= 0 && line.endsWith('}')) {
    const text = line.slice(at + ',"record":'.length, -1);
    try {
      JSON.parse(text);
      return text;
    } catch {
      // Not the record alone: fall through.
    }
  }
  return JSON.stringify(record);
}
