/** The one line an export or a replay ends with. */
import type { DeadLetterFile } from '../pipeline/dead-letter.js';
import type { PipelineResult } from '../pipeline/index.js';

export function summary(r: PipelineResult, c: { format: { name: string }; transport: { name: string; local?: string } }, deadLetter: DeadLetterFile | null): string {
  const via = c.transport.local ? '' : ` via ${c.transport.name}`;
  const extras: string[] = [];
  if (r.deadLettered) extras.push(`${r.deadLettered} dead-lettered to ${deadLetter?.file}`);
  if (r.duplicates) extras.push(`${r.duplicates} already present`);
  if (r.retries) extras.push(`${r.retries} retried request(s)`);
  return `exported ${r.exported} event(s) as ${c.format.name}${via}${extras.length ? ` (${extras.join(', ')})` : ''}`;
}
