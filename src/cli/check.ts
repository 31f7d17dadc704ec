/**
 * `siem check`: the export's configuration, registry, state file and destination, checked without sending an
 * event, one line each. Exit 0 only when every check passes; 2 when a failure is a mistake in the configuration
 * (the exit an export would give it), 1 when only the destination or another runtime condition failed.
 */
import { exportConfig, type ExportConfig } from '../config/export.js';
import { Checkpoint, checkResume } from '../pipeline/checkpoint.js';
import { ROWID_START } from '../registry/rows.js';
import { RegistrySource } from '../registry/source.js';
import { preflight } from '../service/preflight.js';
import { StateLock } from '../service/state-lock.js';
import { ConfigurationError, errorMessage, escapeControls, redact } from '../shared/errors.js';
import type { FlagValues } from '../shared/options.js';
import type { CheckLine } from '../transports/transport.js';
import { openTransport, setUpLog } from './wiring.js';

function print(line: CheckLine): void {
  process.stdout.write(`${line.ok ? 'ok  ' : 'FAIL'}  ${line.what}: ${escapeControls(redact(line.detail))}\n`);
}

export async function runCheck(values: FlagValues): Promise<number> {
  let c: ExportConfig;
  try {
    c = exportConfig(values);
  } catch (err) {
    if (!(err instanceof ConfigurationError)) throw err;
    print({ what: 'configuration', ok: false, detail: err.message });
    return 2;
  }
  setUpLog({ ...c, quiet: true });
  const lines: CheckLine[] = [{ what: 'configuration', ok: true, detail: `${c.format.name} records to ${c.transport.name}` }];
  print(lines[0]!);
  const step = (line: CheckLine): void => {
    lines.push(line);
    print(line);
  };
  // A mistake a restart cannot fix makes the exit 2, as it makes an export's.
  let mistake = false;
  const failed = (what: string, err: unknown): void => {
    if (err instanceof ConfigurationError) mistake = true;
    step({ what, ok: false, detail: errorMessage(err) });
  };
  const verdict = (): number => (lines.every((l) => l.ok) ? 0 : mistake ? 2 : 1);
  let source: RegistrySource | null = null;
  try {
    source = RegistrySource.open(c.db, { maxRowBytes: c.maxRowBytes });
    step({ what: 'registry', ok: true, detail: `${c.db} opens read-only; newest rowid ${source.maxRowid()}` });
  } catch (err) {
    failed('registry', err);
  }
  if (c.state) {
    try {
      StateLock.acquire(c.state).release();
      // Loaded and held against the registry as the export does, so a state file the export refuses fails here.
      const cp = source ? Checkpoint.open(c.state, { registryId: c.registryId, database: c.db }) : null;
      if (cp) checkResume(cp, source!);
      const resumes = cp && cp.lastRowid > ROWID_START ? `; the export resumes after rowid ${cp.lastRowid}` : '';
      step({ what: 'state file', ok: true, detail: `${c.state} is free for this exporter${resumes}` });
    } catch (err) {
      failed('state file', err);
    }
  }
  source?.close();
  let transport;
  try {
    transport = openTransport(c, () => undefined);
  } catch (err) {
    failed('destination', err);
    return verdict();
  }
  try {
    for (const line of await preflight(c.output, transport, c.http, c.output.startsWith('syslog+udp:'))) step(line);
  } finally {
    await transport.close().catch(() => undefined);
  }
  return verdict();
}
