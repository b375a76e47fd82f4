// The report's charts as Vega-Lite specs (data inline), one function per chart. Pure: they only
// shape data; tools/report/vega.ts compiles and renders them to SVG.
import type { TopLevelSpec } from "vega-lite/build/index";
import type { UnitKind } from "../record/events";
import { PERCENTILES, Spread } from "../stats/percentile";
import type { RunAnalysis, RunSummary } from "./analyze";

export interface Chart {
    /** Stable id (the page's data-chart attribute; tests look charts up by it). */
    readonly id: string;
    readonly title: string;
    /** One line saying what the chart answers (also README's chart list). */
    readonly caption: string;
    readonly spec: TopLevelSpec;
}

const WIDTH = 500;
const HEIGHT = 220;
const CONFIG = {
    font: "sans-serif",
    background: "white",
    view: { stroke: "#ddd" },
    axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: "#eee" },
    legend: { labelFontSize: 11, titleFontSize: 12 },
};
const PERCENTILE_COLORS = { domain: [...PERCENTILES], range: ["#4c78a8", "#f58518", "#e45756"] };

function spec(body: Record<string, unknown>): TopLevelSpec {
    return { width: WIDTH, height: HEIGHT, config: CONFIG, ...body } as TopLevelSpec;
}

const nouns: Record<UnitKind, string> = { hosts: "Hosts", clusters: "Clusters" };

function percentileRows<T extends Record<string, unknown>>(rows: readonly { key: T; spread: Spread }[], scale = 1): (T & { percentile: string; value: number })[] {
    return rows.flatMap(({ key, spread }) =>
        PERCENTILES.flatMap((p) => (spread[p] === undefined ? [] : [{ ...key, percentile: p, value: Math.round((spread[p]! / scale) * 1000) / 1000 }])),
    );
}

/** Stacked area of units per state, states stacked in the order units pass through them. */
export function statesOverTime(a: RunAnalysis, unit: UnitKind): Chart | undefined {
    const rows = a.series.states.filter((s) => s.unit === unit);
    if (rows.length === 0) return undefined;
    // Order of first appearance along the run = the pipeline's order ("not started" first, the target
    // last-ish); stacked the other way round, so finished units pile up from the bottom.
    const order: string[] = ["not started"];
    for (const tr of a.timeline.transitions) {
        if (tr.unit !== unit) continue;
        const s = tr.error ? `${tr.to} (error)` : tr.to;
        if (!order.includes(s)) order.push(s);
    }
    const values = rows.map((r) => ({ ...r, rank: -order.indexOf(r.state) }));
    return {
        id: `states-${unit}`,
        title: `${nouns[unit]} per state over time`,
        caption: `How many ${unit} are in each state at each moment of the run (stacked): where they queue and for how long.`,
        spec: spec({
            data: { values },
            mark: { type: "area", interpolate: "step-after" },
            encoding: {
                x: { field: "minute", type: "quantitative", title: "minutes since the run's first event" },
                y: { field: "count", type: "quantitative", stack: "zero", title: unit, impute: { key: "minute", value: 0 } },
                color: {
                    field: "state",
                    type: "nominal",
                    scale: { domain: order.filter((s) => rows.some((r) => r.state === s)), scheme: "tableau20" },
                    title: "state",
                    legend: { labelLimit: 220 },
                },
                order: { field: "rank", type: "quantitative" },
            },
        }),
    };
}

/** Up to this many batches get grouped bars; more get one line per percentile along the batch order. */
export const BAR_BATCHES = 12;

export function timeToTargetPerBatch(s: RunSummary): Chart | undefined {
    const timed = s.batches.filter((b) => b.timeToTarget.count > 0);
    // Labels are "<stack>/<kind>-batch-NNN": the stack is in the page's title already.
    const short = (batch: string) => (s.stack && batch.startsWith(`${s.stack}/`) ? batch.slice(s.stack.length + 1) : batch);
    const rows = percentileRows(
        timed.map((b, i) => ({ key: { batch: b.op === "create" ? short(b.batch) : `${short(b.batch)} (${b.op})`, order: i + 1 }, spread: b.timeToTarget })),
    );
    if (rows.length === 0) return undefined;
    const color = { field: "percentile", type: "nominal", scale: PERCENTILE_COLORS, title: "percentile" };
    const tooltip = [{ field: "batch" }, { field: "percentile" }, { field: "value", title: "seconds" }];
    const y = { field: "value", type: "quantitative", title: "seconds" };
    return {
        id: "time-to-target",
        title: "Time to the target state per batch (p50 / p90 / p99)",
        caption: "Seconds from a batch operation's start until its units reach the target state: the typical unit, the slow tail and the worst.",
        spec: spec({
            data: { values: rows },
            ...(timed.length <= BAR_BATCHES
                ? {
                      mark: { type: "bar" },
                      encoding: {
                          x: { field: "batch", type: "nominal", sort: null, title: "batch", axis: { labelAngle: -30, labelLimit: 200 } },
                          xOffset: { field: "percentile", type: "nominal", sort: [...PERCENTILES] },
                          y,
                          color,
                          tooltip,
                      },
                  }
                : {
                      mark: { type: "line", point: { size: 12 } },
                      encoding: { x: { field: "order", type: "quantitative", title: "batch (in start order)", axis: { tickMinStep: 1 } }, y, color, tooltip },
                  }),
        }),
    };
}

export function throughputPerMinute(a: RunAnalysis): Chart | undefined {
    const values = a.series.throughput.map((r) => ({ ...r, minuteEnd: r.minute + 1 }));
    if (!values.some((v) => v.count > 0)) return undefined;
    return {
        id: "throughput",
        title: "Throughput per minute",
        caption: "Units reaching their target state in each minute of the run: the lab's pace, and where it stalls.",
        spec: spec({
            data: { values },
            mark: { type: "bar" },
            encoding: {
                x: { field: "minute", type: "quantitative", bin: { binned: true, step: 1 }, title: "minute of the run", axis: { format: "d" } },
                x2: { field: "minuteEnd" },
                y: { field: "count", type: "quantitative", stack: "zero", title: "units reaching the target" },
                color: { field: "unit", type: "nominal", title: "unit" },
            },
        }),
    };
}

export function conductorSpread(s: RunSummary): Chart | undefined {
    if (s.conductors.length === 0) return undefined;
    const values = s.conductors.flatMap((c) => [
        { conductor: c.conductor, outcome: "reached", hosts: c.reached },
        { conductor: c.conductor, outcome: "failed", hosts: c.failed },
        { conductor: c.conductor, outcome: "not finished", hosts: c.hosts - c.reached - c.failed },
    ]);
    return {
        id: "conductor-spread",
        title: "Hosts per conductor",
        caption: "How Ironic's hash ring spread the hosts over the conductors, and how each conductor's hosts ended.",
        spec: spec({
            data: { values },
            mark: { type: "bar" },
            encoding: {
                x: { field: "conductor", type: "nominal", title: "conductor", axis: { labelAngle: 0 } },
                y: { field: "hosts", type: "quantitative", stack: "zero", title: "hosts" },
                color: { field: "outcome", type: "nominal", scale: { domain: ["reached", "failed", "not finished"], range: ["#54a24b", "#e45756", "#bab0ac"] }, title: "outcome" },
            },
        }),
    };
}

export function conductorTime(s: RunSummary): Chart | undefined {
    const rows = percentileRows(s.conductors.filter((c) => c.timeToTarget.count > 0).map((c) => ({ key: { conductor: c.conductor }, spread: c.timeToTarget })));
    if (rows.length === 0) return undefined;
    return {
        id: "conductor-time",
        title: "Time to the target state per conductor (p50 / p90 / p99)",
        caption: "Seconds each conductor's hosts took to reach the target: a slow or overloaded conductor stands out.",
        spec: spec({
            data: { values: rows },
            mark: { type: "bar" },
            encoding: {
                x: { field: "conductor", type: "nominal", title: "conductor", axis: { labelAngle: 0 } },
                xOffset: { field: "percentile", type: "nominal", sort: [...PERCENTILES] },
                y: { field: "value", type: "quantitative", title: "seconds" },
                color: { field: "percentile", type: "nominal", scale: PERCENTILE_COLORS, title: "percentile" },
            },
        }),
    };
}

const endpoint = (a: { api: string; method: string; path: string }) => `${a.api} ${a.method} ${a.path}`;
// Path classes are long: narrower plots leave room for their labels in a half-page column.
const API_WIDTH = 340;
const API_LABELS = 300;

export function apiRequestCounts(s: RunSummary): Chart | undefined {
    const values = s.api.flatMap((a) => Object.entries(a.byStatus).map(([status, count]) => ({ endpoint: endpoint(a), status, count })));
    if (values.length === 0) return undefined;
    return {
        id: "api-requests",
        title: "API requests",
        caption: "Requests the providers sent to each API (Ironic, Kubernetes, FKAS) by path, split by answer: 2xx, 4xx (409 = node locked), 5xx, no answer.",
        spec: spec({
            width: API_WIDTH,
            height: Math.max(60, 22 * s.api.length),
            data: { values },
            mark: { type: "bar" },
            encoding: {
                y: { field: "endpoint", type: "nominal", sort: s.api.map(endpoint), title: null, axis: { labelLimit: API_LABELS } },
                x: { field: "count", type: "quantitative", stack: "zero", title: "requests" },
                color: {
                    field: "status",
                    type: "nominal",
                    scale: { domain: ["2xx", "3xx", "4xx", "5xx", "no answer"], range: ["#54a24b", "#72b7b2", "#f58518", "#e45756", "#79706e"] },
                    title: "answer",
                },
            },
        }),
    };
}

export function apiLatency(s: RunSummary): Chart | undefined {
    // A log scale cannot start at 0: answers under 1 ms are drawn at 1 ms (the table has the exact values).
    const rows = percentileRows(s.api.map((a) => ({ key: { endpoint: endpoint(a) }, spread: a.latencyMs }))).map((r) => ({ ...r, drawn: Math.max(1, r.value) }));
    if (rows.length === 0) return undefined;
    return {
        id: "api-latency",
        title: "API latency (p50 / p90 / p99)",
        caption: "Milliseconds per request and path (log scale): a slow API shows here before it shows in the batch times.",
        spec: spec({
            width: API_WIDTH,
            height: Math.max(60, 24 * s.api.length),
            data: { values: rows },
            encoding: { y: { field: "endpoint", type: "nominal", sort: s.api.map(endpoint), title: null, axis: { labelLimit: API_LABELS } } },
            // A dot per percentile on a line from p50 to p99 (bars have no base on a log scale).
            layer: [
                {
                    mark: { type: "rule", color: "#999" },
                    encoding: {
                        x: { aggregate: "min", field: "drawn", type: "quantitative", scale: { type: "log", domainMin: 1 }, title: "milliseconds" },
                        x2: { aggregate: "max", field: "drawn" },
                    },
                },
                {
                    mark: { type: "point", filled: true, size: 70, opacity: 1 },
                    encoding: {
                        x: { field: "drawn", type: "quantitative", scale: { type: "log", domainMin: 1 }, title: "milliseconds" },
                        color: { field: "percentile", type: "nominal", scale: PERCENTILE_COLORS, title: "percentile" },
                        tooltip: [{ field: "endpoint" }, { field: "percentile" }, { field: "value", title: "ms" }],
                    },
                },
            ],
        }),
    };
}

/** Every chart of one run's report, in page order (charts without data are left out). */
export function runCharts(a: RunAnalysis): Chart[] {
    const s = a.summary;
    return [
        statesOverTime(a, "hosts"),
        statesOverTime(a, "clusters"),
        timeToTargetPerBatch(s),
        throughputPerMinute(a),
        conductorSpread(s),
        conductorTime(s),
        apiRequestCounts(s),
        apiLatency(s),
    ].filter((c): c is Chart => c !== undefined);
}
