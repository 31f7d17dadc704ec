/**
 * The ingestion side of Sentinel as one resource-group ARM template: the custom table `Oversight_CL`, a data
 * collection endpoint, a `kind: Direct` data collection rule whose stream declaration is the table's columns,
 * the Monitoring Metrics Publisher role for the exporting app on that rule, and the ASIM parser functions.
 * Its outputs are the exact `--output` URL for `oversight siem export --format sentinel`.
 */
import type { FieldTable } from './model.js';
import { OCCURRED_COLUMN, TABLE } from './sentinel-kql.js';

export const STREAM = `Custom-${TABLE}`;
export const MONITORING_METRICS_PUBLISHER = '3913510d-42f4-4e42-8a64-420c390055eb';
/**
 * The callback's own time is the record's `TimeGenerated`, but Azure Monitor replaces a TimeGenerated older than
 * 2 days (or more than 1 day ahead) with the arrival time, and leaves a row without one at the arrival time too.
 * So the transform keeps the callback's time in a column of its own, `OccurredAt` (null when the registry row has
 * no usable time), and sets `TimeGenerated` to the arrival time for every row: one clock per column, the same for
 * a callback delivered at once and one delivered 30 days late, and never 1970 or empty.
 */
export const TRANSFORM = `source | extend ${OCCURRED_COLUMN} = TimeGenerated | extend TimeGenerated = now()`;

const API = {
  workspace: '2022-10-01',
  table: '2022-10-01',
  dce: '2023-03-11',
  dcr: '2023-03-11',
  roleAssignment: '2022-04-01',
  savedSearch: '2020-08-01',
  workbook: '2022-04-01',
} as const;

/** The table API spells the date type `dateTime`; the DCR stream declaration and KQL spell it `datetime`. */
function tableType(type: string): string {
  return type === 'datetime' ? 'dateTime' : type;
}

export function streamColumns(fields: FieldTable): { name: string; type: string }[] {
  return fields.fields.map((f) => ({ name: f.sentinel.column, type: f.sentinel.type }));
}

/** The table: the stream's columns, then the ones the transform makes. */
export function tableColumns(fields: FieldTable): { name: string; type: string; description: string }[] {
  return [
    ...fields.fields.map((f) => ({ name: f.sentinel.column, type: f.sentinel.type, description: f.description })),
    {
      name: OCCURRED_COLUMN,
      type: 'datetime',
      description: 'When the beacon called home, by the registry\'s clock (UTC); empty when the registry row has no usable time. TimeGenerated is when the row reached the workspace.',
    },
  ];
}

/** Each parser function after the table and after the parser functions its body calls. */
export function parserDependencies(parsers: ParserFunction[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const p of parsers) {
    out.set(p.name, parsers.filter((q) => q !== p && new RegExp(`\\b${q.name}\\b`).test(p.body)).map((q) => q.name));
  }
  return out;
}

export interface ParserFunction {
  name: string;
  title: string;
  /** ARM `functionParameters`: "name:type=default, …", empty for none. */
  parameters: string;
  body: string;
}

const id = (type: string, ...names: string[]): string => `[resourceId('${type}', ${names.join(', ')})]`;

export function ingestionTemplate(fields: FieldTable, parsers: ParserFunction[]): Record<string, unknown> {
  const workspaceId = id('Microsoft.OperationalInsights/workspaces', "parameters('workspaceName')");
  const tableId = id('Microsoft.OperationalInsights/workspaces/tables', "parameters('workspaceName')", `'${TABLE}'`);
  const dceId = id('Microsoft.Insights/dataCollectionEndpoints', "parameters('dataCollectionEndpointName')");
  const dcrId = id('Microsoft.Insights/dataCollectionRules', "parameters('dataCollectionRuleName')");
  const dce = `reference(${dceId.slice(1, -1)}, '${API.dce}')`;
  const dcr = `reference(${dcrId.slice(1, -1)}, '${API.dcr}')`;
  const endpoint = `if(parameters('useDataCollectionEndpoint'), ${dce}.logsIngestion.endpoint, ${dcr}.endpoints.logsIngestion)`;
  // The endpoint and the rule must be in the workspace's region, which need not be the resource group's.
  const location = `[if(empty(parameters('location')), reference(${workspaceId.slice(1, -1)}, '${API.workspace}', 'Full').location, parameters('location'))]`;
  const dependencies = parserDependencies(parsers);
  const parserId = (name: string): string => id('Microsoft.OperationalInsights/workspaces/savedSearches', "parameters('workspaceName')", `'${name}'`);
  return {
    $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
    contentVersion: '1.0.0.0',
    metadata: {
      description:
        `Oversight beacon callbacks in Microsoft Sentinel: custom table ${TABLE}, data collection endpoint, Direct data collection rule ` +
        `(stream ${STREAM}), Monitoring Metrics Publisher for the exporting app, ASIM AlertEvent parsers. Generated from content/fields.yaml.`,
    },
    parameters: {
      workspaceName: { type: 'string', metadata: { description: 'Existing Log Analytics workspace (the one Microsoft Sentinel runs on), in this resource group.' } },
      location: {
        type: 'string',
        defaultValue: '',
        metadata: { description: "Region of the endpoint and the rule; empty (the default) takes the workspace's region, where both must be." },
      },
      servicePrincipalObjectId: {
        type: 'string',
        metadata: { description: "Object id of the exporting app's service principal (az ad sp show --id <appId> --query id -o tsv), not the application (client) id." },
      },
      dataCollectionEndpointName: { type: 'string', defaultValue: 'oversight-dce' },
      dataCollectionRuleName: { type: 'string', defaultValue: 'oversight-dcr' },
      useDataCollectionEndpoint: {
        type: 'bool',
        defaultValue: true,
        metadata: {
          description:
            "Create the data collection endpoint and send through it (needed with private link). false: no endpoint; the Direct rule's own logs ingestion endpoint is used.",
        },
      },
      retentionInDays: { type: 'int', defaultValue: 90, minValue: 4, maxValue: 730, metadata: { description: 'Interactive (Analytics) retention of the table.' } },
      totalRetentionInDays: { type: 'int', defaultValue: 365, minValue: 4, maxValue: 4383, metadata: { description: 'Total retention including long-term retention.' } },
    },
    resources: [
      {
        type: 'Microsoft.OperationalInsights/workspaces/tables',
        apiVersion: API.table,
        name: `[format('{0}/{1}', parameters('workspaceName'), '${TABLE}')]`,
        properties: {
          plan: 'Analytics',
          retentionInDays: "[parameters('retentionInDays')]",
          totalRetentionInDays: "[parameters('totalRetentionInDays')]",
          schema: {
            name: TABLE,
            description: 'Oversight registry beacon callbacks (one row per callback), written by oversight siem export.',
            columns: tableColumns(fields).map((c) => ({ name: c.name, type: tableType(c.type), description: c.description })),
          },
        },
      },
      {
        condition: "[parameters('useDataCollectionEndpoint')]",
        type: 'Microsoft.Insights/dataCollectionEndpoints',
        apiVersion: API.dce,
        name: "[parameters('dataCollectionEndpointName')]",
        location,
        properties: { networkAcls: { publicNetworkAccess: 'Enabled' } },
      },
      {
        type: 'Microsoft.Insights/dataCollectionRules',
        apiVersion: API.dcr,
        name: "[parameters('dataCollectionRuleName')]",
        location,
        kind: 'Direct',
        dependsOn: [tableId, dceId],
        properties: {
          description: `Oversight beacon callbacks from oversight siem export into ${TABLE}.`,
          dataCollectionEndpointId: `[if(parameters('useDataCollectionEndpoint'), ${dceId.slice(1, -1)}, null())]`,
          streamDeclarations: { [STREAM]: { columns: streamColumns(fields) } },
          destinations: { logAnalytics: [{ workspaceResourceId: workspaceId, name: 'workspace' }] },
          dataFlows: [{ streams: [STREAM], destinations: ['workspace'], transformKql: TRANSFORM, outputStream: STREAM }],
        },
      },
      {
        type: 'Microsoft.Authorization/roleAssignments',
        apiVersion: API.roleAssignment,
        scope: `[format('Microsoft.Insights/dataCollectionRules/{0}', parameters('dataCollectionRuleName'))]`,
        name: `[guid(${dcrId.slice(1, -1)}, parameters('servicePrincipalObjectId'), '${MONITORING_METRICS_PUBLISHER}')]`,
        dependsOn: [dcrId],
        properties: {
          roleDefinitionId: `[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '${MONITORING_METRICS_PUBLISHER}')]`,
          principalId: "[parameters('servicePrincipalObjectId')]",
          principalType: 'ServicePrincipal',
        },
      },
      ...parsers.map((p) => ({
        type: 'Microsoft.OperationalInsights/workspaces/savedSearches',
        apiVersion: API.savedSearch,
        name: `[format('{0}/{1}', parameters('workspaceName'), '${p.name}')]`,
        dependsOn: [tableId, ...dependencies.get(p.name)!.map(parserId)],
        properties: {
          etag: '*',
          displayName: p.title,
          category: 'ASIM',
          functionAlias: p.name,
          functionParameters: p.parameters,
          query: p.body,
          version: 1,
        },
      })),
    ],
    outputs: {
      exportOutputUrl: {
        type: 'string',
        value: `[format('{0}/dataCollectionRules/{1}/streams/${STREAM}?api-version=2023-01-01', ${endpoint}, ${dcr}.immutableId)]`,
      },
      // A Direct rule has its own endpoint even when linked to an endpoint resource; either URL reaches it.
      dataCollectionRuleOutputUrl: {
        type: 'string',
        value: `[format('{0}/dataCollectionRules/{1}/streams/${STREAM}?api-version=2023-01-01', ${dcr}.endpoints.logsIngestion, ${dcr}.immutableId)]`,
      },
      dataCollectionRuleImmutableId: { type: 'string', value: `[${dcr}.immutableId]` },
      logsIngestionEndpoint: { type: 'string', value: `[${endpoint}]` },
      streamName: { type: 'string', value: STREAM },
    },
  };
}

/** The workbook (Azure Monitor workbook JSON) as a resource-group ARM template bound to the workspace. */
export function workbookTemplate(workbook: unknown): Record<string, unknown> {
  return {
    $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
    contentVersion: '1.0.0.0',
    metadata: { description: 'Oversight beacon callbacks workbook for Microsoft Sentinel. Generated from content/sentinel/workbooks/oversight.json.' },
    parameters: {
      workspaceName: { type: 'string', metadata: { description: 'Log Analytics workspace that holds Oversight_CL, in this resource group.' } },
      location: { type: 'string', defaultValue: '[resourceGroup().location]' },
      workbookDisplayName: { type: 'string', defaultValue: 'Oversight beacon callbacks' },
      workbookId: { type: 'string', defaultValue: "[newGuid()]", metadata: { description: 'GUID of the workbook resource; pass the same one to update it in place.' } },
    },
    resources: [
      {
        type: 'Microsoft.Insights/workbooks',
        apiVersion: API.workbook,
        name: "[parameters('workbookId')]",
        location: "[parameters('location')]",
        kind: 'shared',
        properties: {
          displayName: "[parameters('workbookDisplayName')]",
          category: 'sentinel',
          sourceId: id('Microsoft.OperationalInsights/workspaces', "parameters('workspaceName')"),
          serializedData: JSON.stringify(workbook),
        },
      },
    ],
  };
}

export interface HuntingQuery {
  id: string;
  name: string;
  description: string;
  tactics: string[];
  relevantTechniques: string[];
  query: string;
}

/** The hunting queries as workspace saved searches in the "Hunting Queries" category, where Sentinel's Hunting page lists them. */
export function huntingTemplate(queries: HuntingQuery[]): Record<string, unknown> {
  return {
    $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
    contentVersion: '1.0.0.0',
    metadata: { description: 'Oversight hunting queries for Microsoft Sentinel. Generated from content/sentinel/hunting/*.yaml.' },
    parameters: {
      workspaceName: { type: 'string', metadata: { description: 'Log Analytics workspace that holds Oversight_CL, in this resource group.' } },
    },
    resources: queries.map((q) => ({
      type: 'Microsoft.OperationalInsights/workspaces/savedSearches',
      apiVersion: API.savedSearch,
      name: `[format('{0}/{1}', parameters('workspaceName'), '${q.id}')]`,
      properties: {
        etag: '*',
        category: 'Hunting Queries',
        displayName: q.name,
        query: q.query.trimEnd(),
        version: 2,
        tags: [
          { name: 'description', value: q.description.trim() },
          { name: 'tactics', value: q.tactics.join(',') },
          { name: 'techniques', value: q.relevantTechniques.join(',') },
        ],
      },
    })),
  };
}
