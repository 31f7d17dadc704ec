/**
 * A formatting "thread" that is the export's own thread: the range formatter (range-formatter.ts) behind the
 * messages a worker takes, so the export reads, formats and frames whole ranges as a worker does, without a
 * worker's start-up or the hand-over of each chunk (see formatHere). Each range is formatted in a turn of the
 * event loop of its own: the writes of the chunks before it, a receiver's answers and signals are taken between
 * ranges, a few milliseconds apart.
 */
import { EventEmitter } from 'node:events';
import { rangeFormatter, type RangeRequest, type RangeResult, type ThreadReady, type ThreadSetup } from './range-formatter.js';

/** What formatInWorkers needs of a formatting thread; a worker_threads Worker has it too. */
export interface FormatThread {
  postMessage(message: ThreadSetup | RangeRequest | null, transfer?: readonly ArrayBuffer[]): void;
  on(event: 'message', listener: (answer: RangeResult | ThreadReady) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  once(event: 'exit', listener: (code: number) => void): this;
}

export class InThreadFormatter extends EventEmitter implements FormatThread {
  private readonly handle = rangeFormatter(
    (answer) => this.emit('message', answer),
    () => setImmediate(() => this.emit('exit', 0)),
  );

  private readonly queue: (ThreadSetup | RangeRequest | null)[] = [];

  postMessage(message: ThreadSetup | RangeRequest | null): void {
    // Later, as a worker's answer comes later: the caller finishes its turn (and its writes) first.
    if (this.queue.push(message) === 1) setImmediate(() => this.next());
  }

  /**
   * One message per turn of the event loop: messages posted together would otherwise all be handled in one turn,
   * and the first chunk would wait for the second range before it could be written.
   */
  private next(): void {
    const message = this.queue[0]!;
    try {
      this.handle(message);
    } catch (err) {
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
    }
    this.queue.shift();
    if (this.queue.length > 0) setImmediate(() => this.next());
  }
}
