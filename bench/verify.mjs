// `siem verify` against the Elasticsearch peer (test/peers/elasticsearch.ts, in its own process through tsx):
// the export of N events into the peer's data stream, then the verify of the same events, wall time as a ratio
// to the export, and the verify's peak RSS. The peer keeps only the fields verify reads, to fit millions.
import { spawn } from 'node:child_process';
import path from 'node:path';

const PEER = (root) => `
  import { EsPeer } from ${JSON.stringify(path.join(root, 'test', 'peers', 'elasticsearch.ts'))};
  const peer = await new EsPeer({ dataStream: 'logs-oversight.beacon-default', apiKey: 'bench-key',
    keepFields: ['@timestamp', 'event.id', 'oversight.registry_id', 'oversight.token_id', 'oversight.file_id'] }).start();
  // The peer's request log would hold every body sent; a benchmark only needs the stored documents.
  setInterval(() => { peer.peer.requests.length = 0; }, 500).unref();
  console.log(peer.url);
`;

export async function verifyBench({ root, db, n, cli, registryId, timed }) {
  const peer = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PEER(root)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    peer.stdout.once('data', (d) => resolve(String(d).trim()));
    peer.once('exit', (code) => reject(new Error(`Elasticsearch peer exited ${code}`)));
  });
  const env = { ...process.env, OVERSIGHT_ES_API_KEY: 'bench-key' };
  try {
    const exp = await timed(process.execPath, [cli, 'siem', 'export', '--db', db, '--registry-id', registryId, '--output', url, '--quiet'], '/dev/null', env);
    process.stderr.write(`  export to the Elasticsearch peer: ${exp.seconds.toFixed(2)} s\n`);
    // timed() fails on a non-zero exit: a verify that finds anything missing ends the benchmark.
    const ver = await timed(process.execPath, [cli, 'siem', 'verify', '--db', db, '--registry-id', registryId, '--output', url, '--quiet'], '/dev/null', env);
    process.stderr.write(`  verify against the Elasticsearch peer: ${ver.seconds.toFixed(2)} s, ${ver.rssMb.toFixed(0)} MB\n`);
    return { n, exportSeconds: exp.seconds, verifySeconds: ver.seconds, ratio: ver.seconds / exp.seconds, rssMb: ver.rssMb, exportRssMb: exp.rssMb };
  } finally {
    peer.kill();
  }
}
