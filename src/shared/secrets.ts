/**
 * Secrets from the environment and from files, for every command and transport alike. Files may be systemd
 * credentials (`credential:NAME`), a path that unit and environment files cannot spell out themselves. Reads are
 * capped: a secret is small, and a variable pointing at /dev/zero or a log file must fail at once, not fill memory.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigurationError, ExportError, registerSecret } from './errors.js';
import { headerValueProblem } from './http-headers.js';
import { readBounded, withoutPath } from './files.js';

/** The most a secret file may hold (a header file with a few tokens, a key, a client secret). */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

/** A secret file path; `credential:NAME` is NAME in $CREDENTIALS_DIRECTORY. */
export function secretPath(file: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!file.startsWith('credential:')) return file;
  const name = file.slice('credential:'.length);
  const dir = env['CREDENTIALS_DIRECTORY'];
  if (!dir) throw new ConfigurationError(`${file} names a systemd credential, but CREDENTIALS_DIRECTORY is not set (see LoadCredential=)`);
  if (!/^[A-Za-z0-9_.@-]+$/.test(name) || name.startsWith('.')) throw new ConfigurationError(`${file}: a credential name is a file name, not a path`);
  return path.join(dir, name);
}

/**
 * The value of a setting that names a secret's file may be the secret itself, pasted where the path belongs. So
 * no message shows it, whatever went wrong: it names the setting, and says where a secret itself goes.
 */
export function notShown(what: string): string {
  const direct = what.endsWith('_FILE') ? what.slice(0, -'_FILE'.length) : DIRECT[what];
  return `the value is not shown; if it is the secret itself, ${direct ? `use ${direct} instead` : 'write it to a file of mode 600 and give its path'}`;
}

/** Where the secret a file flag names may be given directly, out of process lists. */
const DIRECT: Record<string, string> = {
  '--header-file': 'OVERSIGHT_HEADER',
  '--sentinel-shared-key-file': 'OVERSIGHT_SENTINEL_SHARED_KEY',
  '--splunk-search-token-file': 'OVERSIGHT_SPLUNK_SEARCH_TOKEN',
};

/** At most `MAX_SECRET_FILE_BYTES` of a file, or a usage error naming the setting `what`, never its value. */
export function readSecretBytes(file: string, what: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  // `credential:NAME` is a name, not a secret: a message about it may show it.
  const p = secretPath(file, env);
  let bytes: Buffer | null;
  try {
    bytes = readBounded(p, what, MAX_SECRET_FILE_BYTES, notShown(what), true);
  } catch (err) {
    // Masked from here on too: a later line (siem check goes on after a failure) must not show it either.
    registerSecret(file);
    throw err;
  }
  if (bytes === null) {
    registerSecret(file);
    // A secret not there yet (a credential store mounted late) may be there at the next start.
    throw new ExportError(`${what} names no readable file (no such file): ${notShown(what)}`);
  }
  return bytes;
}

/**
 * The text of a secret file, without its final newline; registered for masking. `forHeader`: the secret goes into
 * an HTTP header (a token, an API key), so it must be one line of what a header carries.
 */
export function readSecretFile(file: string, what: string, env: NodeJS.ProcessEnv = process.env, forHeader = false): string {
  const text = readSecretBytes(file, what, env).toString('utf8').trim();
  if (!text) throw new ConfigurationError(`${what} names an empty file: write the secret into it`);
  registerSecret(text);
  if (forHeader) checkHeaderSecret(text, what);
  return text;
}

/** A secret from the variable `name`, or from the file named by `name`_FILE (`forHeader` as for readSecretFile). */
export function secretFromEnv(env: NodeJS.ProcessEnv, name: string, forHeader = false): string | undefined {
  const direct = env[name]?.trim();
  if (direct) {
    registerSecret(direct);
    if (forHeader) checkHeaderSecret(direct, name);
    return direct;
  }
  const file = env[`${name}_FILE`]?.trim();
  return file ? readSecretFile(file, `${name}_FILE`, env, forHeader) : undefined;
}

/** A file holding two tokens, or a pasted control character, is refused by where it came from, never shown. */
function checkHeaderSecret(text: string, where: string): void {
  const problem = headerValueProblem(text);
  if (problem) throw new ConfigurationError(`${where} ${problem}: it must hold the token alone, in printable ASCII on one line (the value is not shown)`);
}

/** Headers kept in a secret file: one `Name: value` a line; blank lines and lines starting with # are skipped. */
export function headerLines(file: string | undefined | null, env: NodeJS.ProcessEnv = process.env): string[] {
  if (!file) return [];
  return readSecretFile(file, '--header-file', env).split(/\r?\n/).filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
}

/**
 * Refuse a key file others can read, as ssh refuses a private key: a pseudonym or signing key that leaks lets
 * anyone test guesses against the pseudonyms or forge a manifest. The file is not named (see notShown).
 */
export function checkPrivateFile(file: string, what: string, env: NodeJS.ProcessEnv = process.env): void {
  const p = secretPath(file, env);
  let mode: number;
  try {
    mode = fs.statSync(p).mode;
  } catch (err) {
    registerSecret(file);
    throw new ConfigurationError(`${what} names no readable file (${withoutPath(err)}): ${notShown(what)}`);
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigurationError(`${what} names a file others can read (mode ${(mode & 0o777).toString(8)}): chmod 600 it`);
  }
}
