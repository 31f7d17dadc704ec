/**
 * The ingestion template again, in Bicep, for teams that deploy with Bicep. Same resources, parameters and
 * outputs as deploy/azuredeploy.json, built from the same field table and parser definitions.
 */
import type { FieldTable } from './model.js';
import { MONITORING_METRICS_PUBLISHER, parserDependencies, STREAM, streamColumns, tableColumns as columnsOf, TRANSFORM, type ParserFunction } from './sentinel-arm.js';
import { TABLE } from './sentinel-kql.js';

/** A single-line Bicep string literal. */
function str(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\$\{/g, '\\${').replace(/\n/g, '\\n')}'`;
}

/** A multi-line Bicep string: verbatim, no escapes, so it must not contain the closing quotes. */
function verbatim(text: string): string {
  if (text.includes("'''")) throw new Error("a KQL body contains ''' and cannot be a Bicep multi-line string");
  return `'''\n${text}\n'''`;
}

export function ingestionBicep(fields: FieldTable, parsers: ParserFunction[]): string {
  const tableColumns = columnsOf(fields).map(
    (c) => `        { name: ${str(c.name)}, type: ${str(c.type === 'datetime' ? 'dateTime' : c.type)}, description: ${str(c.description)} }`,
  );
  const dependencies = parserDependencies(parsers);
  const parserIndex = new Map(parsers.map((p, i) => [p.name, i]));
  const stream = streamColumns(fields).map((c) => `          { name: ${str(c.name)}, type: ${str(c.type)} }`);
  const parserResources = parsers.map((p, i) => [
    `resource parser${i} 'Microsoft.OperationalInsights/workspaces/savedSearches@2020-08-01' = {`,
    '  parent: workspace',
    `  name: ${str(p.name)}`,
    `  dependsOn: [${['table', ...dependencies.get(p.name)!.map((n) => `parser${parserIndex.get(n)}`)].join(', ')}]`,
    '  properties: {',
    "    etag: '*'",
    `    displayName: ${str(p.title)}`,
    "    category: 'ASIM'",
    `    functionAlias: ${str(p.name)}`,
    `    functionParameters: ${str(p.parameters)}`,
    `    query: ${verbatim(p.body)}`,
    '    version: 1',
    '  }',
    '}',
  ].join('\n'));
  return [
    `// Generated from content/fields.yaml and content/sentinel/parsers/*.yaml by \`npm run content\`; edit those, not this file.`,
    `// Oversight beacon callbacks in Microsoft Sentinel: custom table ${TABLE}, data collection endpoint, Direct data collection`,
    `// rule (stream ${STREAM}), Monitoring Metrics Publisher for the exporting app, ASIM AlertEvent parsers. Same as azuredeploy.json.`,
    '',
    "@description('Existing Log Analytics workspace (the one Microsoft Sentinel runs on), in this resource group.')",
    'param workspaceName string',
    '',
    "@description('Region of the endpoint and the rule; empty (the default) takes the workspace\\'s region, where both must be.')",
    "param location string = ''",
    '',
    "@description('Object id of the exporting app\\'s service principal (az ad sp show --id <appId> --query id -o tsv), not the application (client) id.')",
    'param servicePrincipalObjectId string',
    '',
    "param dataCollectionEndpointName string = 'oversight-dce'",
    "param dataCollectionRuleName string = 'oversight-dcr'",
    '',
    "@description('Create the data collection endpoint and send through it (needed with private link). false: no endpoint; the Direct rule\\'s own logs ingestion endpoint is used.')",
    'param useDataCollectionEndpoint bool = true',
    '',
    "@description('Interactive (Analytics) retention of the table.')",
    '@minValue(4)',
    '@maxValue(730)',
    'param retentionInDays int = 90',
    '',
    "@description('Total retention including long-term retention.')",
    '@minValue(4)',
    '@maxValue(4383)',
    'param totalRetentionInDays int = 365',
    '',
    `var stream = ${str(STREAM)}`,
    'var region = empty(location) ? workspace.location : location',
    `var monitoringMetricsPublisher = ${str(MONITORING_METRICS_PUBLISHER)}`,
    '',
    "resource workspace 'Microsoft.OperationalInsights/workspaces@2022-10-01' existing = {",
    '  name: workspaceName',
    '}',
    '',
    "resource table 'Microsoft.OperationalInsights/workspaces/tables@2022-10-01' = {",
    '  parent: workspace',
    `  name: ${str(TABLE)}`,
    '  properties: {',
    "    plan: 'Analytics'",
    '    retentionInDays: retentionInDays',
    '    totalRetentionInDays: totalRetentionInDays',
    '    schema: {',
    `      name: ${str(TABLE)}`,
    "      description: 'Oversight registry beacon callbacks (one row per callback), written by oversight siem export.'",
    '      columns: [',
    ...tableColumns,
    '      ]',
    '    }',
    '  }',
    '}',
    '',
    "resource dce 'Microsoft.Insights/dataCollectionEndpoints@2023-03-11' = if (useDataCollectionEndpoint) {",
    '  name: dataCollectionEndpointName',
    '  location: region',
    '  properties: {',
    "    networkAcls: { publicNetworkAccess: 'Enabled' }",
    '  }',
    '}',
    '',
    "resource dcr 'Microsoft.Insights/dataCollectionRules@2023-03-11' = {",
    '  name: dataCollectionRuleName',
    '  location: region',
    "  kind: 'Direct'",
    '  dependsOn: [table]',
    '  properties: {',
    `    description: ${str(`Oversight beacon callbacks from oversight siem export into ${TABLE}.`)}`,
    '    dataCollectionEndpointId: useDataCollectionEndpoint ? dce.id : null',
    '    streamDeclarations: {',
    `      '\${stream}': {`,
    '        columns: [',
    ...stream,
    '        ]',
    '      }',
    '    }',
    '    destinations: {',
    "      logAnalytics: [{ workspaceResourceId: workspace.id, name: 'workspace' }]",
    '    }',
    `    dataFlows: [{ streams: [stream], destinations: ['workspace'], transformKql: ${str(TRANSFORM)}, outputStream: stream }]`,
    '  }',
    '}',
    '',
    "resource publisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {",
    '  scope: dcr',
    '  name: guid(dcr.id, servicePrincipalObjectId, monitoringMetricsPublisher)',
    '  properties: {',
    "    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)",
    '    principalId: servicePrincipalObjectId',
    "    principalType: 'ServicePrincipal'",
    '  }',
    '}',
    '',
    ...parserResources.flatMap((r) => [r, '']),
    'var endpoint = useDataCollectionEndpoint ? dce.properties.logsIngestion.endpoint : dcr.properties.endpoints.logsIngestion',
    '',
    "output exportOutputUrl string = '${endpoint}/dataCollectionRules/${dcr.properties.immutableId}/streams/${stream}?api-version=2023-01-01'",
    "output dataCollectionRuleOutputUrl string = '${dcr.properties.endpoints.logsIngestion}/dataCollectionRules/${dcr.properties.immutableId}/streams/${stream}?api-version=2023-01-01'",
    'output dataCollectionRuleImmutableId string = dcr.properties.immutableId',
    'output logsIngestionEndpoint string = endpoint',
    'output streamName string = stream',
    '',
  ].join('\n');
}
