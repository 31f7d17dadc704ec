/**
 * The detections as Sentinel scheduled analytic rules: the Azure-Sentinel repository's rule YAML (what a
 * solution or the "import rule templates" flow takes) and the same rules as ARM `alertRules` resources.
 */
import YAML from 'yaml';
import type { Detection, FieldTable } from './model.js';
import { DERIVED, renderRuleQuery, TABLE, timespan, type RuleQuery } from './sentinel-kql.js';

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
  BeaconKind: 'BeaconKind',
  FileId: 'FileId',
  TokenId: 'TokenId',
  IssuerId: 'IssuerId',
  RegistryId: 'RegistryId',
  EventId: 'EventId',
  SourceIp: 'SourceIp',
  UserAgent: 'UserAgent',
  Confidence: DERIVED.confidence,
  DistinctSourceIps: 'DistinctValues',
  CallbackCount: 'Callbacks',
  BeaconKinds: 'BeaconKinds',
  Files: 'Files',
  FirstSeen: 'FirstSeen',
  LastSeen: 'LastSeen',
};

function customDetails(columns: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, column] of Object.entries(DETAIL_COLUMNS)) if (columns.includes(column)) out[key] = column;
  return out;
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
      alertDisplayNameFormat: 'Oversight: {{Callbacks}} callbacks from {{SourceIp}}',
      alertDescriptionFormat: `{{SourceIp}} made {{Callbacks}} beacon callbacks. ${d.name}.`,
    };
  }
  return {
    alertDisplayNameFormat: `${d.name.replace(/^Oversight - /, 'Oversight: ')} ({{BeaconKind}} from {{SourceIp}})`,
    alertDescriptionFormat: `Beacon {{BeaconKind}} of token {{TokenId}} called back from {{SourceIp}}. ${d.name}.`,
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
  const rendered = renderRuleQuery(fields, d);
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
    customDetails: customDetails(rendered.columns),
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

/** The rule as an `alertRules` resource of a workspace-scoped ARM template (parameters `workspace`, `rulesEnabled`). */
export function ruleResource(rule: SentinelRule): Record<string, unknown> {
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
        createIncident: true,
        groupingConfiguration: {
          enabled: true,
          reopenClosedIncident: false,
          lookbackDuration: 'PT5H',
          matchingMethod: 'AllEntities',
          groupByEntities: [],
          groupByAlertDetails: [],
          groupByCustomDetails: [],
        },
      },
      templateVersion: y.version,
    },
  };
}

export function rulesTemplate(rules: SentinelRule[]): Record<string, unknown> {
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
    resources: rules.map(ruleResource),
    outputs: {
      ruleIds: { type: 'array', value: rules.map((r) => r.detection.guid) },
    },
  };
}
