/**
 * The Kibana dashboard "Oversight - leaked document callbacks" as saved objects NDJSON, in the shapes a Kibana
 * 8.x export writes (Kibana migrates them forward on import): a data view for `logs-oversight.beacon-*`, Lens
 * visualizations (callbacks over time by beacon kind, top files, top recipients, top source countries), a saved
 * search of the latest callbacks, a map of source locations and the dashboard that lays them out.
 */
import { createHash } from 'node:crypto';
import { DATA_STREAM_PATTERN } from './elastic-mappings.js';

/** A stable UUID from a name, so a re-import overwrites the same objects instead of adding copies. */
export function stableId(name: string): string {
  const h = createHash('sha256').update(`oversight-siem/${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const DATA_VIEW_ID = stableId('data-view/logs-oversight.beacon');
export const DASHBOARD_ID = stableId('dashboard/overview');

export type SavedObject = {
  id: string;
  type: string;
  attributes: Record<string, unknown>;
  references: { id: string; name: string; type: string }[];
  managed: boolean;
  coreMigrationVersion: string;
  typeMigrationVersion: string;
};

const CORE = '8.8.0';
/** DNS callbacks come from the reader's resolver: panels about where readers are leave them out. */
const NOT_DNS = 'not oversight.beacon_kind : "dns"';

function object(type: string, id: string, typeMigrationVersion: string, attributes: Record<string, unknown>, references: SavedObject['references']): SavedObject {
  return { id, type, attributes, references, managed: false, coreMigrationVersion: CORE, typeMigrationVersion };
}

const layerRef = (layer: string) => ({ type: 'index-pattern', id: DATA_VIEW_ID, name: `indexpattern-datasource-layer-${layer}` });

function countColumn(label: string): Record<string, unknown> {
  return { label, dataType: 'number', operationType: 'count', isBucketed: false, scale: 'ratio', sourceField: '___records___', params: { emptyAsNull: true }, customLabel: true };
}

function termsColumn(field: string, label: string, size: number, orderBy: string): Record<string, unknown> {
  return {
    label, dataType: 'string', operationType: 'terms', scale: 'ordinal', sourceField: field, isBucketed: true, customLabel: true,
    params: {
      size, orderBy: { type: 'column', columnId: orderBy }, orderDirection: 'desc', otherBucket: true, missingBucket: false,
      parentFormat: { id: 'terms' }, include: [], exclude: [], includeIsRegex: false, excludeIsRegex: false,
    },
  };
}

function lens(name: string, title: string, description: string, visualizationType: string, visualization: Record<string, unknown>,
  layer: string, columns: Record<string, Record<string, unknown>>, query = ''): SavedObject {
  return object('lens', stableId(`lens/${name}`), '8.9.0', {
    title, description, visualizationType,
    state: {
      visualization,
      query: { query, language: 'kuery' },
      filters: [],
      datasourceStates: {
        formBased: { layers: { [layer]: { columns, columnOrder: Object.keys(columns), sampling: 1, ignoreGlobalFilters: false, incompleteColumns: {} } } },
        indexpattern: { layers: {} },
        textBased: { layers: {} },
      },
      internalReferences: [],
      adHocDataViews: {},
    },
  }, [layerRef(layer)]);
}

function topTable(name: string, field: string, title: string, description: string, query = ''): SavedObject {
  const layer = stableId(`layer/${name}`);
  const [terms, count] = [stableId(`column/${name}/terms`), stableId(`column/${name}/count`)];
  return lens(name, title, description, 'lnsDatatable',
    { layerId: layer, layerType: 'data', columns: [{ columnId: terms, isTransposed: false }, { columnId: count, isTransposed: false }] },
    layer, { [terms]: termsColumn(field, title.replace(/^Top /, ''), 10, count), [count]: countColumn('Callbacks') }, query);
}

function overTime(): SavedObject {
  const name = 'callbacks-over-time';
  const layer = stableId(`layer/${name}`);
  const [date, kind, count] = ['date', 'kind', 'count'].map((c) => stableId(`column/${name}/${c}`)) as [string, string, string];
  return lens(name, 'Callbacks over time by beacon kind', 'Every beacon callback, stacked by kind (dns, http_img, ocsp, license).', 'lnsXY', {
    legend: { isVisible: true, position: 'right' },
    valueLabels: 'hide',
    preferredSeriesType: 'bar_stacked',
    layers: [{ layerId: layer, accessors: [count], position: 'top', seriesType: 'bar_stacked', showGridlines: false, layerType: 'data', xAccessor: date, splitAccessor: kind }],
  }, layer, {
    [date]: { label: '@timestamp', dataType: 'date', operationType: 'date_histogram', sourceField: '@timestamp', isBucketed: true, scale: 'interval', params: { interval: 'auto', includeEmptyRows: true, dropPartials: false } },
    [kind]: termsColumn('oversight.beacon_kind', 'Beacon kind', 5, count),
    [count]: countColumn('Callbacks'),
  });
}

function latestCallbacks(): SavedObject {
  return object('search', stableId('search/latest-callbacks'), '8.0.0', {
    title: 'Oversight - latest callbacks',
    description: 'The newest beacon callbacks with file, recipient, kind, source and user agent.',
    columns: ['oversight.beacon_kind', 'oversight.file_id', 'oversight.recipient_id', 'source.address', 'source.geo.country_name', 'user_agent.original', 'oversight.token_id', 'tags'],
    sort: [['@timestamp', 'desc']],
    grid: {},
    hideChart: true,
    isTextBasedQuery: false,
    kibanaSavedObjectMeta: {
      searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, highlightAll: true, filter: [], indexRefName: 'kibanaSavedObjectMeta.searchSourceJSON.index' }),
    },
  }, [{ name: 'kibanaSavedObjectMeta.searchSourceJSON.index', type: 'index-pattern', id: DATA_VIEW_ID }]);
}

function sourceMap(): SavedObject {
  const layers = [
    {
      sourceDescriptor: { type: 'EMS_TMS', isAutoSelect: true, lightModeDefault: 'road_map_desaturated' },
      id: stableId('map-layer/basemap'), label: null, minZoom: 0, maxZoom: 24, alpha: 1, visible: true,
      style: { type: 'EMS_VECTOR_TILE', color: '' }, includeInFitToBounds: true, type: 'EMS_VECTOR_TILE',
    },
    {
      sourceDescriptor: {
        type: 'ES_SEARCH', id: stableId('map-source/callbacks'), geoField: 'source.geo.location', scalingType: 'MVT',
        applyGlobalQuery: true, applyGlobalTime: true, applyForceRefresh: true, filterByMapBounds: true,
        tooltipProperties: ['oversight.file_id', 'oversight.recipient_id', 'oversight.beacon_kind', 'source.address', 'source.geo.city_name', 'source.as.organization.name'],
        sortField: '', sortOrder: 'desc', topHitsGroupByTimeseries: false, topHitsSplitField: '', topHitsSize: 1,
        indexPatternRefName: 'layer_1_source_index_pattern',
      },
      id: stableId('map-layer/callbacks'), label: 'Callbacks (DNS resolvers left out)', minZoom: 0, maxZoom: 24, alpha: 0.75, visible: true,
      query: { query: NOT_DNS, language: 'kuery' },
      style: {
        type: 'VECTOR', isTimeAware: true,
        properties: {
          icon: { type: 'STATIC', options: { value: 'marker' } },
          fillColor: { type: 'DYNAMIC', options: { field: { name: 'oversight.beacon_kind', origin: 'source' }, type: 'CATEGORICAL', colorCategory: 'palette_0' } },
          lineColor: { type: 'STATIC', options: { color: '#FFFFFF' } },
          lineWidth: { type: 'STATIC', options: { size: 1 } },
          iconSize: { type: 'STATIC', options: { size: 6 } },
        },
      },
      includeInFitToBounds: true, type: 'MVT_VECTOR', joins: [],
    },
  ];
  return object('map', stableId('map/source-locations'), '8.4.0', {
    title: 'Oversight - where leaked copies were opened',
    description: 'Source locations of HTTP, OCSP and license callbacks (GeoIP of source.ip); DNS callbacks locate resolvers and are left out.',
    mapStateJSON: JSON.stringify({ zoom: 1.5, center: { lon: 0, lat: 20 }, timeFilters: { from: 'now-30d', to: 'now' }, refreshConfig: { isPaused: true, interval: 0 }, query: { query: '', language: 'kuery' }, filters: [], settings: { autoFitToDataBounds: false } }),
    layerListJSON: JSON.stringify(layers),
    uiStateJSON: JSON.stringify({ isLayerTOCOpen: true, openTOCDetails: [] }),
  }, [{ name: 'layer_1_source_index_pattern', type: 'index-pattern', id: DATA_VIEW_ID }]);
}

function dataView(): SavedObject {
  return object('index-pattern', DATA_VIEW_ID, '8.0.0', {
    title: DATA_STREAM_PATTERN,
    name: 'Oversight beacon callbacks',
    timeFieldName: '@timestamp',
    fieldAttrs: '{}',
    fieldFormatMap: '{}',
    fields: '[]',
    runtimeFieldMap: '{}',
    sourceFilters: '[]',
    allowNoIndex: true,
  }, []);
}

export function dashboardObjects(): SavedObject[] {
  const panels: { obj: SavedObject; x: number; y: number; w: number; h: number }[] = [
    { obj: overTime(), x: 0, y: 0, w: 48, h: 12 },
    { obj: topTable('top-files', 'oversight.file_id', 'Top leaked files', 'Files with the most callbacks.'), x: 0, y: 12, w: 16, h: 14 },
    { obj: topTable('top-recipients', 'oversight.recipient_id', 'Top recipients', 'Recipients whose copies called back the most (the person a copy was issued to, not necessarily who opened it).'), x: 16, y: 12, w: 16, h: 14 },
    { obj: topTable('top-countries', 'source.geo.country_name', 'Top source countries', 'Countries of the callback source addresses (GeoIP), without DNS callbacks, whose source is a resolver.', NOT_DNS), x: 32, y: 12, w: 16, h: 14 },
    { obj: sourceMap(), x: 0, y: 26, w: 24, h: 18 },
    { obj: latestCallbacks(), x: 24, y: 26, w: 24, h: 18 },
  ];
  const panelsJSON = panels.map(({ obj, x, y, w, h }) => {
    const i = stableId(`panel/${obj.id}`);
    return { type: obj.type, gridData: { x, y, w, h, i }, panelIndex: i, embeddableConfig: { enhancements: {} }, panelRefName: `panel_${i}` };
  });
  const dashboard = object('dashboard', DASHBOARD_ID, '10.2.0', {
    title: 'Oversight - leaked document callbacks',
    description: 'Beacon callbacks of sealed documents exported from an Oversight registry: when, which files, whose copies, from where.',
    version: 2,
    timeRestore: true,
    timeFrom: 'now-30d',
    timeTo: 'now',
    refreshInterval: { pause: true, value: 60000 },
    optionsJSON: JSON.stringify({ useMargins: true, syncColors: false, syncCursor: true, syncTooltips: false, hidePanelTitles: false }),
    panelsJSON: JSON.stringify(panelsJSON),
    kibanaSavedObjectMeta: { searchSourceJSON: JSON.stringify({ query: { query: '', language: 'kuery' }, filter: [] }) },
  }, panelsJSON.map((p, n) => ({ name: `${p.panelIndex}:${p.panelRefName}`, type: panels[n]!.obj.type, id: panels[n]!.obj.id })));
  return [dataView(), ...panels.map((p) => p.obj), dashboard];
}

export function dashboardNdjson(): string {
  return dashboardObjects().map((o) => JSON.stringify(o) + '\n').join('');
}
