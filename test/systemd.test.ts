/** The shipped systemd unit: systemd's own checker, and the service's command run with the unit's environment. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HecPeer } from './peers/splunk-hec.js';
import { CLI, demoRegistry, registryIds, ROOT, runCli, spawnCli, tempDir, waitFor } from './helpers.js';

const DIR = path.join(ROOT, 'contrib', 'systemd');
const UNIT = fs.readFileSync(path.join(DIR, 'oversight-siem@.service'), 'utf8');
const version = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const systemd = version.status === 0 ? Number(/systemd (\d+)/.exec(version.stdout)?.[1] ?? 0) : 0;
const WHY_NOT = 'systemd-analyze is not installed here (Debian/Ubuntu: apt-get install systemd), so the unit was not verified';

/** `Key=value` lines of a unit or environment file, in order. */
function settings(text: string): [string, string][] {
  return text.split('\n').filter((l) => /^[A-Za-z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
}
const unitValue = (key: string): string => settings(UNIT).find(([k]) => k === key)?.[1] ?? '';

/** An instance of the unit in a temporary directory, started with this machine's node and the built CLI. */
function instance(dropIn?: string): string {
  const dir = tempDir();
  const file = path.join(dir, 'oversight-siem@splunk.service');
  fs.writeFileSync(file, UNIT.replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath} ${CLI}`));
  if (dropIn) {
    fs.mkdirSync(`${file}.d`);
    fs.copyFileSync(dropIn, path.join(`${file}.d`, path.basename(dropIn)));
  }
  return file;
}

function verify(file: string): void {
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', cwd: path.dirname(file) });
  // An unknown or misspelt setting is only a warning, and systemd then ignores it: any line about the unit fails.
  const about = r.stderr.split('\n').filter((l) => l.includes('oversight-siem'));
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(about, []);
}

describe('systemd unit', () => {
  it('passes systemd-analyze verify', (t) => {
    if (!systemd) return t.skip(WHY_NOT);
    verify(instance());
  });

  it('the backoff drop-in passes systemd-analyze verify with systemd 254 or later', (t) => {
    if (!systemd) return t.skip(WHY_NOT);
    if (systemd < 254) return t.skip(`systemd ${systemd} here has no RestartSteps=/RestartMaxDelaySec= (they came in 254)`);
    verify(instance(path.join(DIR, 'oversight-siem@.service.d', 'backoff.conf')));
  });

  it('waits longer for a stop than the exporter takes to stop', async () => {
    const help = (await runCli(['siem', 'export', '--help'])).stdout.replace(/\s+/g, ' ');
    const exporter = Number(/--shutdown-timeout <duration> .*?\(default: "(\d+)s"/.exec(help)?.[1]);
    assert.ok(exporter > 0, 'the exporter has a --shutdown-timeout');
    assert.equal(unitValue('KillSignal'), 'SIGTERM');
    assert.ok(Number(/^(\d+)s$/.exec(unitValue('TimeoutStopSec'))?.[1]) > exporter);
  });

  it("runs the service's command with the unit's and the example's settings, secrets as credentials, and stops on SIGTERM", () =>
    withHec(async (peer) => {
      const n = 120;
      const db = demoRegistry(n);
      const state = tempDir();
      const creds = tempDir();
      fs.writeFileSync(path.join(creds, 'oversight_splunk-hec-token'), 'hec-token-0123\n', { mode: 0o400 });
      fs.writeFileSync(path.join(creds, 'oversight_pseudonym-key'), 'k'.repeat(40) + '\n', { mode: 0o400 });
      const env: NodeJS.ProcessEnv = {};
      for (const [k, v] of settings(UNIT)) {
        if (k === 'Environment') {
          const [name, value] = [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)];
          env[name] = value.replace('%S/oversight-siem/%i', state);
        }
      }
      for (const [k, v] of settings(fs.readFileSync(path.join(DIR, 'example.env'), 'utf8'))) env[k] = v;
      Object.assign(env, {
        OVERSIGHT_DB: db, OVERSIGHT_OUTPUT: peer.url, OVERSIGHT_SPLUNK_ACK_INTERVAL: '100ms', CREDENTIALS_DIRECTORY: creds,
      });
      // Left out: a fixed port may be taken on a test machine.
      delete env['OVERSIGHT_METRICS_LISTEN'];
      const args = unitValue('ExecStart').split(/\s+/).slice(1);
      const child = spawnCli(args, env);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const checkpoint = path.join(state, 'checkpoint.json');
      await waitFor(() => fs.existsSync(checkpoint) && JSON.parse(fs.readFileSync(checkpoint, 'utf8')).last_rowid === n, 20_000);
      const code = new Promise<number | null>((resolve) => child.on('close', resolve));
      child.kill('SIGTERM');
      assert.equal(await code, 0, stderr);
      assert.deepEqual(peer.eventIds(), registryIds(db));
      assert.ok(peer.events.every((e) => String((e['event'] as Record<string, unknown>)['recipient_id'] ?? 'ps1:').startsWith('ps1:')));
      assert.ok(!stderr.includes('hec-token-0123'));
    }));
});

async function withHec(fn: (peer: HecPeer) => Promise<void>): Promise<void> {
  const peer = await new HecPeer({ token: 'hec-token-0123', ack: true }).start();
  try {
    await fn(peer);
  } finally {
    await peer.close();
  }
}
