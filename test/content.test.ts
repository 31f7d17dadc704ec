/**
 * The shipped SIEM content: generated files in the repository equal what their generators write now, and
 * `oversight siem content` writes a SIEM's whole folder into a new one, or nothing at all.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { listFiles, runContent, SAMPLES_DIR } from '../src/cli/content.js';
import { generatedPath, loadModel } from '../src/content/build.js';
import { SIEM_CONTENT } from '../src/content/index.js';
import { contentRoot } from '../src/content/model.js';
import type { SiemContent } from '../src/content/siem.js';
import { ConfigurationError, ExportError } from '../src/shared/errors.js';
import { ROOT, runCli, tempDir } from './helpers.js';

const model = loadModel();

test('every SIEM content module has its own name and a folder with a README', () => {
  const names = SIEM_CONTENT.map((m) => m.name);
  assert.equal(new Set(names).size, names.length);
  for (const m of SIEM_CONTENT) {
    assert.ok(fs.existsSync(path.join(contentRoot(), m.name, 'README.md')), `content/${m.name}/README.md`);
  }
});

for (const module of SIEM_CONTENT) {
  test(`content/${module.name}: the committed generated files equal the generator's output`, () => {
    const files = module.generate(model);
    assert.ok(files.length > 0);
    const stale: string[] = [];
    for (const file of files) {
      const target = generatedPath(module, file);
      const want = typeof file.data === 'string' ? Buffer.from(file.data, 'utf8') : file.data;
      if (!fs.existsSync(target) || !fs.readFileSync(target).equals(want)) stale.push(`content/${module.name}/${file.path}`);
    }
    assert.deepEqual(stale, [], `stale or missing generated files: ${stale.join(', ')} (run \`npm run content\` and commit them)`);
  });

  test(`content/${module.name}: generating twice gives the same files`, () => {
    const again = module.generate(loadModel());
    assert.deepEqual(
      again.map((f) => [f.path, Buffer.from(f.data).toString('base64')]),
      module.generate(model).map((f) => [f.path, Buffer.from(f.data).toString('base64')]),
    );
  });
}

describe('oversight siem content (the built CLI)', () => {
  for (const module of SIEM_CONTENT) {
    test(`${module.name}: writes every file of content/${module.name} into a new folder, README included`, async () => {
      const out = path.join(tempDir(), 'nested', module.name);
      const r = await runCli(['siem', 'content', module.name, '--out', out]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`^wrote \\d+ files of the .+ content to .+README\\.md\\n$`));
      const source = path.join(contentRoot(), module.name);
      const written = listFiles(out);
      for (const rel of listFiles(source)) {
        assert.ok(written.includes(rel), `${rel} written`);
        assert.ok(fs.readFileSync(path.join(out, rel)).equals(fs.readFileSync(path.join(source, rel))), `${rel} as shipped`);
      }
      assert.ok(fs.readFileSync(path.join(out, 'README.md'), 'utf8').includes('oversight'), 'README with install steps');
      // The detection samples come along, to replay in the SIEM.
      const samples = path.join(contentRoot(), 'detections', 'samples');
      for (const rel of listFiles(samples)) {
        assert.ok(fs.readFileSync(path.join(out, SAMPLES_DIR, rel)).equals(fs.readFileSync(path.join(samples, rel))), `${SAMPLES_DIR}/${rel}`);
      }
      // Nothing is left beside the folder.
      assert.deepEqual(fs.readdirSync(path.dirname(out)), [module.name]);
    });
  }

  const first = SIEM_CONTENT[0];
  if (first) {
    test('refuses a non-empty folder without --force, touching nothing; with --force writes in and keeps other files', async () => {
      const out = tempDir();
      fs.writeFileSync(path.join(out, 'notes.txt'), 'mine');
      const refused = await runCli(['siem', 'content', first.name, '--out', out]);
      assert.equal(refused.code, 2);
      assert.equal(refused.stderr.trim().split('\n').length, 1);
      assert.match(refused.stderr, /is not empty: .*--force/);
      assert.deepEqual(fs.readdirSync(out), ['notes.txt']);
      assert.deepEqual(fs.readdirSync(path.dirname(out)).filter((f) => f.includes('.tmp-')), []);

      const forced = await runCli(['siem', 'content', first.name, '--out', out, '--force']);
      assert.equal(forced.code, 0, forced.stderr);
      assert.equal(fs.readFileSync(path.join(out, 'notes.txt'), 'utf8'), 'mine');
      assert.ok(fs.existsSync(path.join(out, 'README.md')));
    });

    test('an empty existing folder is written into, the folder itself kept: same inode, mode, setgid bit', async () => {
      const parent = tempDir();
      const out = path.join(parent, 'empty');
      fs.mkdirSync(out);
      fs.chmodSync(out, 0o2770);
      const before = fs.statSync(out);
      const r = await runCli(['siem', 'content', first.name, '--out', out, '--quiet']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.ok(fs.existsSync(path.join(out, 'README.md')));
      const after = fs.statSync(out);
      assert.equal(after.ino, before.ino, 'the same folder, not a new one');
      assert.equal(after.mode & 0o7777, 0o2770);
      assert.deepEqual(fs.readdirSync(parent), ['empty']);
    });

    test('a symlink to an empty folder is written through, the link kept', async () => {
      const parent = tempDir();
      const real = path.join(parent, 'real');
      fs.mkdirSync(real);
      const link = path.join(parent, 'link');
      fs.symlinkSync(real, link);
      const r = await runCli(['siem', 'content', first.name, '--out', link]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(fs.lstatSync(link).isSymbolicLink());
      assert.ok(fs.existsSync(path.join(real, 'README.md')));
      assert.match(r.stderr, new RegExp(`content to ${link.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')};`));
      assert.deepEqual(fs.readdirSync(parent).sort(), ['link', 'real']);
    });

    test('a symlink to nothing is one line naming the fix', async () => {
      const link = path.join(tempDir(), 'dangling');
      fs.symlinkSync(path.join(path.dirname(link), 'gone'), link);
      const r = await runCli(['siem', 'content', first.name, '--out', link]);
      assert.equal(r.code, 2);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /is a symlink to nothing: point it at a folder/);
    });

    test('the success line shows a control character in --out instead of obeying it', async () => {
      const out = path.join(tempDir(), 'a\noversight: forged\u001b[2K');
      const r = await runCli(['siem', 'content', first.name, '--out', out]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr.split('\n').length, 2, r.stderr);
      assert.match(r.stderr, /a\\noversight: forged\\x1b\[2K/);
      assert.ok(fs.existsSync(path.join(out, 'README.md')));
    });
  }

  test('an unknown SIEM is a usage error naming the choices', async () => {
    const out = path.join(tempDir(), 'out');
    const r = await runCli(['siem', 'content', 'qradar', '--out', out]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    for (const m of SIEM_CONTENT) assert.ok(r.stderr.includes(m.name), `${m.name} named in: ${r.stderr}`);
    assert.equal(fs.existsSync(out), false);
  });

  test('--out is required, and a file is no folder', async () => {
    const missing = await runCli(['siem', 'content', 'splunk']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--out/);
    const file = path.join(tempDir(), 'file');
    fs.writeFileSync(file, 'x');
    const notDir = await runCli(['siem', 'content', first?.name ?? 'splunk', '--out', file]);
    assert.equal(notDir.code, 2);
    assert.match(notDir.stderr, /not a folder/);
    assert.equal(fs.readFileSync(file, 'utf8'), 'x');
  });
});

describe('writing content (in process, with a module made for the test)', () => {
  function fakeRoot(): string {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'splunk', 'default'), { recursive: true });
    fs.writeFileSync(path.join(root, 'splunk', 'README.md'), 'install me');
    fs.writeFileSync(path.join(root, 'splunk', 'default', 'app.conf'), '[launcher]\n');
    return root;
  }
  const packaging = (fail: boolean): SiemContent => ({
    name: 'splunk',
    title: 'Test',
    generate: () => [],
    async package(dir) {
      fs.writeFileSync(path.join(dir, 'app.tgz'), 'archive');
      if (fail) throw new Error('tar exploded');
    },
  });

  test('the module packages inside the written folder', async () => {
    const out = path.join(tempDir(), 'out');
    await runContent('splunk', { out, quiet: true }, [packaging(false)], fakeRoot());
    assert.deepEqual(listFiles(out).filter((f) => !f.startsWith(`${SAMPLES_DIR}/`)), ['README.md', 'app.tgz', 'default/app.conf']);
  });

  test('a failure while packaging leaves no folder and no temporary files', async () => {
    const parent = tempDir();
    const out = path.join(parent, 'out');
    await assert.rejects(runContent('splunk', { out, quiet: true }, [packaging(true)], fakeRoot()), (err: unknown) =>
      err instanceof ExportError && /tar exploded/.test(err.message));
    assert.deepEqual(fs.readdirSync(parent), []);
  });

  test('with --force, a folder in the way of a file stops the write before anything moves', async () => {
    const out = tempDir();
    fs.mkdirSync(path.join(out, 'README.md'));
    fs.writeFileSync(path.join(out, 'keep'), 'k');
    await assert.rejects(runContent('splunk', { out, force: true, quiet: true }, [packaging(false)], fakeRoot()), (err: unknown) =>
      err instanceof ConfigurationError && /in the way of README\.md/.test(err.message));
    assert.deepEqual(fs.readdirSync(out).sort(), ['README.md', 'keep']);
    assert.equal(fs.existsSync(path.join(out, 'app.tgz')), false);
  });
});

test('the npm package ships the bundled command with its formatting thread, the content folder and the service unit', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { files: string[]; scripts: Record<string, string>; bin: Record<string, string> };
  assert.ok(pkg.files.includes('content'));
  assert.match(pkg.scripts['content'] ?? '', /src\/content\/build\.ts/);
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
  ) as { files: { path: string }[] }[];
  const files = new Set(packed[0]!.files.map((f) => f.path));
  // The bundle finds its formatting thread beside it, and runs as CommonJS only with the package.json that
  // says so beside it (see scripts/bundle.mjs): without it Node would load the bundle as ESM, and fail.
  assert.equal(pkg.bin['oversight'], 'dist/bin/oversight.js');
  for (const f of ['dist/bin/oversight.js', 'dist/bin/format-worker.js', 'dist/bin/package.json', 'content/fields.yaml', 'content/detections/README.md', 'content/detections/samples/README.md', 'dist/content/model.js', 'contrib/systemd/oversight-siem@.service']) {
    assert.ok(files.has(f), `${f} in the package`);
  }
  for (const m of SIEM_CONTENT) assert.ok(files.has(`content/${m.name}/README.md`), `content/${m.name}/README.md in the package`);
});

describe('documentation', () => {
  const siemDoc = fs.readFileSync(path.join(ROOT, 'docs', 'SIEM.md'), 'utf8');
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

  test('docs/SIEM.md has the field table of content/fields.yaml, row for row', () => {
    for (const r of model.fields.fields) {
      const splunk = `\`${r.splunk.field}\`${r.splunk.indexed ? ' (indexed)' : ''}${r.splunk.indexed_as ? `, indexed as \`${r.splunk.indexed_as}\`` : ''}`;
      const ecs = `\`${r.ecs.field}\` ${r.ecs.type}${r.ecs.custom ? ' (custom)' : ''}`;
      const row = `| \`${r.name}\` | ${splunk} | ${ecs} | \`${r.sentinel.column}\` ${r.sentinel.type} | ${r.cim ? `\`${r.cim}\`` : '—'} |`;
      assert.ok(siemDoc.includes(row), `docs/SIEM.md lacks the row ${row}`);
    }
  });

  test('docs/SIEM.md documents every detection: name, id, severity, risk score, confidence, DNS and false positives', () => {
    for (const d of model.detections) {
      const at = siemDoc.indexOf(`### ${d.name}\n`);
      assert.ok(at >= 0, `a section for ${d.name}`);
      const next = siemDoc.indexOf('\n#', at + 4);
      const section = siemDoc.slice(at, next < 0 ? undefined : next);
      assert.ok(section.includes(`\`${d.id}\``), d.id);
      assert.ok(section.includes(`severity **${d.severity}**, risk score ${d.risk_score}`), `${d.id} severity`);
      assert.ok(section.includes(`confidence ${d.confidence}`), `${d.id} confidence`);
      assert.match(section, /False\s+positives:/);
    }
    assert.match(siemDoc, /\*\*DNS callbacks\.\*\*/);
  });

  test('the query files docs/SIEM.md names for the detections exist', () => {
    const root = contentRoot();
    const saved = fs.readFileSync(path.join(root, 'splunk', 'oversight_beacon', 'default', 'savedsearches.conf'), 'utf8');
    const rules = fs.readFileSync(path.join(root, 'elastic', 'kibana', 'detection_rules.ndjson'), 'utf8');
    for (const d of model.detections) {
      assert.ok(saved.includes(`[${d.name}]`), `Splunk stanza for ${d.id}`);
      assert.ok(rules.includes(`"rule_id":"${d.id}"`) || rules.includes(`"rule_id": "${d.id}"`), `Elastic rule ${d.id}`);
      assert.ok(fs.existsSync(path.join(root, 'sentinel', 'analytic-rules', `${d.id.replace(/^oversight-/, '')}.yaml`)), `Sentinel rule ${d.id}`);
    }
  });

  test('each SIEM section of the README starts with its content or setup step', () => {
    const section = (heading: string): string => {
      const at = readme.indexOf(`\n### ${heading}\n`);
      assert.ok(at >= 0, `README section ${heading}`);
      return readme.slice(at, readme.indexOf('\n### ', at + 1));
    };
    const startsWith = (heading: string, setup: RegExp): void => {
      const text = section(heading);
      const first = /```sh\n([\s\S]*?)```/.exec(text)?.[1] ?? '';
      assert.match(first, setup, `the first commands under ${heading}`);
      assert.doesNotMatch(first, /siem export/);
      assert.ok(text.includes('oversight siem export'), `${heading} goes on to the export`);
    };
    startsWith('Splunk', /^oversight siem content splunk --out /m);
    startsWith('Elastic', /^oversight siem setup elasticsearch --url [\s\S]*^oversight siem setup kibana --url /m);
    startsWith('Microsoft Sentinel', /^oversight siem content sentinel --out [\s\S]*azuredeploy\.json/m);
    const sentinel = section('Microsoft Sentinel').slice(0, 600);
    assert.match(sentinel, /retired the HTTP Data Collector API on 2026-09-14/);
    assert.match(sentinel, /Logs Ingestion API, refuses\s+data until the custom table `Oversight_CL` and a data collection rule/);
  });

  test('the README shows the content folder tree, every folder of it present', () => {
    const tree = /## SIEM content[\s\S]*?```\n(content\/[\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(tree, 'a content tree');
    for (const m of SIEM_CONTENT) assert.ok(tree.includes(`  ${m.name}/`), m.name);
    for (const dir of ['detections', 'detections/samples', ...SIEM_CONTENT.map((m) => m.name)]) {
      assert.ok(fs.statSync(path.join(contentRoot(), dir)).isDirectory(), dir);
    }
  });
});
