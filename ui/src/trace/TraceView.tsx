// A loaded trace: header, toolbar (views, search, download), minimap, the waterfall / flame graph
// / JSON, and the selected span's details. Its state is in useTracePage.ts.

import type { OtlpTraceResponse } from '../api/types';
import { FlameGraph } from './FlameGraph';
import { Minimap } from './Minimap';
import type { TraceModel } from './model';
import { ServiceColorContext, useTraceColors } from './ServiceColors';
import { SpanDetails } from './SpanDetails';
import { TraceHeader } from './TraceHeader';
import { downloadTraceJson, TraceJson } from './TraceJson';
import { TraceSearch } from './TraceSearch';
import { TraceToolbar } from './TraceToolbar';
import { useTracePage, type TracePageState } from './useTracePage';
import { Waterfall } from './Waterfall';

interface Props {
  /** The trace ID as the URL spells it. */
  traceId: string;
  params: URLSearchParams;
  model: TraceModel;
  response: OtlpTraceResponse;
}

export function TraceView(props: Props) {
  const { model } = props;
  const page = useTracePage(model, props.traceId, props.params);
  const colorOf = useTraceColors(model);
  const { view, search } = page;
  return (
    <ServiceColorContext.Provider value={colorOf}>
      <div class="trace-page">
        <TraceHeader model={model} path={page.path} />
        <TraceToolbar
          view={view}
          onView={page.switchView}
          onDownload={() => downloadTraceJson(props.response, model.traceId)}
        >
          {view !== 'json' && (
            <TraceSearch
              query={search.query}
              matches={search.matches.length}
              total={model.spans.length}
              current={search.current}
              onQuery={search.setQuery}
              onStep={search.step}
            />
          )}
        </TraceToolbar>
        {view !== 'json' && (
          <Minimap model={model} full={page.full} zoom={page.zoom} onZoom={page.setZoom} />
        )}
        <div class="trace-body">
          <div class="trace-main">
            {view === 'json' ? (
              <TraceJson response={props.response} traceId={model.traceId} />
            ) : (
              <TraceChart model={model} page={page} />
            )}
          </div>
          {page.selected >= 0 && view !== 'json' && (
            <SpanDetails
              model={model}
              span={page.selected}
              path={page.path}
              onSelect={page.show}
              onClose={() => page.select(-1)}
            />
          )}
        </div>
      </div>
    </ServiceColorContext.Provider>
  );
}

/** The waterfall or the flame graph. */
function TraceChart(props: { model: TraceModel; page: TracePageState }) {
  const { model, page } = props;
  if (page.view === 'flame') {
    return (
      <FlameGraph
        model={model}
        full={page.full}
        zoom={page.zoom}
        ticks={page.ticks}
        path={page.path}
        selected={page.selected}
        matches={page.search.matchSet}
        onSelect={page.show}
        onZoom={page.setZoom}
      />
    );
  }
  return (
    <Waterfall
      model={model}
      rows={page.rows}
      zoom={page.zoom}
      ticks={page.ticks}
      path={page.path}
      collapsed={page.collapsed}
      selected={page.selected}
      matches={page.search.matchSet}
      reveal={page.reveal}
      onSelect={page.select}
      onToggle={page.toggle}
      onCollapseAll={page.collapseAll}
      onExpandAll={page.expandAll}
    />
  );
}
