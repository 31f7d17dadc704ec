/**
 * Turning a checked configuration into running parts: the transport (which may read secrets from files and the
 * environment), dead-letter files and the record spec. Everything that touches the disk or a socket starts here,
 * after the configuration step found nothing wrong.
 */
import type { DeliveryConfig } from '../config/delivery.js';
import type { ExportConfig } from '../config/export.js';
import { DeadLetterFile } from '../pipeline/dead-letter.js';
import type { Entry } from '../pipeline/encoder.js';
import { log as logger, type LogFields } from '../shared/log.js';
import { loadPrivacy } from '../records/pseudonymize.js';
import type { RecordSpec } from '../records/spec.js';
import { headerLines } from '../shared/secrets.js';
import { parseHeaders, type Transport } from '../transports/transport.js';
import { instantiate } from '../transports/index.js';

/** The logger set up from the configuration; returns the info-level writer commands report through. */
export function setUpLog(c: { quiet: boolean; logFormat: 'text' | 'json' }): (message: string, fields?: LogFields) => void {
  logger.format = c.logFormat;
  logger.quiet = c.quiet;
  return (message, fields) => logger.info(message, fields);
}

export function openTransport(c: DeliveryConfig, say: (message: string) => void): Transport {
  const headers = { ...c.headers, ...parseHeaders(headerLines(c.headerFile), '--header-file') };
  return instantiate(c.transport, {
    output: c.output, flags: c.transportOptions, headers, format: c.format, compress: c.compress, env: process.env, log: say, http: c.http,
  });
}

/** How records are made for this export; the one step of it that reads a file is the pseudonym key. */
export function recordSpec(c: ExportConfig): RecordSpec {
  return { format: c.format.name, settings: c.formatSettings, envelope: c.envelope, privacy: loadPrivacy(c.privacy) };
}

/** Dead letters are JSON lines: a text record (CEF, LEEF, anything in a syslog envelope) goes in as a JSON string. */
export function openDeadLetters(file: string, c: DeliveryConfig): DeadLetterFile {
  if (c.format.records === 'json' && !c.envelope) return new DeadLetterFile(file, c.transport.name, c.format.name);
  return new (class extends DeadLetterFile {
    override write(entry: Entry, status: number, error: string): void {
      // Named one by one: a span entry's event id and record are getters, which a spread would not copy.
      const { rowid, event_id, registry_id, bytes } = entry;
      super.write({ rowid, event_id, registry_id, bytes, record: JSON.stringify(entry.record.toString()) }, status, error);
    }
  })(file, c.transport.name, c.format.name);
}
