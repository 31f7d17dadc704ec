/**
 * Settings from the environment, for services: every flag of the delivering commands can also be set as
 * OVERSIGHT_<FLAG> (`--registry-id` → OVERSIGHT_REGISTRY_ID), with the flag winning, and secrets can be read
 * from files, including the systemd credentials directory, so none has to go on a command line.
 */
import { Command, Option } from 'commander';
import type { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigurationError, errorMessage } from './errors.js';

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off', '']);

export function envName(option: Option): string {
  return 'OVERSIGHT_' + (option.long ?? '').replace(/^--/, '').replace(/-/g, '_').toUpperCase();
}

/**
 * Give every option of `commands` its environment variable. Commander applies a variable only where no flag was
 * given (flags win) and before checking required options. Commander turns a switch on for any value, so the
 * value is read here: true/1/yes/on turn it on, false/0/no/off or empty leave it off, anything else is a usage error.
 */
export function settableFromEnv(commands: readonly Command[], env: NodeJS.ProcessEnv = process.env): void {
  for (const cmd of commands) {
    const problems: string[] = [];
    // Commander wires an option's variable when the option is added, so each option is added again with it.
    const options = [...(cmd.options as Option[])];
    (cmd.options as Option[]).length = 0;
    for (const option of options) {
      (cmd as unknown as EventEmitter).removeAllListeners(`option:${option.name()}`);
      if (option.long && !option.envVar) {
        const name = envName(option);
        if (option.required || option.optional) option.env(name);
        else {
          const value = env[name]?.trim().toLowerCase();
          if (value !== undefined && !TRUE.has(value) && !FALSE.has(value)) problems.push(`${name} must be true or false, not '${env[name]}'`);
          if (value !== undefined && TRUE.has(value)) option.env(name);
          // Listed in the help all the same, so the name can be found.
          else option.description += ` (env: ${name}=true)`;
        }
      }
      cmd.addOption(option);
    }
    if (problems.length > 0) {
      cmd.hook('preAction', () => {
        throw new ConfigurationError(problems[0]!);
      });
    }
  }
}

/**
 * A secret file path. `credential:NAME` is the file NAME in the directory systemd passes credentials in
 * ($CREDENTIALS_DIRECTORY), a path that unit and environment files cannot spell out themselves.
 */
export function secretPath(file: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!file.startsWith('credential:')) return file;
  const name = file.slice('credential:'.length);
  const dir = env['CREDENTIALS_DIRECTORY'];
  if (!dir) throw new ConfigurationError(`${file} names a systemd credential, but CREDENTIALS_DIRECTORY is not set (see LoadCredential=)`);
  if (!/^[A-Za-z0-9_.@-]+$/.test(name) || name.startsWith('.')) throw new ConfigurationError(`${file}: a credential name is a file name, not a path`);
  return path.join(dir, name);
}

/** The text of a secret file, without its final newline. */
export function readSecretFile(file: string, what: string, env: NodeJS.ProcessEnv = process.env): string {
  let text: string;
  try {
    text = fs.readFileSync(secretPath(file, env), 'utf8').trim();
  } catch (err) {
    throw new ConfigurationError(`cannot read ${what} ${file}: ${errorMessage(err)}`);
  }
  if (!text) throw new ConfigurationError(`${what} ${file} is empty`);
  return text;
}

/** A secret from the variable `name`, or from the file named by `name`_FILE. */
export function secretFromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const direct = env[name]?.trim();
  if (direct) return direct;
  const file = env[`${name}_FILE`]?.trim();
  return file ? readSecretFile(file, `${name}_FILE`, env) : undefined;
}

/** Headers kept in a secret file: one `Name: value` a line; blank lines and lines starting with # are skipped. */
export function headerLines(file: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  if (!file) return [];
  return readSecretFile(file, '--header-file', env).split(/\r?\n/).filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
}
