// Delivery to a loopback Splunk HEC with and without gzip, alternating: bytes on the wire and events/s.
// The peer runs in its own process, decompresses what it is sent, and counts envelopes and wire bytes.
import { spawn } from 'node:child_process';
import http from 'node:http';

const PEER = `
  import http from 'node:http';
  import zlib from 'node:zlib';
  let events = 0, wire = 0, raw = 0;
  // Every envelope starts with {"time": and no string value can hold that unescaped: count it natively.
  const mark = Buffer.from('{"time":');
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/count') { res.end(JSON.stringify({ events, wire, raw })); events = wire = raw = 0; return; }
      const body = Buffer.concat(chunks);
      const gzip = req.headers['content-encoding'] === 'gzip';
      if (gzip !== (body[0] === 0x1f && body[1] === 0x8b)) { res.writeHead(400); res.end('{"text":"Invalid data format","code":6}'); return; }
      const text = gzip ? zlib.gunzipSync(body) : body;
      for (let i = text.indexOf(mark); i !== -1; i = text.indexOf(mark, i + mark.length)) events++;
      wire += body.length; raw += text.length;
      res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"text":"Success","code":0}');
    });
  });
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

const counts = (port) => new Promise((resolve, reject) => http.get(`http://127.0.0.1:${port}/count`, (res) => {
  let t = '';
  res.on('data', (d) => (t += d));
  res.on('end', () => resolve(JSON.parse(t)));
}).on('error', reject));

/** One row per compression: median seconds, events/s, bytes on the wire and before compression, per run. */
export async function hecCompression({ db, n, runs, cli, registryId, timed, median }) {
  const peer = spawn(process.execPath, ['--input-type=module', '-e', PEER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => peer.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  const modes = ['none', 'gzip'];
  const results = new Map(modes.map((m) => [m, { seconds: [], wire: 0, raw: 0 }]));
  try {
    for (let run = 0; run < runs; run++) {
      for (const mode of modes) {
        const r = await timed(process.execPath, [cli, 'siem', 'export', '--db', db, '--registry-id', registryId,
          '--output', `http://127.0.0.1:${port}/services/collector/event`, '--max-batch-bytes', '1000000', '--compress', mode, '--quiet'],
        '/dev/null', { ...process.env, OVERSIGHT_SPLUNK_HEC_TOKEN: 'bench-token' });
        const c = await counts(port);
        if (c.events !== n) throw new Error(`HEC peer counted ${c.events} events with --compress ${mode}, expected ${n}`);
        const m = results.get(mode);
        m.seconds.push(r.seconds);
        m.wire = c.wire;
        m.raw = c.raw;
        process.stderr.write(`  HEC delivery, --compress ${mode}: ${r.seconds.toFixed(2)} s, ${(c.wire / 1e6).toFixed(1)} MB on the wire\n`);
      }
    }
  } finally {
    peer.kill();
  }
  return modes.map((mode) => {
    const m = results.get(mode);
    const seconds = median(m.seconds);
    return { mode, seconds, eps: n / seconds, wire: m.wire, raw: m.raw };
  });
}
