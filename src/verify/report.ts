/**
 * The evidence manifest of `--report`: what was checked, what was found, and a SHA-256 over the ids verified,
 * written atomically with mode 0600. With a key, an HMAC-SHA256 over the manifest's exact bytes goes beside it
 * in `<report>.sig` (hex), so `openssl dgst -sha256 -hmac "$(cat KEY)" REPORT` reproduces it.
 */
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { realTarget, writeFileAtomic } from '../shared/files.js';
import { checkPrivateFile, readSecretBytes } from '../shared/secrets.js';
import { ConfigurationError, registerSecret } from '../shared/errors.js';
import type { VerifyResult } from './index.js';

export const REPORT_SCHEMA = 'oversight-verify-report-1';

export function manifest(r: VerifyResult, version: string, now: Date = new Date()): Record<string, unknown> {
  return {
    schema: REPORT_SCHEMA,
    tool: { name: 'oversight-siem', version },
    created_at: now.toISOString(),
    registry_id: r.registryId,
    destination: { siem: r.siem, target: r.target },
    range: r.range,
    settle_seconds: r.settleSeconds,
    counts: r.counts,
    ok: r.ok,
    ids: Object.fromEntries(Object.entries(r.ids).map(([k, v]) => [k, { total: r.counts[k as keyof typeof r.counts], listed: v }])),
    verified_ids_sha256: r.verifiedSha256,
    verified_ids_rule: 'SHA-256 of each event id verified present exactly once and unaltered, followed by a newline, in registry rowid order',
    ...(r.repair ? { repair: r.repair } : {}),
  };
}

/**
 * The signing key: one line of printable ASCII, at least 32 bytes, never printed. The signature is checked with
 * `openssl dgst -hmac "$(cat KEY)"`, which passes the key as shell text: a binary key (bytes from /dev/urandom)
 * cannot go through that, and read as UTF-8 its invalid bytes would all become U+FFFD, a key anyone could guess.
 */
export function readSignKey(file: string): string {
  checkPrivateFile(file, '--sign-key-file');
  const key = readSecretBytes(file, '--sign-key-file').toString('latin1').replace(/(\r?\n)+$/, '');
  if (key === '') throw new ConfigurationError('--sign-key-file names an empty file: write the key into it (openssl rand -hex 32)');
  // Spaces inside are kept by both `$(cat KEY)` and this read; at either end, one of them would drop them.
  if (!/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(key)) {
    throw new ConfigurationError(
      '--sign-key-file must name a file holding the key as one line of printable ASCII text, such as openssl rand -hex 32 > KEY, so that openssl dgst -hmac can check the signature (the key is not shown)',
    );
  }
  if (key.length < 32) throw new ConfigurationError('--sign-key-file names a file of fewer than 32 bytes: use a longer random key (openssl rand -hex 32)');
  registerSecret(key);
  return key;
}

export function hmacHex(key: string, bytes: Buffer): string {
  return createHmac('sha256', key).update(bytes).digest('hex');
}

/**
 * Write `file` (and `file.sig` with a key) as the state file is written: atomically, flushed to disk, and through
 * a symbolic link to the file it leads to. A report is evidence; a power cut must not leave half of one.
 */
export function writeReport(file: string, body: Record<string, unknown>, key: string | null): void {
  const bytes = Buffer.from(JSON.stringify(body, null, 2) + '\n', 'utf8');
  writeFileAtomic(file, bytes, 'report');
  if (key !== null) writeFileAtomic(`${file}.sig`, Buffer.from(hmacHex(key, bytes) + '\n'), 'report signature');
}

/** Check before the run that the report can be written, so a long verify does not end in a usage error. */
export function checkReportPath(file: string): void {
  // A link is written through (see writeReport), so the folder that counts is the one of the file it leads to.
  const dir = path.dirname(realTarget(file));
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new ConfigurationError(`--report ${file}: folder ${dir} does not exist`);
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new ConfigurationError(`--report ${file} is a folder: name a file`);
  // The report is renamed into place: over a device or a named pipe, that would replace the device or pipe itself.
  if (fs.existsSync(file) && !fs.statSync(file).isFile()) throw new ConfigurationError(`--report ${file} is not a regular file: name a new file or a report written before`);
}
