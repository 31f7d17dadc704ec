/**
 * Options that formats and transports declare in their own files, and the checks every option shares. A spec
 * states its flag, help, default and parser once; the CLI, the environment variables, the config file and the
 * help are all built from the specs, and the code reads values through `spec.read`, so no default is repeated.
 * Nothing here knows about the command-line parser.
 */
import { ConfigurationError } from './errors.js';

export type OptionGroup = 'common' | 'transport' | 'format' | 'service' | 'privacy';

/** The variable that sets a flag: `--registry-id` → OVERSIGHT_REGISTRY_ID. */
export function variableOf(long: string): string {
  return 'OVERSIGHT_' + long.replace(/^--/, '').replace(/-/g, '_').toUpperCase();
}

/** What a switch's variable may say, for on and for off. */
export const SWITCH_ON: ReadonlySet<string> = new Set(['1', 'true', 'yes', 'on']);
export const SWITCH_OFF: ReadonlySet<string> = new Set(['0', 'false', 'no', 'off', '']);

export interface FlagSpec {
  /** The flag as typed: `--es-index <name>`, `--splunk-ack`. */
  flags: string;
  description: string;
  /** Applied when the flag is absent (also for library callers that pass no flags at all). */
  default?: string | boolean;
  choices?: readonly string[];
  /** Repeatable: the values arrive as a list. */
  repeatable?: boolean;
  /** Where the help lists it. */
  group?: OptionGroup;
  /** The value holds a secret or names a file that does: never echoed, and masked by `config print`. */
  secret?: boolean;
  /** An empty value is a value: it leaves a field out of each record, as the reference exporter's flag does. */
  emptyLeavesOut?: boolean;
}

/** A declared option with its typed reader. */
export interface OptionSpec<T> extends FlagSpec {
  /** The attribute name the value is filed under (`--es-index` → `esIndex`). */
  readonly key: string;
  /** The value from `values`, its default applied, checked and typed. */
  read(values: FlagValues): T;
}

/** Flag values by attribute name (`--es-index` → `esIndex`): strings until a spec reads them. */
export type FlagValues = Readonly<Record<string, unknown>>;

/** `--es-index <name>` → `es-index`. */
export function longName(flags: string): string {
  const m = /--([a-z0-9][a-z0-9-]*)/i.exec(flags);
  if (!m) throw new Error(`option spec without a long flag: ${flags}`);
  return m[1]!;
}

/** The attribute name a flag's value is filed under: `--es-index` → `esIndex`, `--no-preflight` → `preflight`. */
export function flagKey(spec: FlagSpec | string): string {
  const name = longName(typeof spec === 'string' ? spec : spec.flags).replace(/^no-/, '');
  return name.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** Whether the flag takes a value (`<arg>` or `[arg]`) or is a switch. */
export function takesValue(spec: FlagSpec): boolean {
  return /[<[]/.test(spec.flags);
}

/**
 * An option with a parser. `parse` gets the value as given (or the default) and the flag's name for messages;
 * it returns the typed value or throws a ConfigurationError naming the flag and the fix.
 */
export function option<T>(spec: FlagSpec & { parse: (value: string, flag: string) => T }): OptionSpec<T | null>;
export function option(spec: FlagSpec): OptionSpec<string | null>;
export function option<T>(spec: FlagSpec & { parse?: (value: string, flag: string) => T }): OptionSpec<T | string | null> {
  const key = flagKey(spec);
  const flag = `--${longName(spec.flags)}`;
  return {
    ...spec,
    key,
    read(values: FlagValues): T | string | null {
      const raw = values[key] ?? spec.default;
      if (raw === undefined || raw === null) return null;
      const text = typeof raw === 'string' ? raw : String(raw);
      // Empty is a mistake (`--state=`), not the option left out: it would run as if none had been asked for.
      if (text.trim() === '' && !spec.emptyLeavesOut) throw new ConfigurationError(`${flag} is empty: give it a value, or leave it out`);
      return spec.parse ? spec.parse(text, flag) : text;
    },
  };
}

/** A switch: true when given (or defaulted on). */
export function switchOption(spec: FlagSpec): OptionSpec<boolean> {
  const key = flagKey(spec);
  return { ...spec, key, read: (values) => (values[key] ?? spec.default ?? false) === true };
}

/** A repeatable option: every value given, in order. */
export function listOption(spec: FlagSpec): OptionSpec<string[]> {
  const key = flagKey(spec);
  return {
    ...spec,
    repeatable: true,
    key,
    read: (values) => {
      const v = values[key];
      return Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : [];
    },
  };
}

/** `values` with each declared flag's default filled in where it is missing. */
export function withDefaults(specs: readonly FlagSpec[], values: FlagValues): FlagValues {
  const out: Record<string, unknown> = { ...values };
  for (const s of specs) {
    const k = flagKey(s);
    if (out[k] === undefined && s.default !== undefined) out[k] = s.default;
  }
  return out;
}

/** A flag value as text, or null when not given. */
export function textFlag(values: FlagValues, key: string): string | null {
  const v = values[key];
  return typeof v === 'string' ? v : null;
}

export function parseCount(value: string | undefined, flag: string, min = 0): number | null {
  if (value === undefined) return null;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new ConfigurationError(`${flag} must be a whole number${min > 0 ? ` of at least ${min}` : ' (0 or more)'}, not '${value}'`);
  }
  return Number(value);
}

/** A parser for `option`: a whole number of at least `min`. */
export const count = (min = 0) => (value: string, flag: string): number => parseCount(value, flag, min)!;

/**
 * The longest duration any option takes. Node's timers wait at most 2^31-1 ms (24.8 days) and fire at once
 * beyond it: a longer --timeout would end every request at once, a longer interval would spin. 596h is the
 * last whole hour under that limit, so the message can name it exactly.
 */
export const MAX_DURATION = '596h';
export const MAX_DURATION_MS = 596 * 3_600_000;

/**
 * "90", "90s", "500ms", "5m", "1h" → milliseconds (a bare number is seconds). Zero is refused unless `allowZero`:
 * a zero timeout, interval or wait either fails at once or spins.
 */
export function parseDuration(value: string, flag: string, allowZero = false): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new ConfigurationError(`${flag} must be a duration such as 500ms, 30s, 5m or 1h, not '${value}'`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
  if (ms < 1 && !allowZero) throw new ConfigurationError(`${flag} must be more than 0, not '${value}'`);
  if (!(ms <= MAX_DURATION_MS)) throw new ConfigurationError(`${flag} must be at most ${MAX_DURATION} (24.8 days), not '${value}'`);
  return ms;
}

/** A parser for `option`: a duration in milliseconds. */
export const duration = (value: string, flag: string): number => parseDuration(value, flag);
