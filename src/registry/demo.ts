/**
 * A realistic Oversight registry to try the exporter on: the registry's own `beacons`/`events` schema, sealed
 * files with their four beacons, callbacks from registered and unknown tokens, IPv4 and IPv6 sources, DNS
 * callbacks with qname/qtype in `extra`, long browser user agents and some NULLs. Deterministic per seed.
 */
import fs from 'node:fs';
import type Database from 'better-sqlite3';
import { openDatabase } from './sqlite.js';
import { ConfigurationError } from '../shared/errors.js';
import { DEMO_MAX_EVENTS } from '../shared/defaults.js';

export const DEMO_REGISTRY_ID = 'b3c1f0e2a9d84c5f6e7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e';

const SCHEMA = `
CREATE TABLE beacons (
    token_id TEXT PRIMARY KEY,
    file_id TEXT NOT NULL,
    recipient_id TEXT NOT NULL,
    issuer_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    registered_at INTEGER NOT NULL
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id TEXT NOT NULL,
    file_id TEXT,
    recipient_id TEXT,
    issuer_id TEXT,
    kind TEXT NOT NULL,
    source_ip TEXT,
    user_agent TEXT,
    extra TEXT,
    timestamp INTEGER NOT NULL,
    qualified_timestamp TEXT,
    tlog_index INTEGER
);
CREATE INDEX idx_events_token ON events(token_id);
CREATE INDEX idx_events_file ON events(file_id);
`;

const KINDS = ['dns', 'http_img', 'ocsp', 'license'] as const;
const QTYPES = ['A', 'AAAA', 'TXT', 'A', 'A'];
const BROWSER_UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18129; Pro)',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
];
const OCSP_UAS = ['Microsoft-CryptoAPI/10.0', 'ocspd/1.0.3', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0'];
const LICENSE_UAS = ['OversightViewer/1.4.2 (Windows NT 10.0; x64)', 'OversightViewer/1.4.2 (macOS 15.1; arm64)', 'python-httpx/0.27.2'];
const RECIPIENTS = ['alice@partner.example', 'bob@lawfirm.example', 'carol@auditor.example', 'dave@contractor.example', 'erin@board.example'];
const ISSUERS = ['legal@acme.example', 'security@acme.example'];

/** Small deterministic PRNG (mulberry32): the same seed gives the same registry. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(rand() * 16)];
  return s;
}

function iso(ts: number): string {
  return new Date(ts * 1000).toISOString().replace('.000Z', 'Z');
}

export interface DemoOptions {
  events: number;
  seed?: number;
}

/** Refuse an event count a demo registry cannot or should not have, before anything is written. */
export function checkDemoEvents(events: number): void {
  if (!Number.isSafeInteger(events) || events < 1 || events > DEMO_MAX_EVENTS) {
    throw new ConfigurationError(`--events must be a whole number from 1 to ${DEMO_MAX_EVENTS} (10 million), not '${events}'`);
  }
}

/** Write a new demo registry; refuses to touch an existing file. */
export function writeDemoRegistry(path: string, options: DemoOptions): { events: number; beacons: number } {
  const steps = demoRegistrySteps(path, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * The same, one transaction of events per step (yielding the events written so far), so a caller can wait
 * between steps for signals. Left before the end — by `return()` or by an error — it closes the database and
 * removes the file it created: a registry is either complete or not there.
 */
export function* demoRegistrySteps(path: string, options: DemoOptions): Generator<number, { events: number; beacons: number }, void> {
  checkDemoEvents(options.events);
  if (fs.existsSync(path)) {
    throw new ConfigurationError(`${path} already exists: demo only creates new registries (choose another --db)`);
  }
  const rand = prng(options.seed ?? 2026);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  let db: Database.Database;
  try {
    db = openDatabase(path);
  } catch (err) {
    throw new ConfigurationError(`cannot create ${path}: ${(err as Error).message}`);
  }
  let complete = false;
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    db.exec(SCHEMA);
    const base = 1763856000; // 2025-11-23T00:00:00Z
    const fileCount = Math.max(4, Math.min(2000, Math.ceil(options.events / 40)));
    const beacons: { token: string; file: string; recipient: string; issuer: string; kind: string }[] = [];
    const insertBeacon = db.prepare('INSERT INTO beacons VALUES (?,?,?,?,?,?)');
    db.transaction(() => {
      for (let f = 0; f < fileCount; f++) {
        const file = `f-${hex(rand, 16)}`;
        const recipient = pick(RECIPIENTS);
        const issuer = pick(ISSUERS);
        for (const kind of KINDS) {
          const token = hex(rand, 32);
          beacons.push({ token, file, recipient, issuer, kind });
          insertBeacon.run(token, file, recipient, issuer, kind, base - 86400 * 30 + f * 60);
        }
      }
    })();

    const insert = db.prepare(
      'INSERT INTO events (token_id,file_id,recipient_id,issuer_id,kind,source_ip,user_agent,extra,timestamp,qualified_timestamp,tlog_index) VALUES (?,?,?,?,?,?,?,?,?,?,?)',
    );
    let ts = base;
    const chunk = 50_000;
    for (let start = 0; start < options.events; start += chunk) {
      db.transaction(() => {
        for (let i = start; i < Math.min(options.events, start + chunk); i++) {
          // Callbacks often come in bursts: a third share the previous second.
          if (rand() > 0.33) ts += 1 + Math.floor(rand() * 20);
          const registered = rand() > 0.08;
          const b = registered ? pick(beacons) : null;
          const kind = b ? b.kind : pick(KINDS);
          const token = b ? b.token : hex(rand, 32);
          const v6 = rand() < 0.3;
          let ip: string | null = v6
            ? `2001:db8:${hex(rand, 4)}::${hex(rand, 3)}`
            : `${pick(['192.0.2', '198.51.100', '203.0.113'])}.${1 + Math.floor(rand() * 254)}`;
          let ua = '';
          let extra = '{}';
          if (kind === 'dns') {
            if (rand() < 0.05) ip = null;
            // The registry writes extra with Python's json.dumps, spaces included.
            extra = `{"qtype": "${pick(QTYPES)}", "qname": "${token.slice(0, 16)}.t.oversight.example"}`;
          } else if (kind === 'http_img') ua = pick(BROWSER_UAS);
          else if (kind === 'ocsp') ua = pick(OCSP_UAS);
          else ua = pick(LICENSE_UAS);
          insert.run(token, b?.file ?? null, b?.recipient ?? null, b?.issuer ?? null, kind, ip, ua, extra, ts, iso(ts), i);
        }
      })();
      yield Math.min(options.events, start + chunk);
    }
    complete = true;
    return { events: options.events, beacons: beacons.length };
  } finally {
    if (complete) db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    if (!complete) for (const f of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) fs.rmSync(f, { force: true });
  }
}
