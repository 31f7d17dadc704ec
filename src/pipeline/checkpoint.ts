/**
 * The delivery checkpoint: the rowid of the last event the SIEM acknowledged, for one registry and one database.
 * Written atomically (temp file, fsync, rename, fsync of the folder) with mode 0600 after every settled batch,
 * so a crash at any moment leaves either the old or the new checkpoint, never a torn one.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigurationError } from '../shared/errors.js';
import { readBounded, realTarget, writeFileAtomic } from '../shared/files.js';
import { ROWID_START } from '../registry/rows.js';

export interface CheckpointData {
  version: 1;
  registry_id: string;
  database: string;
  last_rowid: number;
  delivered_total: number;
  updated_at: string;
  /** SHA-256 of the registry row at last_rowid as it was read, to notice a restore or rollback between runs. */
  last_row_sha256?: string;
}

/** A state file holds a few hundred bytes; anything near this is not one. */
export const MAX_STATE_FILE_BYTES = 64 * 1024;

export class Checkpoint {
  private data: CheckpointData;

  private constructor(readonly file: string, private readonly target: string, data: CheckpointData) {
    this.data = data;
  }

  get lastRowid(): number {
    return this.data.last_rowid;
  }

  get lastRowDigest(): string | null {
    return this.data.last_row_sha256 ?? null;
  }

  /** Load the state file, or start a new one; refuse one that belongs to another registry or database. */
  static open(file: string, identity: { registryId: string; database: string }): Checkpoint {
    const database = fs.realpathSync(identity.database);
    // The file a symbolic link leads to: written there, the link stays, and the lock was taken on it too.
    const target = realTarget(file);
    checkWritableFolder(target, '--state');
    const bytes = readBounded(file, 'state file', MAX_STATE_FILE_BYTES, 'give --state the path of a file (it is created at the first checkpoint)');
    if (bytes === null) {
      return new Checkpoint(file, target, {
        // Before every row: rowids may be zero or negative. Only ever written after a row settled.
        version: 1, registry_id: identity.registryId, database, last_rowid: ROWID_START, delivered_total: 0, updated_at: '',
      });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new ConfigurationError(`state file ${file} is not valid JSON: restore it from backup, or move it away to export from the start`);
    }
    const data = checkpointData(parsed, file);
    if (data.registry_id !== identity.registryId) {
      throw new ConfigurationError(
        `state file ${file} belongs to registry '${data.registry_id}', not '${identity.registryId}': use one --state file per registry`,
      );
    }
    if (data.database !== database) {
      throw new ConfigurationError(
        `state file ${file} belongs to database ${data.database}, not ${database}: use one --state file per database`,
      );
    }
    return new Checkpoint(file, target, data);
  }

  /**
   * Record that every event up to `rowid` is settled (delivered or dead-lettered), with the digest of the row at
   * `rowid` as it was read, or null when that cannot be vouched for (see read-digests.ts).
   */
  commit(rowid: number, settled: number, digest: string | null): void {
    if (rowid <= this.data.last_rowid && settled === 0) return;
    const next: CheckpointData = {
      ...this.data,
      last_rowid: Math.max(rowid, this.data.last_rowid),
      delivered_total: this.data.delivered_total + settled,
      updated_at: new Date().toISOString(),
    };
    // Without the row as read, leaving the digest out would let the next start check nothing, and keeping the
    // last one (of an earlier row) would refuse it for the wrong reason: a digest that no row has makes it refuse
    // with this one, unless the row is gone by then or a later checkpoint (each page's last row has its digest)
    // comes first. A lock that kept the row from being read again looks the same, so a run that ends right there
    // on a rollback-journal registry is refused though nothing changed; a WAL registry (Oversight's) has no such lock.
    next.last_row_sha256 = digest ?? unvouchedDigest(rowid);
    writeAtomic(this.target, JSON.stringify(next, null, 2) + '\n');
    this.data = next;
  }
}

/**
 * Every field of a loaded state file checked, so a hand-edited or damaged one is refused by name: a `last_rowid`
 * of 1.5 would resume between rows, and a `delivered_total` of "abc" would be written back as "abc2".
 */
function checkpointData(v: unknown, file: string): CheckpointData {
  const d = (v && typeof v === 'object' && !Array.isArray(v) ? v : {}) as Record<string, unknown>;
  if (d['version'] !== 1) throw new ConfigurationError(`state file ${file} is not an oversight checkpoint (expected version 1 with last_rowid)`);
  const bad = (field: string, want: string): ConfigurationError =>
    new ConfigurationError(
      `state file ${file}: ${field} must be ${want}${field in d ? `, not ${JSON.stringify(d[field]).slice(0, 40)}` : ' and is missing'}: ` +
        'restore it from backup, or move it away to export from the start',
    );
  if (typeof d['registry_id'] !== 'string' || d['registry_id'] === '') throw bad('registry_id', 'the registry id');
  if (typeof d['database'] !== 'string' || d['database'] === '') throw bad('database', 'the path of the registry');
  if (!Number.isSafeInteger(d['last_rowid'])) throw bad('last_rowid', 'a whole number (a rowid)');
  if (!Number.isSafeInteger(d['delivered_total']) || (d['delivered_total'] as number) < 0) throw bad('delivered_total', 'a whole number of 0 or more');
  // Only shown to people: a hand-written state file may leave it out.
  if (d['updated_at'] !== undefined && typeof d['updated_at'] !== 'string') throw bad('updated_at', 'a time as text');
  if (d['last_row_sha256'] !== undefined && (typeof d['last_row_sha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(d['last_row_sha256']))) {
    throw bad('last_row_sha256', 'a SHA-256 in hex');
  }
  return d as unknown as CheckpointData;
}

/**
 * Refuse to resume when the registry no longer holds what the checkpoint was written after: a restore from an
 * older backup, or a rollback whose rowids were written again, would otherwise be skipped without a word.
 */
export function checkResume(
  cp: Checkpoint, source: { maxRowid(): number; lastAssigned(): number | null; rowDigest(rowid: number): string | null },
): void {
  const at = cp.lastRowid;
  if (at <= ROWID_START) return;
  const newest = source.maxRowid();
  if (at > newest) {
    // With AUTOINCREMENT no rowid up to the highest ever given is given again: rows missing there were pruned,
    // and the export goes on after them. A restored backup brings its own, lower, highest rowid.
    const assigned = source.lastAssigned();
    if (assigned === null || assigned < at) throw pastEnd(cp.file, at, newest, assigned !== null);
  }
  const want = cp.lastRowDigest;
  const have = want ? source.rowDigest(at) : null;
  if (want !== null && have !== null && want === unvouchedDigest(at)) {
    throw new ConfigurationError(
      `state file ${cp.file} was written after rowid ${at} while the registry changed or could not be read, so its row there could not be ` +
        'checked against the one sent: check that the registry was not restored or rolled back, then move the state file away to export ' +
        'it from the start, or restore the newer registry',
    );
  }
  // No digest (an older state file) or no row (pruned since): nothing to compare, and nothing is skipped.
  if (want && have !== null && have !== want) {
    throw new ConfigurationError(
      `state file ${cp.file} was written after another event at rowid ${at} than the registry holds now: it was restored or rolled back; ` +
        'check which events it lost, then move the state file away to export it from the start, or restore the newer registry',
    );
  }
}

/** A checkpoint past the registry's newest rowid, which the registry may give again. */
function pastEnd(file: string, at: number, newest: number, autoincrement: boolean): ConfigurationError {
  const head = `state file ${file} is past the registry's last event (rowid ${at})`;
  const fix = 'move the state file away to export from the start';
  if (autoincrement) return new ConfigurationError(`${head}: was the registry replaced? ${fix}`);
  // Without AUTOINCREMENT SQLite gives the next event the rowid after the newest one left: deleting the newest
  // events (pruning delivered ones) looks the same as a restore, and new events would be skipped after either.
  return new ConfigurationError(
    `${head}: was the registry replaced, or its newest events deleted? Its table has no AUTOINCREMENT, so the next event ` +
      `would take rowid ${newest + 1} and be skipped: ${fix}`,
  );
}

/**
 * The digest kept when the row at `rowid` as it was read is not known: no row's digest (a row's starts with
 * its rowid as a number, an oversize row's with 'oversize'), and the same for the same rowid, so a start can
 * tell it from a row that changed.
 */
export function unvouchedDigest(rowid: number): string {
  return createHash('sha256').update(JSON.stringify(['unvouched', rowid])).digest('hex');
}

/** Write a small file so that readers see the old or the new content, never a mix. */
export function writeAtomic(file: string, content: string): void {
  writeFileAtomic(file, content, 'state file');
}

/** Fail before the export starts if a file could not be created where the user asked. */
export function checkWritableFolder(file: string, flag: string): void {
  const dir = path.dirname(path.resolve(file));
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new ConfigurationError(`folder for ${flag} ${file} does not exist: create ${dir} first`);
  }
  if (!stat.isDirectory()) throw new ConfigurationError(`${dir} is not a folder (${flag} ${file})`);
  // access(W_OK) says yes to root even on read-only mounts, so create and remove a probe file instead.
  const probe = path.join(dir, `.oversight-probe-${process.pid}-${Date.now()}`);
  try {
    fs.closeSync(fs.openSync(probe, 'wx', 0o600));
    fs.unlinkSync(probe);
  } catch (err) {
    throw new ConfigurationError(`folder ${dir} is not writable (${flag} ${file}): ${(err as NodeJS.ErrnoException).code ?? 'error'}; choose a writable location`);
  }
}
