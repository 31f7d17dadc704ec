/** Plumbing for the hostile-row tests: registries with huge rows, and a child process's own memory figures. */
import Database from 'better-sqlite3';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { spawnCli, type CliResult } from './helpers.js';

/** A JSON object of `keys` distinct keys, each value `width` characters: about keys × (width + 12) bytes. */
export function wideObject(keys: number, width = 4): string {
  const parts: string[] = [];
  const v = 'v'.repeat(width);
  for (let i = 0; i < keys; i++) parts.push(`"k${i}":"${v}"`);
  return '{' + parts.join(',') + '}';
}

/** Put `extra` into the row with this id. */
export function setExtra(file: string, id: number, extra: string): void {
  const db = new Database(file);
  try {
    db.prepare('UPDATE events SET extra = ? WHERE id = ?').run(extra, id);
  } finally {
    db.close();
  }
}

/** The peak resident set of a live process as the kernel counts it (VmHWM, in MB), or null once it is gone. */
export function peakRssMb(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** CPU time a live process has used so far, in seconds (utime + stime from /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat, counted from after the command name (which starts at field 3).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Run the CLI like `runCli`, sampling its peak RSS until it exits; killed after `timeoutMs`. */
export function runCliMeasured(args: string[], timeoutMs = 60_000): Promise<CliResult & { peakMb: number }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawnCli(args);
    let stdout = '';
    let stderr = '';
    let peakMb = 0;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const sample = setInterval(() => {
      const mb = peakRssMb(child.pid!);
      if (mb !== null) peakMb = Math.max(peakMb, mb);
    }, 20);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', () => clearInterval(sample));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, peakMb });
    });
  });
}
