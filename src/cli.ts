#!/usr/bin/env node
/**
 * `oversight`: flags in, stages wired, exit code out. Usage errors exit 2, runtime failures exit 1, and every
 * failure is one line on stderr with secrets masked.
 */
import { Command, CommanderError, Option } from 'commander';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { addContentCommand } from './cli-content.js';
import { addVerifyCommand } from './cli-verify.js';
import { runDemo, runExport, runReplay } from './cli-export.js';
import { settableFromEnv } from './cli-env.js';
import { COMPRESSIONS } from './compress.js';
import { ConfigurationError, errorMessage, ExportError, redact } from './errors.js';
import type { FlagSpec } from './flags.js';
import { FORMAT_NAMES, FORMATS } from './formatters/index.js';
import { log, LOG_FORMATS } from './log.js';
import { addSetupCommand } from './setup/command.js';
import { TRANSPORT_NAMES, TRANSPORTS, URL_SCHEMES } from './transports/index.js';

const pkg = createRequire(import.meta.url)('../package.json') as { version: string };

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** A flag as a format or transport declares it. */
function addFlag(cmd: Command, spec: FlagSpec): Command {
  const opt = new Option(spec.flags, spec.description);
  // Transports of one family (syslog, RELP) share their flags: the first declaration wins.
  if (cmd.options.some((o) => o.long === opt.long)) return cmd;
  if (spec.choices) opt.choices(spec.choices);
  if (spec.repeatable) opt.argParser(collect).default([]);
  else if (spec.default !== undefined) opt.default(spec.default);
  return cmd.addOption(opt);
}

const DETECTED = TRANSPORTS.filter((t) => t.detect).map((t) => t.name);

function outputHelp(): string {
  const schemes = URL_SCHEMES.filter((s) => s !== 'http://' && s !== 'https://');
  return `'-' for stdout (one record per line), a file path (lines appended), or a URL: http(s):// (${DETECTED.join(', ')} recognized, else http)${
    schemes.length ? `, ${schemes.join(', ')}` : ''}`;
}

/** The list of formats and transports under each command's help. */
function catalogue(): string {
  const width = Math.max(...[...FORMATS, ...TRANSPORTS].map((x) => x.name.length));
  const line = (name: string, text: string): string => `  ${name.padEnd(width)}  ${text}\n`;
  return `\nFormats:\n${FORMATS.map((f) => line(f.name, f.summary)).join('')}\nTransports:\n${TRANSPORTS.map((t) =>
    line(t.name, `${t.summary}${t.format ? ` (${t.format} records)` : ''}; batches of ${t.batch.maxEvents} events / ${t.batch.maxBytes} bytes`)).join('')}`;
}

/** Flags shared by `siem export` and `siem replay`: where records go and how. */
function addDeliveryOptions(cmd: Command, withDeadLetter = true): Command {
  if (withDeadLetter) cmd.option('--dead-letter <file>', 'append records the SIEM refuses to this JSON-lines file and keep going');
  cmd
    .option('--output <target>', outputHelp(), '-')
    .addOption(new Option('--transport <name>', 'how to deliver to a URL; auto decides from the URL').choices(TRANSPORT_NAMES).default('auto'))
    .option('--header <header>', "extra HTTP header 'Name: value' (repeatable; values are never printed)", collect, [])
    .option('--header-file <file>', "extra HTTP headers from a file, one 'Name: value' a line (credential:NAME reads a systemd credential)")
    .option('--batch-size <n>', 'events per request (same as --max-batch-events)')
    .option('--max-batch-events <n>', 'events per request (default per transport)')
    .option('--max-batch-bytes <n>', 'bytes per request (default per transport, within the SIEM limit)')
    .option('--retry-max-duration <duration>', 'how long one batch may be retried before the export fails (e.g. 90s, 5m)', '5m')
    .option('--timeout <duration>', 'timeout of one HTTP request', '30s')
    .addOption(new Option('--compress <codec>', 'request body compression (default: gzip for splunk-hec, elasticsearch, azure-logs-ingestion; none for http)').choices(COMPRESSIONS))
    .option('--ca-file <pem>', 'trust this CA for the SIEM certificate')
    .option('--insecure', 'do not verify the SIEM certificate (testing only)', false);
  for (const t of TRANSPORTS) for (const spec of t.flags ?? []) addFlag(cmd, spec);
  return cmd
    .option('--quiet', 'print nothing but errors', false)
    .addOption(new Option('--log-format <format>', 'stderr lines as text, or one JSON object per line').choices(LOG_FORMATS).default('text'))
    .addHelpText('after', catalogue());
}

export function buildProgram(): Command {
  const program = new Command('oversight')
    .description('Deliver Oversight registry beacon events to Splunk, Microsoft Sentinel / Azure Monitor and Elastic.')
    .version(pkg.version, '--version')
    .showSuggestionAfterError(true);

  const siem = program.command('siem').description('export registry events to a SIEM, and write or install the SIEM side');

  const exportCmd = siem
    .command('export')
    .description(`export registry events as ${FORMAT_NAMES.join(', ')} records`)
    .requiredOption('--db <path>', 'registry SQLite database (opened read-only)')
    .addOption(new Option('--format <fmt>', 'record format (default: the one the transport needs)').choices(FORMAT_NAMES))
    .requiredOption('--registry-id <id>', "the registry's identifier (its Ed25519 public key hex or a short id)")
    .option('--since <unix_ts>', 'only events whose timestamp is at or after this Unix time')
    .option('--limit <n>', 'export at most this many events');
  for (const f of FORMATS) for (const spec of f.flags ?? []) addFlag(exportCmd, spec);
  addDeliveryOptions(
    exportCmd
      .option('--state <file>', 'checkpoint file: resume after the last event the SIEM acknowledged')
      .option('--follow', 'keep running and deliver new events as the registry records them', false)
      .option('--poll-interval <duration>', 'with --follow: how often to look for new events', '250ms')
      .option('--flush-interval <duration>', 'with --follow: send a partial batch once it is this old', '500ms')
      .option('--shutdown-timeout <duration>', 'on SIGTERM/SIGINT: how long the request in flight may take before the process leaves anyway', '10s')
      .option('--metrics-listen <host:port>', 'serve Prometheus /metrics and a JSON /healthz here (off by default)')
      .option('--health-stall <duration>', '/healthz answers 503 when events wait and nothing was delivered for this long', '5m')
      .option('--threads <n>', "threads that read and format a large export: 'auto' or a number (1: none)", 'auto')
      .option('--pseudonymize <fields>', 'replace these fields by keyed pseudonyms: comma list of source_ip, recipient_id, issuer_id, user_agent, token_id')
      .option('--pseudonym-key-file <file>', 'file holding the secret pseudonym key (at least 32 bytes)')
      .option('--ip-prefix <v4,v6>', 'keep only the network of source_ip: IPv4 and IPv6 prefix lengths, e.g. 24,64'),
  ).action(async (opts) => {
    await runExport(opts);
  });

  addDeliveryOptions(
    siem
      .command('replay')
      .description('send the records of a dead-letter file again')
      .requiredOption('--dead-letter <file>', 'dead-letter file to read (it is left as it is)')
      .option('--dead-letter-out <file>', 'append records refused again to this file and keep going'),
    false,
  ).action(async (opts) => {
    await runReplay(opts);
  });

  addContentCommand(siem);
  addVerifyCommand(siem);
  addSetupCommand(siem);

  program
    .command('demo')
    .description('write a realistic demo registry and export it')
    .option('--db <path>', 'write the demo registry here and stop (a new file); without it, a temporary registry is exported')
    .option('--events <n>', 'number of events', '300')
    .option('--seed <n>', 'random seed (the same seed gives the same registry)', '2026')
    .addOption(new Option('--format <fmt>', 'format of the export').choices(FORMAT_NAMES).default('splunk'))
    .option('--output <target>', "where the export goes: '-' for stdout or a file path", '-')
    .action(async (opts) => {
      await runDemo(opts);
    });

  // Services set what the commands that deliver take as OVERSIGHT_* variables (see contrib/systemd).
  settableFromEnv(siem.commands);
  return program;
}

function fail(message: string, code: number): never {
  log.error(message);
  process.exit(code);
}

export async function main(argv: string[]): Promise<void> {
  // A reader that went away (`| head`) ends the export the way SIGPIPE ends other tools: quietly. Nothing past
  // the last completed write was checkpointed, so a later run resumes there.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(141);
  });
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({
    writeErr: (s) => process.stderr.write(redact(s)),
    outputError: (s, write) => write(s.split('\n')[0] + '\n'),
  });
  for (const sub of program.commands.flatMap((c) => [c, ...c.commands])) {
    sub.exitOverride();
    sub.configureOutput({ outputError: (s, write) => write(s.split('\n')[0] + '\n') });
  }
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        process.exit(0);
      }
      // Commander already printed its one-line message.
      process.exit(2);
    }
    if (err instanceof ConfigurationError) fail(err.message, 2);
    if (err instanceof ExportError) fail(err.message, 1);
    if (process.env['OVERSIGHT_DEBUG'] && err instanceof Error && err.stack) process.stderr.write(redact(err.stack) + '\n');
    fail(`unexpected error: ${errorMessage(err)} (set OVERSIGHT_DEBUG=1 for details)`, 1);
  }
}

const invoked = process.argv[1] ? fs.realpathSync(process.argv[1]) : '';
if (invoked === fs.realpathSync(new URL(import.meta.url).pathname)) {
  void main(process.argv);
}
