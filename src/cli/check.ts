/**
 * `siem check`: the export's configuration, registry, state file and destination, checked without sending an
 * event, one line each. Exit 0 only when every check passes; 2 when the configuration itself is wrong.
 */
import { exportConfig, type ExportConfig } from '../config/export.js';
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
  try {
    const source = RegistrySource.open(c.db, { maxRowBytes: c.maxRowBytes });
    step({ what: 'registry', ok: true, detail: `${c.db} opens read-only; newest rowid ${source.maxRowid()}` });
    source.close();
  } catch (err) {
    step({ what: 'registry', ok: false, detail: errorMessage(err) });
  }
  if (c.state) {
    try {
      StateLock.acquire(c.state).release();
      step({ what: 'state file', ok: true, detail: `${c.state} is free for this exporter` });
    } catch (err) {
      step({ what: 'state file', ok: false, detail: errorMessage(err) });
    }
  }
  let transport;
  try {
    transport = openTransport(c, () => undefined);
  } catch (err) {
    step({ what: 'destination', ok: false, detail: errorMessage(err) });
    // A bad credential file or header is the same mistake an export refuses with exit 2.
    return err instanceof ConfigurationError ? 2 : 1;
  }
  try {
    for (const line of await preflight(c.output, transport, c.http.timeoutMs, c.output.startsWith('syslog+udp:'))) step(line);
  } finally {
    await transport.close().catch(() => undefined);
  }
  return lines.every((l) => l.ok) ? 0 : 1;
}
