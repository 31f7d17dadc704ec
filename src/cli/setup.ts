/** `oversight siem setup elasticsearch|kibana`: flags in, one target set up, one line per object out. */
import { headerLines } from '../shared/secrets.js';
import { DEFAULTS } from '../shared/defaults.js';
import { Command } from 'commander';
import { usageErrorOutput } from './usage-error.js';
import { parseDuration } from '../shared/options.js';
import { ConfigurationError, escapeControls, redact } from '../shared/errors.js';
import { RETRY_DEFAULTS } from '../pipeline/retry.js';
import { parseHeaders } from '../transports/transport.js';
import { ELASTICSEARCH_TARGET, setupElasticsearch, type StepResult } from '../setup/elasticsearch.js';
import { KIBANA_TARGET, setupKibana } from '../setup/kibana.js';
import { authHeaders, RestClient } from '../setup/rest.js';

export interface SetupFlags {
  url: string;
  header?: string[];
  headerFile?: string;
  caFile?: string;
  insecure?: boolean;
  timeout?: string;
  retryMaxDuration?: string;
  dryRun?: boolean;
  quiet?: boolean;
}

const TARGETS = {
  elasticsearch: {
    target: ELASTICSEARCH_TARGET,
    run: (client: RestClient, hint: (m: string) => void) => setupElasticsearch(client, undefined, hint),
    description: 'install the ingest pipeline, component templates and index template for logs-oversight.beacon-*',
    example: 'https://localhost:9200',
  },
  kibana: {
    target: KIBANA_TARGET,
    run: (client: RestClient, _hint: (m: string) => void) => setupKibana(client),
    description: 'import the Oversight dashboard and the Elastic Security detection rules',
    example: 'https://localhost:5601 (or …/s/<space> for a space)',
  },
} as const;

/** Setup is a handful of requests: a shorter retry budget than an export's. */
const SETUP_RETRY = '2m';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function addSetupCommand(siem: Command): Command {
  const setup = siem.command('setup').description('install the SIEM side over its REST API (Elasticsearch templates and pipeline, Kibana dashboard and rules)');
  for (const [name, t] of Object.entries(TARGETS)) {
    const cmd = setup
      .command(name)
      .description(t.description)
      .requiredOption('--url <url>', `${t.target.name} URL, e.g. ${t.example}`)
      .option('--header <header>', "extra HTTP header 'Name: value', e.g. 'Authorization: ApiKey <key>' (repeatable; visible in ps: prefer --header-file)", collect, [])
      .option('--header-file <file>', "HTTP headers from a file, one 'Name: value' a line (credential:NAME reads a systemd credential)")
      .option('--ca-file <pem>', `trust this CA for the ${t.target.name} certificate`)
      .option('--insecure', `do not verify the ${t.target.name} certificate (testing only)`, false)
      .option('--timeout <duration>', 'timeout of one HTTP request', DEFAULTS.timeout)
      .option('--retry-max-duration <duration>', 'how long one request may be retried before setup fails (e.g. 90s, 5m)', SETUP_RETRY)
      .option('--dry-run', 'print each request a first install makes (method, path, body) and send nothing', false)
      .option('--quiet', 'print nothing but errors', false)
      .action(async (opts: SetupFlags) => {
        await runSetup(name as keyof typeof TARGETS, opts);
      });
    // The CLI's entry point turns usage errors into exit 2 for the first two command levels; this is the third.
    cmd.exitOverride();
    cmd.configureOutput({ outputError: usageErrorOutput(cmd) });
  }
  return setup;
}

function summary(name: string, results: readonly StepResult[]): string {
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
  const changed = (counts.get('created') ?? 0) + (counts.get('updated') ?? 0);
  const parts = ['created', 'updated', 'unchanged', 'kept'].filter((o) => counts.has(o)).map((o) => `${counts.get(o)} ${o === 'kept' ? 'kept as you have it' : o}`);
  return `${name} setup: ${parts.join(', ')}${changed === 0 ? ' (nothing to change)' : ''}`;
}

export async function runSetup(name: keyof typeof TARGETS, f: SetupFlags): Promise<void> {
  const t = TARGETS[name];
  if (!f.url) throw new ConfigurationError('--url is required');
  const timeoutMs = parseDuration(f.timeout ?? DEFAULTS.timeout, '--timeout');
  if (timeoutMs < 1) throw new ConfigurationError('--timeout must be more than 0');
  const retry = { ...RETRY_DEFAULTS, maxDurationMs: parseDuration(f.retryMaxDuration ?? SETUP_RETRY, '--retry-max-duration') };
  const headers = authHeaders({ ...parseHeaders(f.header ?? []), ...parseHeaders(headerLines(f.headerFile), '--header-file') }, process.env);
  const say = (m: string): void => {
    // Names in these lines can come from the server (data streams): shown, never obeyed, and no secret in them.
    if (!f.quiet) process.stderr.write(escapeControls(redact(`oversight: ${m}`)) + '\n');
  };
  const client = new RestClient(t.target, {
    url: f.url, headers, retry, dryRun: f.dryRun ?? false,
    http: { caFile: f.caFile ?? null, insecure: f.insecure ?? false, timeoutMs },
    print: (text) => process.stdout.write(text),
    log: say,
  });
  try {
    const results = await t.run(client, say);
    if (client.dryRun) {
      say(`${name} setup --dry-run: nothing was sent; the requests above are what a first install sends`);
      return;
    }
    for (const r of results) say(`${r.what} ${r.name}: ${r.outcome === 'kept' ? 'exists, kept as you have it' : r.outcome}`);
    if (!f.quiet) process.stderr.write(summary(name, results) + '\n');
  } finally {
    await client.close();
  }
}
