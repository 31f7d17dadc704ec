/** The options of `siem verify` (and of a following export that verifies), apart from the export's own. */
import { ConfigurationError, maskUserinfoLoosely } from '../shared/errors.js';
import { refuseUrlCredentials } from '../shared/url-credentials.js';
import { count, option, parseDuration, switchOption, type FlagValues } from '../shared/options.js';

/** Registry events per query at most: Elasticsearch returns at most `index.max_result_window` (10,000) hits. */
export const MAX_WINDOW = 10_000;

/** How to ask the SIEM what it holds: `siem verify` has these, and so does a following export that verifies. */
export const VERIFY_QUERY = {
  settle: option({
    flags: '--settle <duration>',
    description: 'events younger than this are "too recent to judge" when not found (default per SIEM: splunk 2m, elasticsearch 30s, log-analytics 5m, file 0)',
    group: 'common',
    parse: (v, flag) => parseDuration(v, flag, true),
  }),
  window: option({ flags: '--window <n>', description: 'registry events per query (at most 10000)', default: '1000', group: 'common', parse: count(1) }),
  splunkSearchUrl: option({
    flags: '--splunk-search-url <url>',
    description: 'Splunk: the management port for searches, e.g. https://splunk:8089 (token: OVERSIGHT_SPLUNK_SEARCH_TOKEN)',
    group: 'transport',
  }),
  splunkSearchTokenFile: option({ flags: '--splunk-search-token-file <file>', description: 'Splunk: file holding the search authentication token', group: 'transport', secret: true }),
  workspaceId: option({ flags: '--workspace-id <id>', description: 'Sentinel: the Log Analytics workspace id (GUID) the DCR writes to', group: 'transport' }),
  logAnalyticsUrl: option({ flags: '--log-analytics-url <url>', description: 'Sentinel: the Log Analytics query API', default: 'https://api.loganalytics.azure.com', group: 'transport' }),
  logAnalyticsTable: option({ flags: '--log-analytics-table <name>', description: 'Sentinel: the table to read (default: from the stream name, Custom-X → X)', group: 'transport' }),
  logAnalyticsScope: option({ flags: '--log-analytics-scope <scope>', description: 'Sentinel: token scope for the query API', default: 'https://api.loganalytics.io/.default', group: 'transport' }),
  esSkipFailureStore: switchOption({
    flags: '--es-skip-failure-store',
    description: 'Elasticsearch: do not search <stream>::failures (no read_failure_store privilege)',
    default: false,
    group: 'transport',
  }),
};

/** How the SIEM is asked, as `siem verify` and a verifying export both use it. */
export interface QuerySettings {
  /** Null: the SIEM's own settle time. */
  settleMs: number | null;
  windowSize: number;
}

/**
 * The query side checked once, the same way for `siem verify` and for `siem export --verify-every`, so a value
 * one of them refuses is never taken by the other and left unused.
 */
export function querySettings(v: FlagValues): QuerySettings {
  const settleMs = VERIFY_QUERY.settle.read(v);
  const windowSize = VERIFY_QUERY.window.read(v)!;
  if (windowSize > MAX_WINDOW) throw new ConfigurationError(`--window must be at most ${MAX_WINDOW} events per query`);
  const searchUrl = VERIFY_QUERY.splunkSearchUrl.read(v);
  if (searchUrl !== null) checkUrl(searchUrl, '--splunk-search-url');
  checkUrl(VERIFY_QUERY.logAnalyticsUrl.read(v)!, '--log-analytics-url');
  return { settleMs, windowSize };
}

/** Where each query URL's credentials go instead of the URL. */
const URL_CREDENTIALS: Record<string, string> = {
  '--splunk-search-url': 'a token goes in OVERSIGHT_SPLUNK_SEARCH_TOKEN or --splunk-search-token-file, a user and password in OVERSIGHT_SPLUNK_USERNAME and OVERSIGHT_SPLUNK_PASSWORD',
  '--log-analytics-url': 'the app registration goes in AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET',
};

export function checkUrl(url: string, flag: '--splunk-search-url' | '--log-analytics-url'): void {
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error();
  } catch {
    throw new ConfigurationError(`${flag} must be an http(s):// URL, not '${maskUserinfoLoosely(url)}'`);
  }
  refuseUrlCredentials(flag, url, URL_CREDENTIALS[flag]!);
}

/** What `siem verify` checks and does with what it finds. */
export const VERIFY = {
  fromRowid: option({ flags: '--from-rowid <n>', description: 'first registry rowid to check', group: 'common', parse: count(1) }),
  toRowid: option({ flags: '--to-rowid <n>', description: 'last registry rowid to check (default: the newest)', group: 'common', parse: count(1) }),
  until: option({ flags: '--until <unix_ts>', description: 'only events whose timestamp is at or before this Unix time', group: 'common', parse: count(0) }),
  repair: switchOption({ flags: '--repair', description: 're-send exactly the missing events through the ordinary delivery path, then verify again', default: false, group: 'common' }),
  repairWait: option({ flags: '--repair-wait <duration>', description: 'with --repair: pause before verifying again (default: 2s, 0 for files)', group: 'common', parse: (v, f) => parseDuration(v, f, true) }),
  report: option({ flags: '--report <file>', description: 'write a JSON evidence manifest here (mode 0600)', group: 'common' }),
  signKeyFile: option({
    flags: '--sign-key-file <file>',
    description: 'with --report: HMAC-SHA256 the manifest with this key (at least 32 bytes) into <report>.sig',
    group: 'common',
    secret: true,
  }),
  list: option({ flags: '--list <n>', description: 'event ids shown per kind of problem', default: '20', group: 'common', parse: count(0) }),
};


/** Variables the query side reads, beyond the export's. */
export const VERIFY_VARIABLES: readonly { name: string; description: string; secret?: boolean }[] = [
  { name: 'OVERSIGHT_SPLUNK_SEARCH_TOKEN', description: 'a Splunk authentication token with the search capability', secret: true },
  { name: 'OVERSIGHT_SPLUNK_USERNAME', description: 'a Splunk user, with OVERSIGHT_SPLUNK_PASSWORD, where there is no token' },
  { name: 'OVERSIGHT_SPLUNK_PASSWORD', description: "that user's password", secret: true },
];
