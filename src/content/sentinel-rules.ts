/**
 * The detections as Sentinel scheduled analytic rules: the Azure-Sentinel repository's rule YAML (what a
 * solution or the "import rule templates" flow takes) and the same rules as ARM `alertRules` resources.
 */
import YAML from 'yaml';
import { durationSeconds, opensAlerts, type Detection, type FieldTable } from './model.js';
import { DERIVED, OCCURRED_COLUMN, renderRuleQuery, TABLE, timespan, WINDOW_COUNT, type RuleQuery } from './sentinel-kql.js';

/** MITRE ATT&CK tactic ids → the tactic names Sentinel's rule schema accepts. */
const TACTICS: Record<string, string> = {
  TA0043: 'Reconnaissance',
  TA0042: 'ResourceDevelopment',
  TA0001: 'InitialAccess',
  TA0002: 'Execution',
  TA0003: 'Persistence',
  TA0004: 'PrivilegeEscalation',
  TA0005: 'DefenseEvasion',
  TA0006: 'CredentialAccess',
  TA0007: 'Discovery',
  TA0008: 'LateralMovement',
  TA0009: 'Collection',
  TA0011: 'CommandAndControl',
  TA0010: 'Exfiltration',
  TA0040: 'Impact',
};

const SEVERITY: Record<Detection['severity'], string> = {
  informational: 'Informational',
  low: 'Low',
  medium: 'Medium',
  high: 'High',
  critical: 'High', // Sentinel has no critical
};

export interface SentinelRule {
  detection: Detection;
  rendered: RuleQuery;
  yaml: Record<string, unknown>;
}

function tactics(d: Detection): string[] {
  return d.tactics.map((t) => {
    const name = TACTICS[t];
    if (!name) throw new Error(`${d.id}: MITRE tactic ${t} has no Sentinel tactic name`);
    return name;
  });
}

/** ISO 8601 duration, as the alertRules API wants queryFrequency and queryPeriod. */
export function isoDuration(seconds: number): string {
  if (seconds % 86400 === 0) return `P${seconds / 86400}D`;
  if (seconds % 3600 === 0) return `PT${seconds / 3600}H`;
  if (seconds % 60 === 0) return `PT${seconds / 60}M`;
  return `PT${seconds}S`;
}

/** Per-event columns worth showing on the alert, as far as the query's results carry them. */
const DETAIL_COLUMNS: Record<string, string> = {
  OccurredAt: OCCURRED_COLUMN,
  BeaconKind: 'BeaconKind',
  FileId: 'FileId',
  TokenId: 'TokenId',
  RegistryId: 'RegistryId',
  EventId: 'EventId',
  SourceIp: 'SourceIp',
  UserAgent: 'UserAgent',
  Confidence: DERIVED.confidence,
  DistinctSourceIps: 'DistinctCount',
  SourceIps: 'DistinctValues',
  CallbackCount: 'Callbacks',
  CallbacksInWindow: WINDOW_COUNT,
  BeaconKinds: 'BeaconKinds',
  Files: 'Files',
  FirstSeen: 'FirstSeen',
  LastSeen: 'LastSeen',
};

/**
 * Sentinel keeps at most 2 KB of custom details per alert, all of them together. Every detail is a column of
 * its own cut to a share of that budget, counting 4 bytes per character (UTF-8's worst case) and 16 bytes of
 * JSON around each value, so a 64 kB User-Agent or a set of addresses cannot push the alert over the limit.
 */
export const CUSTOM_DETAILS_BYTES = 2048;
export const DETAIL_OVERHEAD_BYTES = 16;
export const DETAIL_PREFIX = 'Detail';

function customDetails(columns: string[]): { details: Record<string, string>; extend: string } {
  const chosen = Object.entries(DETAIL_COLUMNS).filter(([, column]) => columns.includes(column));
  const keyBytes = chosen.reduce((n, [key]) => n + key.length, 0);
  const chars = Math.floor((CUSTOM_DETAILS_BYTES - keyBytes - DETAIL_OVERHEAD_BYTES * chosen.length) / (4 * chosen.length));
  const details: Record<string, string> = {};
  const parts: string[] = [];
  for (const [key, column] of chosen) {
    details[key] = `${DETAIL_PREFIX}${key}`;
    parts.push(`${DETAIL_PREFIX}${key} = substring(tostring(${column}), 0, ${chars})`);
  }
  return { details, extend: `| extend ${parts.join(', ')} // custom details stay within Sentinel's 2 KB` };
}

function describe(d: Detection, r: RuleQuery): string {
  return [
    d.description,
    d.confidence === d.dns_confidence
      ? `Confidence: ${d.confidence}, DNS callbacks included.`
      : `Confidence: ${d.confidence}; ${d.dns_confidence} when DNS callbacks raise it (the Confidence detail says which).`,
    r.coverage,
    `False positives: ${d.false_positives.join(' ')}`,
  ].join('\n\n');
}

function alertFormat(d: Detection, columns: string[]): { alertDisplayNameFormat: string; alertDescriptionFormat: string } {
  const has = (c: string): boolean => columns.includes(c);
  if (has('DistinctCount')) {
    return {
      alertDisplayNameFormat: 'Oversight: file {{FileId}} called back from {{DistinctCount}} addresses',
      alertDescriptionFormat: `File {{FileId}} (issued to {{RecipientId}}) called back from {{DistinctCount}} distinct addresses. ${d.name}.`,
    };
  }
  if (has('Callbacks')) {
    return {
      alertDisplayNameFormat: 'Oversight: {{Callbacks}} callbacks from {{Origin}}',
      alertDescriptionFormat: `{{Origin}} made {{Callbacks}} beacon callbacks. ${d.name}.`,
    };
  }
  return {
    alertDisplayNameFormat: `${d.name.replace(/^Oversight - /, 'Oversight: ')} ({{BeaconKind}} from {{Origin}})`,
    alertDescriptionFormat: has(WINDOW_COUNT)
      ? `Beacon {{BeaconKind}} called back from {{Origin}}, callback {{${WINDOW_COUNT}}} of it in ${d.suppression.window} (its own time is in OccurredAt). ${d.name}.`
      : `Beacon {{BeaconKind}} called back from {{Origin}} at {{OccurredAt}}. ${d.name}.`,
  };
}

function entityMappings(columns: string[]): { entityType: string; fieldMappings: { identifier: string; columnName: string }[] }[] {
  const out = [];
  if (columns.includes(DERIVED.ip)) out.push({ entityType: 'IP', fieldMappings: [{ identifier: 'Address', columnName: DERIVED.ip }] });
  if (columns.includes(DERIVED.accountName)) {
    out.push({
      entityType: 'Account',
      fieldMappings: [
        { identifier: 'Name', columnName: DERIVED.accountName },
        { identifier: 'UPNSuffix', columnName: DERIVED.accountSuffix },
      ],
    });
  }
  return out;
}

export function sentinelRule(fields: FieldTable, d: Detection): SentinelRule {
  const base = renderRuleQuery(fields, d);
  const details = customDetails(base.columns);
  const rendered: RuleQuery = {
    ...base,
    query: `${base.query}\n${details.extend}`,
    columns: [...base.columns, ...Object.values(details.details)],
  };
  const techniques = d.techniques;
  const yaml: Record<string, unknown> = {
    id: d.guid,
    name: d.name,
    description: describe(d, rendered),
    severity: SEVERITY[d.severity],
    status: 'Available',
    requiredDataConnectors: [],
    queryFrequency: timespan(rendered.queryFrequency),
    queryPeriod: timespan(rendered.queryPeriod),
    triggerOperator: 'gt',
    triggerThreshold: 0,
    tactics: tactics(d),
    relevantTechniques: techniques,
    query: rendered.query,
    entityMappings: entityMappings(rendered.columns),
    customDetails: details.details,
    alertDetailsOverride: alertFormat(d, rendered.columns),
    eventGroupingSettings: { aggregationKind: 'AlertPerResult' },
    version: `${d.version}.0.0`,
    kind: 'Scheduled',
  };
  if (techniques.length === 0) delete yaml.relevantTechniques;
  return { detection: d, rendered, yaml };
}

export function ruleYaml(rule: SentinelRule): string {
  const d = rule.detection;
  return (
    `# Generated from content/detections/${d.id.replace(/^oversight-/, '')}.yaml and content/fields.yaml by \`npm run content\`.\n` +
    `# Edit those files, not this one. Rule template for Microsoft Sentinel (${TABLE}).\n` +
    YAML.stringify(rule.yaml, { lineWidth: 0, blockQuote: 'literal' })
  );
}


/** The custom detail that carries a suppression field, which Sentinel's incident grouping can then match on. */
function incidentKeys(rule: SentinelRule, fields: FieldTable): string[] {
  const details = rule.yaml.customDetails as Record<string, string>;
  return rule.detection.suppression.group_by.map((name) => {
    const column = fields.field(name).sentinel.column;
    const key = Object.keys(DETAIL_COLUMNS).find((k) => DETAIL_COLUMNS[k] === column && k in details);
    if (!key) throw new Error(`${rule.detection.id}: suppression field ${name} is not a custom detail of the rule`);
    return key;
  });
}

/** The rule as an `alertRules` resource of a workspace-scoped ARM template (parameters `workspace`, `rulesEnabled`). */
export function ruleResource(rule: SentinelRule, fields: FieldTable): Record<string, unknown> {
  const y = rule.yaml;
  const d = rule.detection;
  return {
    type: 'Microsoft.SecurityInsights/alertRules',
    apiVersion: '2024-03-01',
    scope: "[format('Microsoft.OperationalInsights/workspaces/{0}', parameters('workspace'))]",
    name: d.guid,
    kind: 'Scheduled',
    properties: {
      displayName: d.name,
      description: y.description,
      severity: y.severity,
      enabled: "[parameters('rulesEnabled')]",
      query: rule.rendered.query,
      queryFrequency: isoDuration(rule.rendered.queryFrequency),
      queryPeriod: isoDuration(rule.rendered.queryPeriod),
      triggerOperator: 'GreaterThan',
      triggerThreshold: 0,
      suppressionEnabled: false,
      suppressionDuration: 'PT1H',
      tactics: y.tactics,
      techniques: d.techniques,
      entityMappings: y.entityMappings,
      customDetails: y.customDetails,
      alertDetailsOverride: y.alertDetailsOverride,
      eventGroupingSettings: y.eventGroupingSettings,
      incidentConfiguration: {
        // A building block records its alert without an incident: another rule's incident covers the callbacks.
        createIncident: opensAlerts(d),
        // One incident per leaked file (per source address, per unknown token) for a day, however many
        // callbacks: its alerts are the callbacks, so the incident's alert count is the callback count.
        groupingConfiguration: {
          enabled: opensAlerts(d),
          reopenClosedIncident: false,
          lookbackDuration: isoDuration(durationSeconds(d.suppression.window)),
          matchingMethod: 'Selected',
          groupByEntities: [],
          groupByAlertDetails: [],
          groupByCustomDetails: incidentKeys(rule, fields),
        },
      },
    },
  };
}

export function rulesTemplate(rules: SentinelRule[], fields: FieldTable): Record<string, unknown> {
  return {
    $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
    contentVersion: '1.0.0.0',
    metadata: {
      description: `Oversight analytic rules for Microsoft Sentinel over ${TABLE}. Deploy after azuredeploy.json: Sentinel checks each query against the workspace, so the table must exist first. Generated from content/detections/*.yaml.`,
    },
    parameters: {
      workspace: { type: 'string', metadata: { description: 'Name of the Log Analytics workspace Microsoft Sentinel runs on.' } },
      rulesEnabled: { type: 'bool', defaultValue: true, metadata: { description: 'Create the rules enabled.' } },
    },
    resources: rules.map((r) => ruleResource(r, fields)),
    outputs: {
      ruleIds: { type: 'array', value: rules.map((r) => r.detection.guid) },
    },
  };
}
