/**
 * Large syslog exports over TCP frame their messages on the formatting threads and write whole chunks: the bytes
 * on the wire, the dead letters and the checkpoints are those of a single-threaded export, and after a receiver
 * hangs up the export carries on over a new connection from a whole message.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { after, before, describe, it } from 'node:test';
import { demoRegistry, jsonLines, registryIds, runCli, tempDir } from './helpers.js';

/** A receiver that keeps every connection's bytes; it can hang up, once, on a connection that sent that many. */
class CapturePeer {
  readonly connections: Buffer[][] = [];
  private readonly server = net.createServer((s) => this.accept(s));
  private dropped = false;
  port = 0;

  constructor(private readonly dropAfter = Infinity) {}

  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  get url(): string {
    return `syslog+tcp://127.0.0.1:${this.port}`;
  }

  private accept(s: net.Socket): void {
    const chunks: Buffer[] = [];
    this.connections.push(chunks);
    let bytes = 0;
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      bytes += d.length;
      if (!this.dropped && bytes > this.dropAfter) {
        this.dropped = true;
        s.destroy();
      }
    });
  }

  /** Everything received, all connections one after the other; and forget it. */
  take(): Buffer {
    const all = Buffer.concat(this.connections.flat());
    this.connections.length = 0;
    return all;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The whole octet-counted messages in `b` (a cut-off one at the end is left out). */
function octetMessages(b: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  for (;;) {
    const sp = b.indexOf(0x20, at);
    if (sp < 0) return out;
    const len = Number(b.subarray(at, sp).toString('latin1'));
    assert.ok(Number.isInteger(len) && len > 0, `frame header at byte ${at}`);
    if (sp + 1 + len > b.length) return out;
    out.push(b.subarray(sp + 1, sp + 1 + len).toString('utf8'));
    at = sp + 1 + len;
  }
}

const eventId = (msg: string): string => /eventId="(\d+)"/.exec(msg)![1]!;

/** A receiver that is down when the first chunk goes, and up 1.5 s later: the chunk is retried, every event arrives once. */
async function receiverDownAtFirst(db: string, extra: string[]): Promise<void> {
  const probe = await new CapturePeer().start();
  const url = probe.url;
  await probe.close();
  const late = new CapturePeer();
  const up = new Promise<void>((resolve) => setTimeout(() => void late.start(probe.port).then(() => resolve()), 1500));
  try {
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', url, '--no-preflight', ...extra], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /retrying in [\d.]+s: .*ECONNREFUSED|retrying in [\d.]+s: .*refused/);
    assert.deepEqual(octetMessages(late.take()).map(eventId), registryIds(db));
  } finally {
    await up;
    await late.close();
  }
}

/** A receiver that hangs up once 3 MB have come: a new connection carries on from a whole message to the last of `events`. */
async function receiverHangsUp(db: string, events: number, extra: string[]): Promise<void> {
  const dropping = await new CapturePeer(3_000_000).start();
  try {
    const state = path.join(tempDir(), 'state.json');
    const r = await runCli(['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', dropping.url, '--state', state, ...extra], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    // The export's check of the receiver connects first, and sends nothing.
    const used = dropping.connections.filter((c) => c.length > 0);
    assert.equal(used.length, 2);
    const all = registryIds(db);
    const [first, second] = used.map((c) => octetMessages(Buffer.concat(c)).map(eventId));
    assert.deepEqual(first, all.slice(0, first!.length));
    // The second connection starts on a whole message (a chunk cut off by the hang-up goes again from its
    // start) and carries every event from there to the end. What the operating system had taken before the
    // hang-up is gone with the connection: plain syslog has no acknowledgements, which is what RELP is for.
    const from = all.indexOf(second![0]!);
    assert.ok(from > 0 && from < events, `resent from event ${second![0]}`);
    assert.deepEqual(second, all.slice(from));
    assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, events);
  } finally {
    await dropping.close();
  }
}

/**
 * Each format and framing: the export with `extra` sends byte for byte what `--threads 1` (record by record)
 * sends, every event in registry order.
 */
function framingCases(what: string, events: number, extra: string[], setup: () => { db: string; peer: CapturePeer; base: () => string[] }): void {
  for (const [format, framing] of [['cef', 'octet-counting'], ['ecs', 'octet-counting'], ['leef', 'lf']] as const) {
    it(`${format}, ${framing} framing: ${what}`, async () => {
      const { db, peer, base } = setup();
      const args = [...base(), '--format', format, '--syslog-framing', framing];
      assert.equal((await runCli([...args, '--threads', '1'])).code, 0);
      const one = peer.take();
      const r = await runCli([...args, ...extra]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, `exported ${events} event(s) as ${format} via syslog\n`);
      const other = peer.take();
      assert.ok(other.length > events * 300, `${other.length} bytes`);
      assert.ok(one.equals(other));
      if (framing === 'octet-counting') assert.deepEqual(octetMessages(other).map(eventId), registryIds(db));
    });
  }
}

describe('syslog over TCP from formatting threads', () => {
  const db = demoRegistry(60_000);
  let peer: CapturePeer;
  before(async () => {
    peer = await new CapturePeer().start();
  });
  after(() => peer.close());
  const base = (): string[] => ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--syslog-hostname', 'exporter-1'];

  framingCases('two threads send byte for byte what one thread sends', 60_000, ['--threads', '2'], () => ({ db, peer, base }));

  it('characters beyond ASCII: each frame counts the bytes of its message, as one thread counts them', async () => {
    // A thread writes each message, then its length in bytes, with room left for as many digits as it has
    // characters: a CEF message of about 900 characters with 300 'ü' is over 1,000 bytes and moves up a byte.
    // An ECS message with 900 'ü' is within 2,500 characters but not 2,500 bytes, and is dead-lettered.
    const wide = demoRegistry(60_000, 11);
    const con = new Database(wide);
    con.prepare(`UPDATE events SET user_agent = user_agent || ' (é 日本 😀)' WHERE rowid % 97 = 0`).run();
    con.prepare(`UPDATE events SET recipient_id = 'zoë@example.test' WHERE rowid % 1013 = 0`).run();
    con.prepare(`UPDATE events SET user_agent = ? WHERE rowid % 2999 = 0`).run('ü'.repeat(300));
    con.prepare(`UPDATE events SET user_agent = ? WHERE rowid % 4999 = 0`).run('ü'.repeat(900));
    con.close();
    const dir = tempDir();
    for (const [format, max] of [['cef', '8192'], ['ecs', '8192'], ['ecs', '2500']] as const) {
      const wires: Buffer[] = [];
      const letters: unknown[][][] = [];
      for (const threads of ['1', '2']) {
        const dead = path.join(dir, `dead-${format}-${max}-${threads}.jsonl`);
        const r = await runCli(['siem', 'export', '--db', wide, '--registry-id', 'reg', '--output', peer.url, '--format', format,
          '--syslog-max-message', max, '--dead-letter', dead, '--threads', threads]);
        assert.equal(r.code, 0, r.stderr);
        wires.push(peer.take());
        letters.push(fs.existsSync(dead) ? jsonLines(fs.readFileSync(dead, 'utf8')).map((l) => [l['event_id'], l['error']]) : []);
      }
      const what = `${format}, --syslog-max-message ${max}`;
      assert.ok(wires[1]!.equals(wires[0]!), what);
      assert.deepEqual(letters[1], letters[0], what);
      const messages = octetMessages(wires[1]!);
      const refused = new Set(letters[1]!.map((l) => l[0]));
      assert.deepEqual(messages.map(eventId), registryIds(wide).filter((id) => !refused.has(id)), what);
      assert.ok(messages.some((m) => m.includes('日本 😀')) && messages.some((m) => m.includes('ü'.repeat(300))), what);
      if (max === '2500') {
        assert.equal(letters[1]!.length, 12, what);
        assert.match(String(letters[1]![0]![1]), /^message is \d+ bytes; --syslog-max-message allows 2500/);
      } else assert.equal(letters[1]!.length, 0, what);
    }
  });

  it('the automatic choice for a receiver on this machine sends what one thread on its own sends', async () => {
    assert.equal((await runCli([...base(), '--threads', '1'])).code, 0);
    const one = peer.take();
    const r = await runCli(base());
    assert.equal(r.code, 0, r.stderr);
    assert.ok(peer.take().equals(one));
  });

  it('messages over --syslog-max-message are dead-lettered as one thread does it, the rest sent in order', async () => {
    const dir = tempDir();
    const results = [];
    for (const threads of ['1', '2']) {
      const dead = path.join(dir, `dead-${threads}.jsonl`);
      const state = path.join(dir, `state-${threads}.json`);
      const r = await runCli([...base(), '--syslog-max-message', '850', '--dead-letter', dead, '--state', state, '--threads', threads]);
      assert.equal(r.code, 0, r.stderr);
      const letters = jsonLines(fs.readFileSync(dead, 'utf8')).map((l) => [l['event_id'], l['status'], l['error'], l['record']]);
      results.push({ stderr: r.stderr, wire: peer.take(), letters, state: JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid });
    }
    const [one, two] = results;
    assert.ok(one!.letters.length > 100 && one!.letters.length < 10_000, `${one!.letters.length} dead letters`);
    assert.match(String(one!.letters[0]![2]), /^message is \d+ bytes; --syslog-max-message allows 850/);
    assert.equal(two!.stderr, one!.stderr.replace('dead-1', 'dead-2'));
    assert.ok(two!.wire.equals(one!.wire));
    assert.deepEqual(two!.letters, one!.letters);
    assert.equal(two!.state, 60_000);
    const sent = octetMessages(two!.wire).map(eventId);
    const refused = new Set(two!.letters.map((l) => l[0]));
    assert.deepEqual(sent, registryIds(db).filter((id) => !refused.has(id)));
  });

  it('a run of records far over the receiver\'s size is dead-lettered from the threads within their memory', async () => {
    // 40 rows of 900 KB each: within the row limit, each too large for the receiver. Held whole for the main
    // thread to dead-letter, they would take 36 MB of one answer; answers end early on them as on written bytes.
    const big = demoRegistry(60_000);
    const con = new Database(big);
    con.prepare('UPDATE events SET user_agent = ? WHERE rowid BETWEEN 20001 AND 20040').run('M'.repeat(900_000));
    con.close();
    const dir = tempDir();
    const results = [];
    for (const threads of ['1', '2']) {
      const dead = path.join(dir, `dead-${threads}.jsonl`);
      const args = ['siem', 'export', '--db', big, '--registry-id', 'reg', '--output', peer.url, '--format', 'cef', '--dead-letter', dead, '--threads', threads];
      const r = await runCli(args, { timeoutMs: 120_000 });
      assert.equal(r.code, 0, r.stderr);
      results.push({ wire: peer.take(), letters: jsonLines(fs.readFileSync(dead, 'utf8')).map((l) => l['event_id']) });
    }
    const [one, two] = results;
    assert.deepEqual(two!.letters, Array.from({ length: 40 }, (_, i) => String(20_001 + i)));
    assert.deepEqual(two!.letters, one!.letters);
    assert.ok(two!.wire.equals(one!.wire));
  });

  it('dead letters keep registry order: a message the receiver cannot take, then a row over the size limit', async () => {
    const small = demoRegistry(2_000);
    const con = new Database(small);
    con.prepare('UPDATE events SET user_agent = ? WHERE rowid = 100').run('a'.repeat(3_000));
    con.prepare('UPDATE events SET user_agent = ? WHERE rowid = 500').run('b'.repeat(10_000));
    con.close();
    const dead = path.join(tempDir(), 'dead.jsonl');
    const r = await runCli(['siem', 'export', '--db', small, '--registry-id', 'reg', '--output', peer.url, '--format', 'cef',
      '--max-row-bytes', '4096', '--syslog-max-message', '2048', '--dead-letter', dead]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(jsonLines(fs.readFileSync(dead, 'utf8')).map((l) => [l['rowid'], l['status']]), [[100, 413], [500, 413]]);
    assert.equal(octetMessages(peer.take()).length, 1_998);
  });

  it('without a dead-letter file: one line naming the event, the messages before it sent and checkpointed', async () => {
    const dir = tempDir();
    for (const threads of ['1', '2']) {
      const state = path.join(dir, `state-${threads}.json`);
      const r = await runCli([...base(), '--syslog-max-message', '850', '--state', state, '--threads', threads]);
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /syslog\+tcp refused event 13 \(HTTP 413\): message is \d+ bytes; --syslog-max-message allows 850 .* pass --dead-letter FILE/);
      assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid, 12, `--threads ${threads}`);
      // Nothing after it reached the receiver: a restart with a dead-letter file sends each of those once.
      assert.deepEqual(octetMessages(peer.take()).map(eventId), registryIds(db).slice(0, 12), `--threads ${threads}`);
    }
  });

  it('a receiver that is down when the first chunk goes: the chunk is retried, and every event arrives once', () =>
    receiverDownAtFirst(db, ['--threads', '2']));

  it('a receiver that hangs up mid-export: a new connection carries on from a whole message to the last event', () =>
    receiverHangsUp(db, 60_000, ['--threads', '2']));
});

/**
 * A backlog under the size that takes worker threads (10,000 to 50,000 rows) is read, formatted and framed in
 * ranges on the export's own thread, as a worker does it: the same bytes, dead letters and checkpoints as record
 * by record (`--threads 1`), and the same recovery when the receiver goes away.
 */
describe('syslog over TCP formatted in ranges on the export thread', () => {
  const db = demoRegistry(20_000);
  let peer: CapturePeer;
  before(async () => {
    peer = await new CapturePeer().start();
  });
  after(() => peer.close());
  const base = (): string[] => ['siem', 'export', '--db', db, '--registry-id', 'reg', '--output', peer.url, '--syslog-hostname', 'exporter-1'];

  framingCases('sends byte for byte what record-by-record formatting sends', 20_000, [], () => ({ db, peer, base }));

  it('messages over --syslog-max-message are dead-lettered as record by record, the rest sent in order', async () => {
    const dir = tempDir();
    const results = [];
    for (const threads of [['--threads', '1'], []]) {
      const name = threads.length ? 'one' : 'ranged';
      const dead = path.join(dir, `dead-${name}.jsonl`);
      const state = path.join(dir, `state-${name}.json`);
      const r = await runCli([...base(), '--syslog-max-message', '850', '--dead-letter', dead, '--state', state, ...threads]);
      assert.equal(r.code, 0, r.stderr);
      const letters = jsonLines(fs.readFileSync(dead, 'utf8')).map((l) => [l['event_id'], l['status'], l['error'], l['record']]);
      results.push({ stderr: r.stderr, wire: peer.take(), letters, state: JSON.parse(fs.readFileSync(state, 'utf8')).last_rowid });
    }
    const [one, ranged] = results;
    assert.ok(one!.letters.length > 30 && one!.letters.length < 5_000, `${one!.letters.length} dead letters`);
    assert.equal(ranged!.stderr, one!.stderr.replace('dead-one', 'dead-ranged'));
    assert.ok(ranged!.wire.equals(one!.wire));
    assert.deepEqual(ranged!.letters, one!.letters);
    assert.equal(ranged!.state, 20_000);
  });

  it('a receiver that is down when the first chunk goes: the chunk is retried, and every event arrives once', () =>
    receiverDownAtFirst(db, []));

  it('a receiver that hangs up mid-export: a new connection carries on from a whole message to the last event', () =>
    receiverHangsUp(db, 20_000, []));
});
