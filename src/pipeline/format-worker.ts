/** The entry of a formatting worker thread: its messages go to a range formatter (range-formatter.ts). */
import { parentPort } from 'node:worker_threads';
import { rangeFormatter } from './range-formatter.js';

const port = parentPort!;
port.on('message', rangeFormatter((answer, transfer) => port.postMessage(answer, transfer), () => port.close()));
