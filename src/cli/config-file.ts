/**
 * `--config FILE`: the options of a command as YAML, each under its long name (`registry-id: reg1`,
 * `splunk-ack: true`, `header-file: /etc/oversight/hec.headers`). Flags win over OVERSIGHT_* variables, which win
 * over the file, which wins over defaults. Unknown keys are refused by name with a suggestion, and secrets may only
 * be named by reference (a file, or a variable the transport reads), never written into the file.
 */
import type { Command, Option } from 'commander';
import { MAX_SECRET_FILE_BYTES } from '../shared/secrets.js';
import { ConfigurationError, errorMessage, maskUrl } from '../shared/errors.js';
import { readBounded } from '../shared/files.js';
import { envName, suggest } from './env.js';

/** Options whose value is itself a secret: a config file may not hold them. */
const SECRET_VALUES = new Set(['header']);

export const CONFIG_FLAG = '--config <file>';

/** Where each value of a command came from, for `config print`. */
export type Source = 'flag' | 'env' | 'file' | 'default';

export function sourceOf(cmd: Command, option: Option): Source | null {
  switch (cmd.getOptionValueSource(option.attributeName())) {
    case 'cli':
      return 'flag';
    case 'env':
      return 'env';
    case 'config':
      return 'file';
    case 'default':
      return 'default';
    default:
      return null;
  }
}

/**
 * A value as written in the file: a scalar's text (null where YAML reads null: `~`, `null`, nothing) and whether
 * YAML reads it as a boolean, a list of such values, or what else it is. A plain scalar keeps its source text, so
 * `0x1F`, `007` and `1e3` reach the option's parser as written and are taken or refused as on the command line.
 */
type Written = { text: string | null; bool: boolean | null } | Written[] | 'a mapping' | 'an alias';

async function readYaml(file: string): Promise<Map<string, Written>> {
  const bytes = readBounded(file, '--config', MAX_SECRET_FILE_BYTES, 'give the path of a YAML file');
  if (bytes === null) throw new ConfigurationError(`cannot read --config ${file}: no such file`);
  const text = bytes.toString('utf8');
  const { isAlias, isMap, isScalar, isSeq, parseDocument } = await import('yaml');
  const doc = parseDocument(text, { uniqueKeys: true });
  const error = doc.errors[0];
  // YAML's first line ends in a colon before the excerpt it shows below; the excerpt is left out, and the colon too.
  if (error) throw new ConfigurationError(`--config ${file} is not valid YAML: ${error.message.split('\n')[0]!.replace(/:\s*$/, '')}`);
  const written = (node: unknown): Written => {
    if (isScalar(node)) {
      if (node.value === null) return { text: null, bool: null };
      const source = node.type === 'PLAIN' && typeof node.source === 'string' ? node.source : String(node.value);
      return { text: source, bool: typeof node.value === 'boolean' ? node.value : null };
    }
    if (isSeq(node)) return node.items.map(written);
    // Aliases are refused rather than expanded: nothing needs one, and expanding them is how a small file grows huge.
    return isAlias(node) ? 'an alias' : 'a mapping';
  };
  const root = doc.contents;
  const out = new Map<string, Written>();
  if (root === null || (isScalar(root) && root.value === null)) return out;
  if (!isMap(root)) throw new ConfigurationError(`--config ${file} must be a mapping of option names to values`);
  for (const pair of root.items) {
    const key = written(pair.key);
    if (Array.isArray(key) || typeof key === 'string' || key.text === null) throw new ConfigurationError(`--config ${file}: keys are option names, such as registry-id`);
    out.set(key.text, pair.value === null ? { text: null, bool: null } : written(pair.value));
  }
  return out;
}

/** The command as typed, below the program: `siem config print`, not `print`. */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** Fill the options `cmd` got from neither a flag nor a variable with the file's values. */
export async function applyConfigFile(cmd: Command, file: string): Promise<void> {
  const doc = await readYaml(file);
  const byName = new Map((cmd.options as Option[]).filter((o) => o.long).map((o) => [o.long!.slice(2), o]));
  byName.delete('config');
  for (const [key, raw] of doc) {
    const option = byName.get(key);
    if (!option) {
      const s = suggest(key, [...byName.keys()]);
      throw new ConfigurationError(`--config ${file}: unknown option '${key}'${s ? ` (did you mean '${s}'?)` : ''}; keys are the long flag names of \`${commandPath(cmd)}\``);
    }
    if (SECRET_VALUES.has(key)) {
      throw new ConfigurationError(`--config ${file}: '${key}' holds secrets; name a file instead (header-file) or set its variable, and keep secrets out of the config file`);
    }
    const source = sourceOf(cmd, option);
    if (source === 'flag' || source === 'env') continue;
    cmd.setOptionValueWithSource(option.attributeName(), valueFor(option, `--config ${file}: '${key}'`, raw), 'config');
  }
}

/** The option's value from what the file says: text for the option's own parser, as a flag's would be. */
function valueFor(option: Option, where: string, raw: Written): unknown {
  const isSwitch = !option.required && !option.optional;
  if (isSwitch) {
    if (Array.isArray(raw) || typeof raw === 'string' || raw.bool === null) throw new ConfigurationError(`${where} is a switch: write true or false`);
    // `no-preflight: true` turns the preflight off: the value kept is the positive one.
    return option.negate ? !raw.bool : raw.bool;
  }
  const text = (v: Written): string => {
    if (Array.isArray(v)) throw new ConfigurationError(`${where} takes a text value, not a list`);
    if (v === 'an alias') throw new ConfigurationError(`${where} is an alias: write the value itself`);
    if (typeof v === 'string') throw new ConfigurationError(`${where} takes a text value, not ${v}`);
    if (v.text === null || v.text.trim() === '') throw new ConfigurationError(`${where} has no value: write one, or remove the key`);
    return v.text;
  };
  if (option.variadic || Array.isArray(option.defaultValue)) return (Array.isArray(raw) ? raw : [raw]).map(text);
  const value = text(raw);
  if (option.argChoices && !option.argChoices.includes(value)) {
    throw new ConfigurationError(`${where} must be one of ${option.argChoices.join(', ')}, not '${value}'`);
  }
  return value;
}

/** `config print`: every option with a value, where it came from, secrets masked. */
export function printConfig(cmd: Command, secret: (key: string) => boolean): string {
  const lines: string[] = [];
  for (const o of cmd.options as Option[]) {
    if (!o.long || o.long === '--config' || o.long === '--help') continue;
    const key = o.long.slice(2);
    const value = cmd.getOptionValue(o.attributeName()) as unknown;
    const source = sourceOf(cmd, o);
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    // A secret file's path is masked as the secret is: it may be the secret itself, pasted where the path belongs.
    // A URL's user and password are masked too (also `user:password@host:port`): the export refuses them, but
    // this shows what was given.
    const masked = typeof value === 'string' ? maskUrl(value) : Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? maskUrl(v) : v)) : value;
    const shown = secret(key) ? '***' : JSON.stringify(o.negate ? !masked : masked);
    const from = source === 'env' ? `env ${envName(o)}` : source ?? 'default';
    lines.push(`${key}: ${shown}  # ${from}`);
  }
  return lines.join('\n') + '\n';
}
