/**
 * The conformance table: for every registered transport, the fake peer that stands in for its SIEM and the
 * answers that peer can give. `test/conformance-transports.test.ts` runs every transport in the registry
 * through the same scenarios (deliver; a busy answer is retried; bad credentials stop; a refused record goes
 * to the dead-letter file; a body that is too large is split), so a new transport needs only a line here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers.js';
import { AzurePeer } from './azure-logs-ingestion.js';
import { EsPeer } from './elasticsearch.js';
import { JsonArrayPeer } from './http-json.js';
import { OtlpPeer } from './otlp.js';
import type { Fault, Peer } from './peer.js';
import { SentinelPeer } from './sentinel-dca.js';
import { HecPeer } from './splunk-hec.js';
import { OctetCountingPeer, RelpPeer } from './syslog.js';

export type Scenario = 'retry' | 'auth' | 'refuse' | 'too-large';

export interface PeerHandle {
  /** `--output`, and any other flags the SIEM needs. */
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** How many records the SIEM holds. */
  held(): number;
  /** Make the next delivery answer as `scenario` says; absent where the SIEM has no such answer. */
  inject?: Partial<Record<Scenario, () => void>>;
  close(): Promise<void>;
}

export type PeerKit = () => Promise<PeerHandle>;

/** The answers every HTTP SIEM shares, queued as faults on its next requests. */
function httpFaults(peer: Peer, refuse: Fault, auth: Fault = { status: 401, body: '{"error":"unauthorized"}' }): PeerHandle['inject'] {
  return {
    retry: () => peer.faults.push({ status: 503, body: '{"error":"busy"}', headers: { 'retry-after': '0' } }),
    auth: () => peer.faults.push(auth),
    // A SIEM that refuses a body without naming the record is halved down to it: the refusal follows the first half.
    refuse: () => peer.faults.push(...Array.from({ length: 7 }, () => refuse)),
    'too-large': () => peer.faults.push({ status: 413, body: '{"error":"too large"}' }),
  };
}

const HEC_TOKEN = '00000000-1111-2222-3333-444444444444';
const ES_KEY = 'aWQ6c2VjcmV0';
const SHARED_KEY = Buffer.from('k'.repeat(64)).toString('base64');

export const CONFORMANCE: Readonly<Record<string, PeerKit>> = {
  stdout: async () => {
    throw new Error('stdout is checked by the format conformance suite');
  },
  file: async () => {
    const file = path.join(tempDir(), 'out.jsonl');
    return {
      args: ['--output', file, '--format', 'ecs'],
      held: () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').length - 1 : 0),
      close: async () => undefined,
    };
  },
  http: async () => {
    const p = await new JsonArrayPeer().start();
    // A generic collector's 4xx says nothing about which record it refused: the export stops (no `refuse`).
    const { refuse: _none, ...inject } = httpFaults(p.peer, { status: 400 })!;
    return { args: ['--output', p.url, '--format', 'ecs'], held: () => p.records.length, inject, close: () => p.close() };
  },
  'splunk-hec': async () => {
    const p = await new HecPeer({ token: HEC_TOKEN }).start();
    const inject = httpFaults(p.peer, { status: 400 }, { status: 403, body: '{"text":"Invalid token","code":4}' })!;
    // HEC names the record it refuses: one answer is enough.
    inject.refuse = () => p.peer.faults.push({ status: 400, body: '{"text":"Invalid data format","code":6,"invalid-event-number":0}' });
    return {
      args: ['--output', p.url],
      env: { OVERSIGHT_SPLUNK_HEC_TOKEN: HEC_TOKEN },
      held: () => p.events.length,
      inject,
      close: () => p.peer.close(),
    };
  },
  elasticsearch: async () => {
    let refuseNext = false;
    const p = await new EsPeer({
      dataStream: 'logs-oversight.beacon-default',
      apiKey: ES_KEY,
      itemFault: () => {
        if (!refuseNext) return undefined;
        refuseNext = false;
        return 400;
      },
    }).start();
    const inject = httpFaults(p.peer, { status: 400, body: '{}' })!;
    inject.refuse = () => (refuseNext = true);
    return { args: ['--output', p.url], env: { OVERSIGHT_ES_API_KEY: ES_KEY }, held: () => p.docs.size, inject, close: () => p.peer.close() };
  },
  'sentinel-dca': async () => {
    const workspace = '11111111-2222-3333-4444-555555555555';
    const p = await new SentinelPeer(workspace, SHARED_KEY).start();
    return {
      args: ['--output', p.url, '--transport', 'sentinel-dca', '--sentinel-workspace-id', workspace],
      env: { OVERSIGHT_SENTINEL_SHARED_KEY: SHARED_KEY },
      held: () => p.records.length,
      inject: httpFaults(p.peer, { status: 400, body: '{"Error":"InvalidDataFormat","Message":"bad record"}' }, { status: 403, body: '{"Error":"InvalidAuthorization"}' }),
      close: () => p.peer.close(),
    };
  },
  'azure-logs-ingestion': async () => {
    const o = { tenantId: 't1', clientId: 'c1', clientSecret: 's3cret-value', dcr: 'dcr-0123456789abcdef0123456789abcdef', stream: 'Custom-Oversight_CL' };
    const p = await new AzurePeer(o).start();
    return {
      args: ['--output', p.url],
      env: { AZURE_TENANT_ID: o.tenantId, AZURE_CLIENT_ID: o.clientId, AZURE_CLIENT_SECRET: o.clientSecret, AZURE_AUTHORITY_HOST: p.authority },
      held: () => p.records.length,
      inject: httpFaults(p.peer, { status: 400, body: '{"error":{"code":"InvalidFormat","message":"bad record"}}' }, { status: 403, body: '{"error":{"code":"Forbidden"}}' }),
      close: () => p.peer.close(),
    };
  },
  syslog: async () => {
    const p = await new OctetCountingPeer().start();
    const extra: string[] = [];
    return {
      get args() {
        return ['--output', `syslog+tcp://127.0.0.1:${p.port}`, ...extra];
      },
      held: () => p.messages.length,
      inject: { refuse: () => extra.push(...TOO_LONG_FOR_SYSLOG) },
      close: () => p.close(),
    };
  },
  relp: async () => {
    let refuse = -1;
    let refused = 0;
    const p = await new RelpPeer({
      answer: (n) => {
        if (n !== refuse) return '200 OK';
        refused++;
        return '500 queue full';
      },
    }).start();
    const extra: string[] = [];
    return {
      get args() {
        return ['--output', `relp://127.0.0.1:${p.port}`, ...extra];
      },
      // A refused message arrived once more: the peer counts it again.
      held: () => p.messages.length - refused,
      inject: { retry: () => (refuse = 0), refuse: () => extra.push(...TOO_LONG_FOR_SYSLOG) },
      close: () => p.close(),
    };
  },
  otlp: async () => {
    const p = await new OtlpPeer({ auth: { name: 'authorization', value: 'Bearer t0ken-value' } }).start();
    return {
      args: ['--output', `otlp+${p.url}`, '--header', 'Authorization: Bearer t0ken-value'],
      held: () => p.accepted.length,
      inject: {
        // OTLP retries 503, never 500.
        retry: () => p.script.push({ status: 503, headers: { 'retry-after': '0' } }),
        auth: () => p.script.push({ status: 401 }),
        // A collector refuses the whole request over one bad record: the batch is halved down to it.
        refuse: () => p.script.push(...Array.from({ length: 7 }, () => ({ status: 400 }))),
        'too-large': () => p.script.push({ status: 413 }),
      },
      close: () => p.close(),
    };
  },
};

/**
 * Syslog has no answer that refuses one record: a record longer than the receiver's message limit is the record
 * it cannot take. OCSF records of the registries used here are longer than 480 bytes.
 */
const TOO_LONG_FOR_SYSLOG = ['--syslog-max-message', '480', '--format', 'ocsf'];
