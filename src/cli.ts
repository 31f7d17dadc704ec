#!/usr/bin/env node
/** `oversight`: the command-line entry (cli/main.ts). */
import fs from 'node:fs';
import { main } from './cli/main.js';

const invoked = process.argv[1] ? fs.realpathSync(process.argv[1]) : '';
if (invoked === fs.realpathSync(new URL(import.meta.url).pathname)) {
  void main(process.argv);
}

export { main };
