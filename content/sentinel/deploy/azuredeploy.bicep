// Generated from content/fields.yaml and content/sentinel/parsers/*.yaml by `npm run content`; edit those, not this file.
// Oversight beacon callbacks in Microsoft Sentinel: custom table Oversight_CL, data collection endpoint, Direct data collection
// rule (stream Custom-Oversight_CL), Monitoring Metrics Publisher for the exporting app, ASIM AlertEvent parsers. Same as azuredeploy.json.

@description('Existing Log Analytics workspace (the one Microsoft Sentinel runs on), in this resource group.')
param workspaceName string

@description('Region of the endpoint and the rule; empty (the default) takes the workspace\'s region, where both must be.')
param location string = ''

@description('Object id of the exporting app\'s service principal (az ad sp show --id <appId> --query id -o tsv), not the application (client) id.')
param servicePrincipalObjectId string

param dataCollectionEndpointName string = 'oversight-dce'
param dataCollectionRuleName string = 'oversight-dcr'

@description('Create the data collection endpoint and send through it (needed with private link). false: no endpoint; the Direct rule\'s own logs ingestion endpoint is used.')
param useDataCollectionEndpoint bool = true

@description('Interactive (Analytics) retention of the table.')
@minValue(4)
@maxValue(730)
param retentionInDays int = 90

@description('Total retention including long-term retention.')
@minValue(4)
@maxValue(4383)
param totalRetentionInDays int = 365

var stream = 'Custom-Oversight_CL'
var region = empty(location) ? workspace.location : location
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource workspace 'Microsoft.OperationalInsights/workspaces@2022-10-01' existing = {
  name: workspaceName
}

resource table 'Microsoft.OperationalInsights/workspaces/tables@2022-10-01' = {
  parent: workspace
  name: 'Oversight_CL'
  properties: {
    plan: 'Analytics'
    retentionInDays: retentionInDays
    totalRetentionInDays: totalRetentionInDays
    schema: {
      name: 'Oversight_CL'
      description: 'Oversight registry beacon callbacks (one row per callback), written by oversight siem export.'
      columns: [
        { name: 'TimeGenerated', type: 'dateTime', description: 'When the beacon called home, by the registry\'s clock (UTC).' }
        { name: 'Schema', type: 'string', description: 'Version of the record layout (oversight-siem-1).' }
        { name: 'RegistryId', type: 'string', description: 'The Oversight registry that recorded the callback (its public key or short id).' }
        { name: 'EventId', type: 'string', description: 'The registry\'s id of the callback (events.id); unique per registry, stable across re-sends.' }
        { name: 'BeaconKind', type: 'string', description: 'Beacon kind: dns, http_img, ocsp or license.' }
        { name: 'Action', type: 'string', description: 'What happened, per kind: beacon-dns-callback, beacon-http-pixel, beacon-ocsp-callback, beacon-license-check.' }
        { name: 'TokenId', type: 'string', description: 'The beacon token that called home; one token per sealed copy and beacon kind.' }
        { name: 'FileId', type: 'string', description: 'The sealed file the token belongs to; empty when the registry does not know the token.' }
        { name: 'RecipientId', type: 'string', description: 'The person the leaked copy was issued to (not necessarily who opened it).' }
        { name: 'IssuerId', type: 'string', description: 'Who sealed and issued the copy.' }
        { name: 'SourceIp', type: 'string', description: 'Address the callback came from; for DNS beacons the reader\'s resolver, not the reader. May be the text `unknown`.' }
        { name: 'UserAgent', type: 'string', description: 'HTTP User-Agent of the callback (empty for DNS); non-ASCII may arrive Latin-1 garbled.' }
        { name: 'QualifiedTimestamp', type: 'string', description: 'The registry\'s qualified (timestamp-authority) time of the callback, when it has one.' }
        { name: 'TlogIndex', type: 'long', description: 'Position of the callback in the registry\'s transparency log (not in event order).' }
        { name: 'ExtraJson', type: 'string', description: 'Kind-specific details as the registry stored them (DNS: qname, qtype).' }
        { name: 'OccurredAt', type: 'dateTime', description: 'When the beacon called home, by the registry\'s clock (UTC); empty when the registry row has no usable time. TimeGenerated is when the row reached the workspace.' }
      ]
    }
  }
}

resource dce 'Microsoft.Insights/dataCollectionEndpoints@2023-03-11' = if (useDataCollectionEndpoint) {
  name: dataCollectionEndpointName
  location: region
  properties: {
    networkAcls: { publicNetworkAccess: 'Enabled' }
  }
}

resource dcr 'Microsoft.Insights/dataCollectionRules@2023-03-11' = {
  name: dataCollectionRuleName
  location: region
  kind: 'Direct'
  dependsOn: [table]
  properties: {
    description: 'Oversight beacon callbacks from oversight siem export into Oversight_CL.'
    dataCollectionEndpointId: useDataCollectionEndpoint ? dce.id : null
    streamDeclarations: {
      '${stream}': {
        columns: [
          { name: 'TimeGenerated', type: 'datetime' }
          { name: 'Schema', type: 'string' }
          { name: 'RegistryId', type: 'string' }
          { name: 'EventId', type: 'string' }
          { name: 'BeaconKind', type: 'string' }
          { name: 'Action', type: 'string' }
          { name: 'TokenId', type: 'string' }
          { name: 'FileId', type: 'string' }
          { name: 'RecipientId', type: 'string' }
          { name: 'IssuerId', type: 'string' }
          { name: 'SourceIp', type: 'string' }
          { name: 'UserAgent', type: 'string' }
          { name: 'QualifiedTimestamp', type: 'string' }
          { name: 'TlogIndex', type: 'long' }
          { name: 'ExtraJson', type: 'string' }
        ]
      }
    }
    destinations: {
      logAnalytics: [{ workspaceResourceId: workspace.id, name: 'workspace' }]
    }
    dataFlows: [{ streams: [stream], destinations: ['workspace'], transformKql: 'source | extend OccurredAt = TimeGenerated | extend TimeGenerated = now()', outputStream: stream }]
  }
}

resource publisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: dcr
  name: guid(dcr.id, servicePrincipalObjectId, monitoringMetricsPublisher)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: servicePrincipalObjectId
    principalType: 'ServicePrincipal'
  }
}

resource parser0 'Microsoft.OperationalInsights/workspaces/savedSearches@2020-08-01' = {
  parent: workspace
  name: 'ASimAlertEventOversightRegistry'
  dependsOn: [table, parser1]
  properties: {
    etag: '*'
    displayName: 'Alert Event ASIM parser for Oversight registry beacon callbacks (Oversight_CL)'
    category: 'ASIM'
    functionAlias: 'ASimAlertEventOversightRegistry'
    functionParameters: 'disabled:bool=false, pack:bool=false'
    query: '''
vimAlertEventOversightRegistry(disabled = disabled, pack = pack)
'''
    version: 1
  }
}

resource parser1 'Microsoft.OperationalInsights/workspaces/savedSearches@2020-08-01' = {
  parent: workspace
  name: 'vimAlertEventOversightRegistry'
  dependsOn: [table]
  properties: {
    etag: '*'
    displayName: 'Alert Event ASIM filtering parser for Oversight registry beacon callbacks (Oversight_CL)'
    category: 'ASIM'
    functionAlias: 'vimAlertEventOversightRegistry'
    functionParameters: 'starttime:datetime=datetime(null), endtime:datetime=datetime(null), ipaddr_has_any_prefix:dynamic=dynamic([]), hostname_has_any:dynamic=dynamic([]), username_has_any:dynamic=dynamic([]), attacktactics_has_any:dynamic=dynamic([]), attacktechniques_has_any:dynamic=dynamic([]), threatcategory_has_any:dynamic=dynamic([]), alertverdict_has_any:dynamic=dynamic([]), eventseverity_has_any:dynamic=dynamic([]), disabled:bool=false, pack:bool=false'
    query: '''
let parser = (
    starttime: datetime = datetime(null)
    , endtime: datetime = datetime(null)
    , ipaddr_has_any_prefix: dynamic = dynamic([])
    , hostname_has_any: dynamic = dynamic([])
    , username_has_any: dynamic = dynamic([])
    , attacktactics_has_any: dynamic = dynamic([])
    , attacktechniques_has_any: dynamic = dynamic([])
    , threatcategory_has_any: dynamic = dynamic([])
    , alertverdict_has_any: dynamic = dynamic([])
    , eventseverity_has_any: dynamic = dynamic([])
    , disabled: bool = false
    , pack: bool = false
) {
    Oversight_CL
    | where not(disabled)
    | where (isnull(starttime) or TimeGenerated >= starttime) and (isnull(endtime) or TimeGenerated <= endtime)
    // A callback names no host and carries no verdict: such filters match nothing.
    | where array_length(hostname_has_any) == 0
    | where array_length(alertverdict_has_any) == 0
    | extend _known = isnotempty(FileId)
    | extend
        // A DNS callback's address is the reader's resolver, not the reader's: it stays in AdditionalFields only.
        DvcIpAddr = iff(BeaconKind != "dns" and (isnotnull(parse_ipv4(SourceIp)) or isnotempty(parse_ipv6(SourceIp))), SourceIp, "")
        , Username = RecipientId
        , EventSeverity = iff(_known, "High", "Medium")
        , AttackTactics = iff(_known, "Exfiltration", "Reconnaissance")
        , AttackTechniques = iff(_known, "", "Active Scanning (T1595)")
        , ThreatCategory = iff(_known, "Security Policy Violation", "Unknown")
    | where array_length(ipaddr_has_any_prefix) == 0 or has_any_ipv4_prefix(DvcIpAddr, ipaddr_has_any_prefix) or DvcIpAddr has_any (ipaddr_has_any_prefix)
    | where array_length(username_has_any) == 0 or Username has_any (username_has_any)
    | where array_length(attacktactics_has_any) == 0 or AttackTactics has_any (attacktactics_has_any)
    | where array_length(attacktechniques_has_any) == 0 or AttackTechniques has_any (attacktechniques_has_any)
    | where array_length(threatcategory_has_any) == 0 or ThreatCategory in (threatcategory_has_any)
    | where array_length(eventseverity_has_any) == 0 or EventSeverity in (eventseverity_has_any)
    | extend
        EventCount = toint(1)
        // OccurredAt is the callback's own time; TimeGenerated is when it reached the workspace.
        , EventStartTime = coalesce(OccurredAt, TimeGenerated)
        , EventEndTime = coalesce(OccurredAt, TimeGenerated)
        , EventType = "Alert"
        , EventSubType = iff(_known, "Threat", "Suspicious Activity")
        , EventProduct = "Registry"
        , EventVendor = "Oversight"
        , EventSchema = "AlertEvent"
        , EventSchemaVersion = "0.1"
        // Registry and event id identify a callback; a resent batch repeats both.
        , EventUid = strcat(RegistryId, "/", EventId)
        , EventOriginalUid = EventId
        , EventOriginalType = Action
        , EventOriginalSubType = BeaconKind
        , EventMessage = iff(_known
            , strcat("Beacon ", BeaconKind, " of file ", FileId, " (token ", TokenId, ", issued to ", RecipientId, ") called back from ", SourceIp, ".")
            , strcat("Callback from ", SourceIp, " for token ", TokenId, ", which the registry does not know."))
        , AlertName = iff(_known, "Leaked document opened", "Callback for an unknown beacon token")
        , DetectionMethod = "Data Loss Prevention"
        , RuleName = Action
        , ThreatConfidence = iff(BeaconKind == "dns", 50, 90)
        , IndicatorType = iff(_known, "File", "")
        , UsernameType = case(isempty(RecipientId), "", RecipientId contains "@", "UPN", "Simple")
        , DvcId = RegistryId
        , DvcIdType = "Other"
        , DvcDescription = strcat("Oversight registry ", RegistryId)
    | extend
        AlertId = EventUid
        , AlertDescription = EventMessage
        , Rule = RuleName
        , IpAddr = DvcIpAddr
        , User = Username
        , Dvc = RegistryId
        , AdditionalFields = bag_merge(
            bag_pack("RegistryId", RegistryId, "TokenId", TokenId, "FileId", FileId, "IssuerId", IssuerId
                , "BeaconKind", BeaconKind, "SourceIp", SourceIp, "UserAgent", UserAgent)
            , iff(pack, bag_pack("QualifiedTimestamp", QualifiedTimestamp, "TlogIndex", TlogIndex, "Extra", todynamic(ExtraJson)), dynamic({})))
    | project
        TimeGenerated
        , EventCount
        , EventStartTime
        , EventEndTime
        , EventType
        , EventSubType
        , EventSeverity
        , EventProduct
        , EventVendor
        , EventSchema
        , EventSchemaVersion
        , EventUid
        , EventOriginalUid
        , EventOriginalType
        , EventOriginalSubType
        , EventMessage
        , AlertName
        , AlertId
        , AlertDescription
        , DetectionMethod
        , RuleName
        , Rule
        , ThreatCategory
        , ThreatConfidence
        , IndicatorType
        , AttackTactics
        , AttackTechniques
        , Username
        , UsernameType
        , User
        , DvcIpAddr
        , IpAddr
        , DvcId
        , DvcIdType
        , DvcDescription
        , Dvc
        , AdditionalFields
};
parser(
    starttime = starttime
    , endtime = endtime
    , ipaddr_has_any_prefix = ipaddr_has_any_prefix
    , hostname_has_any = hostname_has_any
    , username_has_any = username_has_any
    , attacktactics_has_any = attacktactics_has_any
    , attacktechniques_has_any = attacktechniques_has_any
    , threatcategory_has_any = threatcategory_has_any
    , alertverdict_has_any = alertverdict_has_any
    , eventseverity_has_any = eventseverity_has_any
    , disabled = disabled
    , pack = pack
)
'''
    version: 1
  }
}

var endpoint = useDataCollectionEndpoint ? dce.properties.logsIngestion.endpoint : dcr.properties.endpoints.logsIngestion

output exportOutputUrl string = '${endpoint}/dataCollectionRules/${dcr.properties.immutableId}/streams/${stream}?api-version=2023-01-01'
output dataCollectionRuleOutputUrl string = '${dcr.properties.endpoints.logsIngestion}/dataCollectionRules/${dcr.properties.immutableId}/streams/${stream}?api-version=2023-01-01'
output dataCollectionRuleImmutableId string = dcr.properties.immutableId
output logsIngestionEndpoint string = endpoint
output streamName string = stream
