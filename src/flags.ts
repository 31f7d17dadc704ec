/**
 * Flags that formats and transports declare in their own files, and the checks every flag shares. The CLI builds
 * its options and help from these declarations, so a new transport brings its flags along instead of editing the CLI.
 */
import { Option } from 'commander';
import { ConfigurationError } from './errors.js';

export interface FlagSpec {
  /** Commander syntax: `--es-index <name>`, `--splunk-ack`. */
  flags: string;
  description: string;
  /** Applied when the flag is absent (also for library callers that pass no flags at all). */
  default?: string | boolean;
  choices?: readonly string[];
  /** Repeatable: the values arrive as a list. */
  repeatable?: boolean;
}

/** Flag values by commander's attribute name (`--es-index` → `esIndex`): strings until a description checks them. */
export type FlagValues = Readonly<Record<string, unknown>>;

/** The attribute name commander files a flag's value under. */
export function flagKey(spec: FlagSpec): string {
  return new Option(spec.flags).attributeName();
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

/** "90", "90s", "500ms", "5m", "1h" → milliseconds (a bare number is seconds). */
export function parseDuration(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new ConfigurationError(`${flag} must be a duration such as 500ms, 30s, 5m or 1h, not '${value}'`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
}
