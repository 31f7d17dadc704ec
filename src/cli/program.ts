/**
 * The command tree, built from the option specs (config/options.ts) and the format and transport registries:
 * every flag, its default, its variable and its place in the help come from those lists. Content and setup
 * load their modules only when they run.
 */
import { Command, Option } from 'commander';
import { DELIVERY, DEMO, EXPORT, PRIVACY, REPLAY } from '../config/options.js';
import { longName, type FlagSpec, type OptionGroup } from '../shared/options.js';
import { FORMAT_NAMES, FORMATS } from '../records/formats/index.js';
import { TRANSPORT_NAMES, TRANSPORTS, URL_SCHEMES } from '../transports/index.js';
import { applyConfigFile, CONFIG_FLAG, printConfig } from './config-file.js';
import { EMPTY_LEAVES_OUT, refuseEmptyValues } from './empty-values.js';
import { optionVariables, settableFromEnv } from './env.js';
import { VERSION } from '../shared/version.js';
import { VERIFY, VERIFY_QUERY, VERIFY_VARIABLES } from './verify-options.js';

export { VERSION };

/** What a command's action gets: the option values, and the exit code it decided on comes back. */
export type Action = (values: Record<string, unknown>) => Promise<number>;
export interface Actions {
  export: Action;
  replay: Action;
  verify: Action;
  check: Action;
  demo: Action;
  /** Loaded only when `siem content` or `siem setup` is on the command line. */
  content: ((siem: Command) => Promise<void>) | null;
}

const GROUPS: Record<OptionGroup, string> = {
  common: 'Options:',
  format: 'Format options:',
  transport: 'Transport options:',
  service: 'Service options (follow mode, state, metrics):',
  privacy: 'Privacy options:',
};

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** A flag as a spec declares it. Transports of one family (syslog, RELP) share flags: the first declaration wins. */
function addFlag(cmd: Command, spec: FlagSpec, group?: string): void {
  const opt = new Option(spec.flags, spec.description);
  if (cmd.options.some((o) => o.long === opt.long)) return;
  if (spec.choices) opt.choices(spec.choices);
  if (spec.repeatable) opt.argParser(collect).default([]);
  else if (spec.default !== undefined) opt.default(spec.default);
  opt.helpGroup(group ?? GROUPS[spec.group ?? 'common']);
  if (spec.emptyLeavesOut) EMPTY_LEAVES_OUT.add(opt);
  cmd.addOption(opt);
}

function addAll(cmd: Command, specs: Record<string, FlagSpec>, skip: readonly string[] = []): void {
  for (const [k, s] of Object.entries(specs)) if (!skip.includes(k)) addFlag(cmd, s);
}

function outputHelp(): string {
  const detected = TRANSPORTS.filter((t) => t.detect).map((t) => t.name);
  const schemes = URL_SCHEMES.filter((s) => s !== 'http://' && s !== 'https://');
  return `${DELIVERY.output.description}: http(s):// (${detected.join(', ')} recognized, else http)${schemes.length ? `, ${schemes.join(', ')}` : ''}`;
}

/** Per-transport options, each under its transport's heading, with the variables it reads. */
function addTransportOptions(cmd: Command): void {
  for (const t of TRANSPORTS) for (const spec of t.flags ?? []) addFlag(cmd, spec, `${t.name} options:`);
}

/** The catalogue and the variables, after the options. */
function catalogue(): string {
  const width = Math.max(...[...FORMATS, ...TRANSPORTS].map((x) => x.name.length));
  const line = (name: string, text: string): string => `  ${name.padEnd(width)}  ${text}\n`;
  const compressed = TRANSPORTS.filter((t) => t.compression).map((t) => `${t.name} ${t.compression!.default}`).join(', ');
  const vars = TRANSPORTS.flatMap((t) => (t.env ?? []).map((v) => ({ ...v, t: t.name })));
  const seen = new Set<string>();
  const varLines = vars.filter((v) => !seen.has(v.name) && seen.add(v.name)).map((v) =>
    `  ${v.name}${v.secret ? ` (or ${v.name}_FILE)` : ''}\n      ${v.t}: ${v.description}\n`).join('');
  return `\nFormats:\n${FORMATS.map((f) => line(f.name, f.summary)).join('')}\nTransports:\n${TRANSPORTS.map((t) =>
    line(t.name, `${t.summary}${t.format ? ` (${t.format} records)` : ''}; batches of ${t.batch.maxEvents} events / ${t.batch.maxBytes} bytes`)).join('')}` +
    `\nCompression defaults: ${compressed}; none elsewhere.\n` +
    `\nSecrets and credentials (environment; *_FILE reads the value from a file, credential:NAME a systemd credential):\n${varLines}` +
    '\nEvery option is also a variable: --registry-id is OVERSIGHT_REGISTRY_ID (the flag wins).\n';
}

const EXAMPLES = `
Examples:
  oversight siem export --db registry.sqlite --registry-id reg1 --output https://splunk:8088 --state /var/lib/oversight/splunk.state
  oversight siem export --db registry.sqlite --registry-id reg1 --output https://es:9200 --follow --state es.state --metrics-listen 127.0.0.1:9464
  oversight siem export --db registry.sqlite --registry-id reg1 --output relp://siem:2514 --format cef --follow --state relp.state
  oversight siem export --db registry.sqlite --registry-id reg1 --format ocsf --output events.jsonl
`;

/** Where a command's action leaves the exit code it decided on; the entry turns it into the process's. */
export interface Outcome {
  code: number;
}

/** The commands that deliver records, whose options (a hundred each) are built only for the one that runs. */
export type DeliveringCommand = 'export' | 'replay' | 'verify' | 'check' | 'print';

/**
 * The delivering command a command line runs, or null when it runs another, asks for help or names none: then
 * every command gets its options. Building the options of all five took 6 of the 8 ms the tree took to build,
 * on every run of the command.
 */
export function deliveringCommandOf(argv: readonly string[]): DeliveringCommand | null {
  const args = argv.slice(2);
  if (args.some((a) => a === 'help' || a === '--help' || a === '-h')) return null;
  if (args[0] !== 'siem') return null;
  if (args[1] === 'config') return args[2] === 'print' ? 'print' : null;
  return (['export', 'replay', 'verify', 'check'] as const).find((c) => c === args[1]) ?? null;
}

/**
 * The command tree. With `only`, the other delivering commands are listed without their options: they are never
 * parsed in this run.
 */
export function buildProgram(actions: Actions, outcome: Outcome = { code: 0 }, only: DeliveringCommand | null = null): Command {
  const builds = (c: DeliveringCommand): boolean => only === null || only === c;
  const program = new Command('oversight')
    .description('Deliver Oversight registry beacon events to Splunk, Microsoft Sentinel / Azure Monitor, Elastic and syslog SIEMs.')
    .version(VERSION, '--version')
    .showSuggestionAfterError(true);
  const siem = program.command('siem').description('export registry events to a SIEM, and write or install the SIEM side');

  const exp = siem.command('export').description(`export registry events as ${FORMAT_NAMES.join(', ')} records`);
  if (builds('export')) exportOptions(exp).addHelpText('after', EXAMPLES + catalogue());
  exp.action(async (opts: Record<string, unknown>) => {
    outcome.code = await actions.export(opts);
  });

  const replay = siem.command('replay').description('send the records of a dead-letter file again');
  if (builds('replay')) {
    addFlag(replay, CONFIG);
    addAll(replay, REPLAY);
    addAll(replay, DELIVERY, ['deadLetter']);
    addTransportOptions(replay);
    replay.addHelpText('after', catalogue());
  }
  replay.action(async (opts: Record<string, unknown>) => {
    outcome.code = await actions.replay(opts);
  });

  const verify = siem
    .command('verify')
    .description('check that the SIEM holds every registry event exactly once and unchanged; --repair re-sends what is missing');
  if (builds('verify')) {
    addFlag(verify, CONFIG);
    // The export's own settings that decide what it wrote: its rows, its record format and its pseudonyms.
    for (const k of ['db', 'registryId', 'format', 'since', 'maxRowBytes'] as const) addFlag(verify, EXPORT[k]);
    addAll(verify, PRIVACY);
    addAll(verify, VERIFY);
    addAll(verify, VERIFY_QUERY);
    for (const f of FORMATS) for (const spec of f.flags ?? []) addFlag(verify, spec, `${f.name} format options:`);
    addAll(verify, DELIVERY);
    addTransportOptions(verify);
  }
  verify.action(async (opts: Record<string, unknown>) => {
    outcome.code = await actions.verify(opts);
  });

  const check = siem.command('check').description('check the configuration, the registry, the state file and the destination without sending an event');
  if (builds('check')) exportOptions(check);
  check.action(async (opts: Record<string, unknown>) => {
    outcome.code = await actions.check(opts);
  });

  const demo = program.command('demo').description('write a realistic demo registry and export it');
  addAll(demo, DEMO);
  demo.hook('preAction', refuseEmptyValues);
  demo.action(async (opts: Record<string, unknown>) => {
    outcome.code = await actions.demo(opts);
  });

  const config = siem.command('config').description('show the configuration a command would run with');
  const print = config.command('print').description('print the effective `siem export` configuration, where each value came from, secrets masked');
  if (builds('print')) exportOptions(print);
  print.action(() => {
    process.stdout.write(printConfig(print, (key) => SECRET_KEYS.has(key)));
  });

  // Services set what the delivering commands take as OVERSIGHT_* variables (see contrib/systemd).
  const delivering = ([['export', exp], ['replay', replay], ['print', print], ['verify', verify], ['check', check]] as const)
    .filter(([name]) => builds(name)).map(([, cmd]) => cmd);
  settableFromEnv(delivering);
  for (const cmd of delivering) {
    for (const o of cmd.options) {
      if (o.long === '--output') o.description = outputHelp();
      if (o.long === '--transport') o.choices(TRANSPORT_NAMES);
      if (o.long === '--format' && cmd !== replay) o.choices(FORMAT_NAMES);
    }
    // The file fills what neither a flag nor a variable set.
    cmd.hook('preAction', async (c) => {
      refuseEmptyValues(c);
      const file = c.getOptionValue('config') as string | undefined;
      if (file) await applyConfigFile(c, file);
    });
  }
  return program;
}

const CONFIG = { flags: CONFIG_FLAG, description: 'read options from this YAML file (keys are the long flag names; flags and OVERSIGHT_* variables win)' };

/** Option names whose values are secrets, from every spec that says so. */
const SECRET_KEYS = new Set(
  [...Object.values(DELIVERY), ...Object.values(EXPORT), ...Object.values(VERIFY), ...Object.values(VERIFY_QUERY), ...TRANSPORTS.flatMap((t) => t.flags ?? [])].filter((s) => s.secret).map((s) => longName(s.flags)),
);

/** The options of `siem export` (and of `config print`, which shows what an export would get). */
function exportOptions(cmd: Command): Command {
  addFlag(cmd, CONFIG);
  addAll(cmd, EXPORT);
  for (const f of FORMATS) for (const spec of f.flags ?? []) addFlag(cmd, spec, `${f.name} format options:`);
  addAll(cmd, DELIVERY);
  // What --verify-every asks the SIEM with: the options of siem verify's query side.
  addAll(cmd, VERIFY_QUERY);
  addTransportOptions(cmd);
  return cmd;
}

/** Every OVERSIGHT_* variable something reads: the options' and the transports', with the *_FILE forms of secrets. */
export function knownVariables(program: Command): Set<string> {
  const commands = program.commands.flatMap((c) => [c, ...c.commands]);
  const known = new Set<string>([...optionVariables(commands), 'OVERSIGHT_DEBUG']);
  for (const v of [...TRANSPORTS.flatMap((t) => t.env ?? []), ...VERIFY_VARIABLES]) {
    known.add(v.name);
    if (v.secret) known.add(`${v.name}_FILE`);
  }
  return known;
}
