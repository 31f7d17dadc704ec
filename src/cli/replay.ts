/** `siem replay`: the records of a dead-letter file, sent again through the ordinary delivery path. */
import fs from 'node:fs';
import path from 'node:path';
import { deliveryConfig } from '../config/delivery.js';
import { DELIVERY, REPLAY } from '../config/options.js';
import { readDeadLetters } from '../pipeline/dead-letter.js';
import { ConfigurationError } from '../shared/errors.js';
import type { FlagValues } from '../shared/options.js';
import { isFormatName } from '../records/formats/index.js';
import { log as logger, parseLogFormat } from '../shared/log.js';
import { runPipeline, type PreparedRecord } from '../pipeline/index.js';
import { parseDuration } from '../shared/options.js';
import { DEFAULTS } from '../shared/defaults.js';
import { Shutdown, signalExitCode } from '../service/signals.js';
import { summary } from './summary.js';
import { openDeadLetters, openTransport, setUpLog } from './wiring.js';


export async function runReplay(values: FlagValues, ctx: { quit(code: number): never }): Promise<number> {
  const input = REPLAY.input.read(values);
  if (!input) throw new ConfigurationError('--dead-letter is required: the dead-letter file to send again');
  const out = REPLAY.output.read(values);
  // Compared as files, not names: records refused again and appended to the file being read would be read again.
  if (out && (path.resolve(out) === path.resolve(input) || sameFile(out, input))) {
    throw new ConfigurationError('--dead-letter-out must be another file than --dead-letter');
  }
  // The delivery options, without the input file posing as a dead-letter output.
  const delivery = { ...values, deadLetter: undefined };
  setUpLog({ quiet: DELIVERY.quiet.read(values), logFormat: parseLogFormat(DELIVERY.logFormat.read(values) ?? undefined) });
  if (!fs.existsSync(input)) throw new ConfigurationError(`dead-letter file not found: ${input}`);
  let format: string | null = null;
  for (const dl of readDeadLetters(input)) {
    if (!isFormatName(dl.format)) throw new ConfigurationError(`${input}, line ${dl.line}: unknown format '${dl.format}'`);
    if (format && dl.format !== format) throw new ConfigurationError(`${input} mixes ${format} and ${dl.format} records: replay each to its own SIEM`);
    format = dl.format;
  }
  if (!format) {
    logger.result(`replayed 0 event(s): ${input} is empty`);
    return 0;
  }
  const c = deliveryConfig(delivery, format, false);
  const say = setUpLog(c);
  const transport = openTransport(c, say);
  const deadLetter = out ? openDeadLetters(out, c) : null;
  // An event dead-lettered twice (an export run again without --state, or stopped after its dead letter was
  // written and before its checkpoint) is sent once: Splunk and Sentinel would keep both copies. The rowids seen
  // are the only memory that grows with the file, a few dozen bytes per dead letter.
  const seen = new Map<string, Set<number>>();
  let repeated = 0;
  const records = (function* (): Generator<PreparedRecord> {
    for (const dl of readDeadLetters(input)) {
      let rows = seen.get(dl.registry_id);
      if (!rows) seen.set(dl.registry_id, (rows = new Set()));
      if (rows.has(dl.rowid)) {
        repeated++;
        continue;
      }
      rows.add(dl.rowid);
      // Text records (CEF, LEEF, or any record inside a syslog envelope) were kept as JSON strings; JSON records as themselves.
      const record = typeof dl.record === 'string' ? dl.record : dl.recordText;
      yield { rowid: dl.rowid, event_id: dl.event_id, registry_id: dl.registry_id, record };
    }
  })();
  // A stop (SIGTERM, SIGINT, SIGHUP) lets the request in flight finish and says how far the replay got: a replay
  // has no checkpoint, so running it again sends every line again.
  let settled = 0;
  const stopped = (sig: NodeJS.Signals): void =>
    logger.info(`stopped by ${sig} with ${settled} dead letter(s) of ${input} sent or set aside: the others were not sent, and a new replay sends every line again`, {
      signal: sig, settled,
    });
  const signals = new Shutdown({
    timeoutMs: parseDuration(DEFAULTS.shutdownTimeout, '--shutdown-timeout'),
    leave: (sig, why) => {
      logger.warn(why, { signal: sig });
      stopped(sig);
      ctx.quit(signalExitCode(sig));
    },
  });
  try {
    const result = await runPipeline({
      source: records, transport, limits: c.limits, retry: c.retry, deadLetter, deadLetterFlag: '--dead-letter-out', stop: signals.signal,
      log: say, warn: (m, f) => logger.warn(m, f), onProgress: (n) => (settled = n),
    });
    const line = summary(result, c, deadLetter).replace(/^exported/, 'replayed');
    const skipped = repeated ? `; ${repeated} dead letter(s) for an event already in the file left out` : '';
    logger.result(line + skipped, { replayed: result.exported, dead_lettered: result.deadLettered, repeated });
    if (result.stopped && signals.received) {
      stopped(signals.received);
      return signalExitCode(signals.received);
    }
  } finally {
    signals.dispose();
    deadLetter?.close();
    await transport.close();
  }
  return 0;
}

/** Two names of one file (a link, a hard link); false when either does not exist yet. */
function sameFile(a: string, b: string): boolean {
  try {
    const x = fs.statSync(a);
    const y = fs.statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}
