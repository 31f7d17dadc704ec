/**
 * An empty value is a mistake, not an absent option: `--state=` or `OVERSIGHT_STATE=` would otherwise run without a
 * checkpoint as if none had been asked for, and `OVERSIGHT_OUTPUT=` would fail at the first write. Each is refused
 * by where it came from (the config file's values are checked as it is read).
 */
import type { Command, Option } from 'commander';
import { ConfigurationError } from '../shared/errors.js';
import { sourceOf } from './config-file.js';
import { envName } from './env.js';

/** Options whose empty value leaves a field out of each record (see FlagSpec): an empty one is meant. */
export const EMPTY_LEAVES_OUT = new WeakSet<Option>();

export function refuseEmptyValues(cmd: Command): void {
  for (const option of cmd.options as Option[]) {
    if (!option.long || !(option.required || option.optional) || EMPTY_LEAVES_OUT.has(option)) continue;
    const value = cmd.getOptionValue(option.attributeName()) as unknown;
    const values = Array.isArray(value) ? (value as unknown[]) : [value];
    if (!values.some((v) => typeof v === 'string' && v.trim() === '')) continue;
    const source = sourceOf(cmd, option);
    if (source === 'env') throw new ConfigurationError(`${envName(option)} is set but empty: give it a value, or unset it`);
    if (source === 'flag') throw new ConfigurationError(`${option.long} is empty: give it a value, or leave it out`);
  }
}
