/**
 * The entry: parse, run, and turn the outcome into an exit code (exit.ts). Every failure is one line on stderr
 * with secrets masked; this is the only place the process is told to exit.
 */
import type { Command } from 'commander';
import { redact } from '../shared/errors.js';
import { log, type LogFormat } from '../shared/log.js';
import { checkUnknownVariables } from './env.js';
import { EXIT, exitVerdict } from './exit.js';
import { buildProgram, deliveringCommandOf, knownVariables, type Actions } from './program.js';
import { usageErrorLine, usageErrorOutput } from './usage-error.js';

function quit(code: number): never {
  process.exit(code);
}

/** `siem content` and `siem setup`: their modules load only when one of them is on the command line. */
async function addSiemSide(siem: Command, argv: readonly string[]): Promise<void> {
  const wanted = argv.includes('content') || argv.includes('setup') || argv.includes('completion');
  if (!wanted) {
    siem.command('content').description('write the SIEM side (tables, templates, app, parsers, rules, dashboards) for one SIEM into a folder');
    siem.command('setup').description('install the SIEM side over its REST API (Elasticsearch templates and pipeline, Kibana dashboard and rules)');
    return;
  }
  const [{ addContentCommand }, { addSetupCommand }] = await Promise.all([import('./content.js'), import('./setup.js')]);
  addContentCommand(siem);
  addSetupCommand(siem);
}

/**
 * The log format of the command on the command line, as far as it is known before its options are parsed: its
 * --log-format flag, else the variable (a --config file is read only later). Text when the command has no such
 * option or the value is not json; a wrong value is reported by the command itself.
 */
function logFormatBeforeParsing(program: Command, argv: readonly string[]): LogFormat {
  let cmd = program;
  for (const word of argv.slice(2)) {
    const sub = cmd.commands.find((c) => c.name() === word);
    if (!sub) break;
    cmd = sub;
  }
  const option = cmd.options.find((o) => o.long === '--log-format');
  if (!option) return 'text';
  let value = option.envVar ? process.env[option.envVar] : undefined;
  for (let i = 2; i < argv.length && argv[i] !== '--'; i++) {
    if (argv[i] === '--log-format') value = argv[i + 1];
    else if (argv[i]!.startsWith('--log-format=')) value = argv[i]!.slice('--log-format='.length);
  }
  return value === 'json' ? 'json' : 'text';
}

export async function main(argv: string[]): Promise<void> {
  // SIGUSR1 would open Node's inspector on 127.0.0.1:9229 to anyone on the machine who may signal us.
  process.on('SIGUSR1', () => undefined);
  // A reader that went away (`| head`) ends the export the way SIGPIPE ends other tools: quietly. Nothing past
  // the last completed write was checkpointed, so a later run resumes there.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') quit(141);
  });
  const ctx = { quit };
  const outcome = { code: EXIT.ok };
  const actions: Actions = {
    export: async (v) => (await import('./export.js')).runExport(v, ctx),
    replay: async (v) => (await import('./replay.js')).runReplay(v, ctx),
    verify: async (v) => (await import('./verify.js')).runVerifyCommand(v),
    check: async (v) => (await import('./check.js')).runCheck(v),
    demo: async (v) => (await import('./demo.js')).runDemo(v, ctx),
    content: null,
  };
  const only = deliveringCommandOf(argv);
  const program = buildProgram(actions, outcome, only);
  const siem = program.commands.find((c) => c.name() === 'siem')!;
  await addSiemSide(siem, argv);
  program
    .command('completion')
    .description('print a shell completion script: eval "$(oversight completion bash)" (or zsh)')
    .argument('<shell>', 'bash or zsh')
    .action(async (shell: string) => {
      const { completionScript } = await import('./completion.js');
      process.stdout.write(completionScript(shell, program));
    });
  // Mistakes in the options are found before a command sets up its log: they follow the format already.
  log.format = logFormatBeforeParsing(program, argv);
  // Commander's message and its "(Did you mean …?)" stay on one line; in JSON, one record like any other error.
  const outputError = (cmd: Command) => {
    const oneLine = usageErrorOutput(cmd);
    // JSON quotes controls itself: the record gets the line as it is, not shown a second time.
    return (s: string, write: (s: string) => void): void =>
      log.format === 'json' ? log.error(usageErrorLine(s, cmd).trim().replace(/^error: /, '')) : oneLine(s, write);
  };
  program.exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(redact(s)), outputError: outputError(program) });
  for (const sub of program.commands.flatMap((c) => [c, ...c.commands])) {
    sub.exitOverride();
    sub.configureOutput({ outputError: outputError(sub) });
  }
  try {
    if (argv.length <= 2) {
      program.outputHelp({ error: true });
      quit(EXIT.usage);
    }
    // Before anything is read or sent, and for the commands that deliver. A variable the command that runs does
    // not read may be another's (a service's environment file shared by export and verify): the whole tree says.
    program.hook('preSubcommand', (_cmd, sub) => {
      if (sub.name() !== 'siem' && sub.name() !== 'demo') return;
      const known = knownVariables(program);
      const foreign = Object.keys(process.env).some((k) => k.startsWith('OVERSIGHT_') && !known.has(k));
      checkUnknownVariables(foreign && only !== null ? knownVariables(buildProgram(actions)) : known);
    });
    await program.parseAsync(argv);
    process.exitCode = outcome.code;
  } catch (err) {
    const v = exitVerdict(err);
    if (v.message) log.error(v.message);
    if (v.code === EXIT.failure && process.env['OVERSIGHT_DEBUG'] && err instanceof Error && err.stack) process.stderr.write(redact(err.stack) + '\n');
    quit(v.code);
  }
}
