/**
 * Settings from the environment, for services: every flag of the delivering commands can also be set as
 * OVERSIGHT_<FLAG> (`--registry-id` → OVERSIGHT_REGISTRY_ID), with the flag winning, and secrets can be read
 * from files, including the systemd credentials directory, so none has to go on a command line.
 */
import { Command, Option } from 'commander';
import type { EventEmitter } from 'node:events';
import { ConfigurationError } from '../shared/errors.js';
import { SWITCH_OFF, SWITCH_ON, variableOf } from '../shared/options.js';

export function envName(option: Option): string {
  return variableOf(option.long ?? '');
}

/**
 * A switch whose variable says false is set off from `env`, so a config file cannot turn it on: a shared file with
 * `insecure: true` is overridden by OVERSIGHT_INSECURE=false. Commander sets a switch on whatever the value, so its
 * handler for the variable is replaced. `--no-preflight` stores `preflight`: off for it is true.
 */
function switchedOff(cmd: Command, option: Option): void {
  const event = `optionEnv:${option.name()}`;
  (cmd as unknown as EventEmitter).removeAllListeners(event);
  cmd.on(event, () => cmd.setOptionValueWithSource(option.attributeName(), option.negate, 'env'));
}

/**
 * Give every option of `commands` its environment variable. Commander applies a variable only where no flag was
 * given (flags win) and before checking required options. A switch's value is read here: true/1/yes/on turn it on,
 * false/0/no/off or empty turn it off (over the config file), anything else is a usage error.
 */
export function settableFromEnv(commands: readonly Command[], env: NodeJS.ProcessEnv = process.env): void {
  for (const cmd of commands) {
    const problems: string[] = [];
    // Commander wires an option's variable when the option is added, so each option is added again with it.
    const options = [...(cmd.options as Option[])];
    (cmd.options as Option[]).length = 0;
    for (const option of options) {
      (cmd as unknown as EventEmitter).removeAllListeners(`option:${option.name()}`);
      let off = false;
      if (option.long && !option.envVar) {
        const name = envName(option);
        if (option.required || option.optional) option.env(name);
        else {
          const value = env[name]?.trim().toLowerCase();
          if (value !== undefined && (SWITCH_ON.has(value) || SWITCH_OFF.has(value))) {
            option.env(name);
            off = SWITCH_OFF.has(value);
          } else {
            if (value !== undefined) problems.push(`${name} must be true or false, not '${env[name]}'`);
            // Listed in the help all the same, so the name can be found.
            option.description += ` (env: ${name}=true)`;
          }
        }
      }
      cmd.addOption(option);
      if (off) switchedOff(cmd, option);
    }
    if (problems.length > 0) {
      cmd.hook('preAction', () => {
        throw new ConfigurationError(problems[0]!);
      });
    }
  }
}



/** The closest of `names` to `word` within a few edits, for "did you mean". */
export function suggest(word: string, names: readonly string[]): string | null {
  let best: string | null = null;
  let bestCost = Math.max(3, Math.floor(word.length / 4)) + 1;
  for (const n of names) {
    const cost = editDistance(word.toUpperCase(), n.toUpperCase());
    if (cost < bestCost) {
      best = n;
      bestCost = cost;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * Refuse OVERSIGHT_* variables no option or transport reads: a misspelt OVERSIGHT_PSEUDONYMISE would otherwise
 * export raw personal data without a word. `known` lists every variable some part of the tool reads.
 */
export function checkUnknownVariables(known: ReadonlySet<string>, env: NodeJS.ProcessEnv = process.env): void {
  const unknown = Object.keys(env).filter((k) => k.startsWith('OVERSIGHT_') && !known.has(k)).sort();
  if (unknown.length === 0) return;
  const names = [...known];
  const parts = unknown.map((k) => {
    const s = suggest(k, names);
    return s ? `${k} (did you mean ${s}?)` : k;
  });
  throw new ConfigurationError(
    `unknown environment variable${unknown.length > 1 ? 's' : ''} ${parts.join(', ')}: nothing reads ${unknown.length > 1 ? 'them' : 'it'}; ` +
      'fix the name or unset it (oversight siem export --help lists every variable)',
  );
}

/** Every OVERSIGHT_* variable the commands' options take. */
export function optionVariables(commands: readonly Command[]): string[] {
  return commands.flatMap((c) => (c.options as Option[]).filter((o) => o.long).map((o) => envName(o)));
}
