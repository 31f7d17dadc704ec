/**
 * The query `siem verify` sends to Log Analytics binds in Microsoft's own Kusto language service against the
 * table we deploy, and returns the columns the verifier reads; the peer only answers these exact texts.
 */
import { K, S, System } from './support/kusto.js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sentinelDir } from '../src/content/sentinel.js';
import { othersQuery, windowQuery } from '../src/verify/sentinel.js';


const deploy = JSON.parse(fs.readFileSync(path.join(sentinelDir(), 'deploy', 'azuredeploy.json'), 'utf8'));
const table = deploy.resources.find((r: any) => r.type === 'Microsoft.OperationalInsights/workspaces/tables').properties.schema;
const kustoType = (t: string): string => (t.toLowerCase() === 'boolean' ? 'bool' : t.toLowerCase());

function analyze(query: string, columns: { name: string; type: string }[]): { errors: string[]; columns: string[] } {
  const symbol = new S.TableSymbol.$ctor4(table.name, columns.map((c) => new S.ColumnSymbol(c.name, S.ScalarTypes.GetSymbol(kustoType(c.type)))));
  const state = K.GlobalState.Default.WithDatabase(new S.DatabaseSymbol.$ctor2('workspace', null, [symbol]));
  const code = K.KustoCode.ParseAndAnalyze(query, state);
  const list = code.GetDiagnostics();
  const errors: string[] = [];
  for (let i = 0; i < System.Array.getCount(list, K.Diagnostic); i++) {
    const d = System.Array.getItem(list, i, K.Diagnostic);
    if (String(d.Severity) === 'Error') errors.push(String(d.Message));
  }
  const out: string[] = [];
  const result = code.ResultType;
  for (let i = 0; result?.Columns && i < System.Array.getCount(result.Columns, S.ColumnSymbol); i++) {
    const c = System.Array.getItem(result.Columns, i, S.ColumnSymbol);
    out.push(`${c.Name}:${c.Type.Name}`);
  }
  return { errors, columns: out };
}

describe('siem verify: the Log Analytics query', () => {
  it('binds against the deployed table and returns the columns the verifier reads', () => {
    const q = windowQuery(table.name, 'reg "quoted" \\ id', ['1', '2', 'x"y']);
    const r = analyze(q, table.columns);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.columns, ['EventId:string', 'RegistryId:string', 'TokenId:string', 'FileId:string', 'OccurredAt:datetime', 'TimeGenerated:datetime', 'IngestionTime:datetime']);
  });

  it('binds as well against a table without OccurredAt (a data collection rule of one\'s own), with the same columns', () => {
    const own = table.columns.filter((c: { name: string }) => c.name !== 'OccurredAt');
    assert.equal(own.length, table.columns.length - 1, 'the deployed table has OccurredAt');
    const r = analyze(windowQuery(table.name, 'reg', ['1']), own);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.columns, ['EventId:string', 'RegistryId:string', 'TokenId:string', 'FileId:string', 'OccurredAt:datetime', 'TimeGenerated:datetime', 'IngestionTime:datetime']);
  });

  it('fails to bind against a table without a column it reads, so the check above can fail', () => {
    const r = analyze(windowQuery(table.name, 'reg', ['1']), table.columns.filter((c: { name: string }) => c.name !== 'TokenId'));
    assert.ok(r.errors.some((e) => /TokenId/.test(e)), r.errors.join('\n'));
  });

  const OTHERS = ['EventId:string', 'Copies:long', 'Ids:long', 'Total:long'];
  const after = Date.parse('2025-03-01T10:00:00Z') / 1000;

  it('the query for other records binds against the deployed table, first page and later ones, with the columns the verifier reads', () => {
    for (const cursor of [null, 'x"y \\ z']) {
      const r = analyze(othersQuery(table.name, 'reg "quoted" \\ id', ['1', '2', 'x"y'], after, after + 90, cursor), table.columns);
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.columns, OTHERS);
    }
  });

  it('the query for other records binds as well against a table without OccurredAt, placing rows by TimeGenerated', () => {
    const own = table.columns.filter((c: { name: string }) => c.name !== 'OccurredAt');
    const r = analyze(othersQuery(table.name, 'reg', ['1'], after, after + 1, '7'), own);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.columns, OTHERS);
  });

  it('the query for other records fails to bind without a column it reads, so the checks above can fail', () => {
    const r = analyze(othersQuery(table.name, 'reg', ['1'], after, after + 1, null), table.columns.filter((c: { name: string }) => c.name !== 'RegistryId'));
    assert.ok(r.errors.some((e) => /RegistryId/.test(e)), r.errors.join('\n'));
  });
});
