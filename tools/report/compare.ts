// Runs side by side (`--compare`): the first run is the baseline; each other run's speed-up is
// its throughput (units at the target per minute until the last got there) over the baseline's,
// which is the time ratio for runs of as many units and stays fair when the sizes differ; the
// speed-up per added conductor divides the gain by the conductors it has over the baseline.
import type { TopLevelSpec } from "vega-lite/build/index";
import type { UnitKind } from "../record/events";
import { PERCENTILES } from "../stats/percentile";
import type { RunAnalysis } from "./analyze";
import type { Chart } from "./charts";
import { chartSection, duration, esc, num, page, RenderedChart, spreadText, table } from "./html";

export interface CompareRow {
    readonly label: string;
    readonly stack?: string;
    readonly runId: string;
    readonly conductors?: number;
    readonly unit: UnitKind;
    readonly units?: number;
    readonly reached: number;
    readonly failed: number;
    readonly timeToAllMs?: number;
    readonly perMinute?: number;
    readonly p50?: number;
    readonly p90?: number;
    readonly p99?: number;
    /** This run's units per minute / the baseline's (1 for the baseline): time ratio when both enroll as many units. */
    readonly speedup?: number;
    /** (speedup - 1) / conductors added over the baseline; undefined when it has as many. */
    readonly speedupPerAddedConductor?: number;
    readonly interrupted: boolean;
}

export interface Comparison {
    readonly unit: UnitKind;
    readonly rows: readonly CompareRow[];
}

/** Hosts when any run has them, else clusters. */
function unitOf(runs: readonly RunAnalysis[]): UnitKind {
    return runs.some((r) => r.summary.units.hosts) ? "hosts" : "clusters";
}

export function compareRuns(runs: readonly RunAnalysis[]): Comparison {
    const unit = unitOf(runs);
    const base = runs[0]?.summary;
    const baseRate = base?.units[unit]?.perMinute;
    const baseConductors = base?.conductorsConfigured ?? base?.conductorsSeen.length;
    const rows = runs.map((r): CompareRow => {
        const s = r.summary;
        const u = s.units[unit];
        const conductors = s.conductorsConfigured ?? (s.conductorsSeen.length || undefined);
        const speedup = baseRate && u?.perMinute ? u.perMinute / baseRate : undefined;
        const added = conductors !== undefined && baseConductors !== undefined ? conductors - baseConductors : 0;
        return {
            label: `${s.stack ?? "?"}/${s.runId} (${conductors ?? "?"} conductor${conductors === 1 ? "" : "s"})`,
            stack: s.stack,
            runId: s.runId,
            conductors,
            unit,
            units: u?.expected,
            reached: u?.reached ?? 0,
            failed: u?.failed ?? 0,
            timeToAllMs: u?.timeToAllMs,
            perMinute: u?.perMinute,
            p50: u?.timeToTarget.p50,
            p90: u?.timeToTarget.p90,
            p99: u?.timeToTarget.p99,
            speedup,
            speedupPerAddedConductor: speedup !== undefined && added !== 0 ? (speedup - 1) / added : undefined,
            interrupted: s.interrupted,
        };
    });
    return { unit, rows };
}

const CONFIG = { font: "sans-serif", background: "white", view: { stroke: "#ddd" }, axis: { grid: true, gridColor: "#eee" } };
// One chart per row (class "wide"): run labels are long.
const cspec = (body: Record<string, unknown>): TopLevelSpec => ({ width: 640, height: 220, config: CONFIG, ...body }) as TopLevelSpec;

export function compareCharts(runs: readonly RunAnalysis[], c: Comparison): Chart[] {
    const labels = c.rows.map((r) => r.label);
    const Units = c.unit === "hosts" ? "Hosts" : "Clusters";
    const cumulative = runs.flatMap((r, i) => r.series.cumulative.filter((p) => p.unit === c.unit).map((p) => ({ run: labels[i], minute: p.minute, reached: p.reached })));
    const timed = c.rows.filter((r) => r.timeToAllMs !== undefined);
    const charts: Chart[] = [];
    if (cumulative.length > 0) {
        charts.push({
            id: "compare-cumulative",
            title: `${Units} at the target over time, per run`,
            caption: `Cumulative ${c.unit} reaching the target since each run's first event: a steeper line is a faster lab.`,
            spec: cspec({
                data: { values: cumulative },
                mark: { type: "line", interpolate: "step-after" },
                encoding: {
                    x: { field: "minute", type: "quantitative", title: "minutes since the run's first event" },
                    y: { field: "reached", type: "quantitative", title: `${c.unit} at the target` },
                    color: { field: "run", type: "nominal", sort: labels, title: "run", legend: { orient: "bottom", direction: "vertical", labelLimit: 600 } },
                },
            }),
        });
    }
    if (timed.length > 0) {
        charts.push({
            id: "compare-time",
            title: `Time until every ${c.unit === "hosts" ? "host" : "cluster"} reached the target, and speed-up`,
            caption: "Minutes from the first batch's start to the last unit at the target; the label is the speed-up (throughput ratio) over the first run.",
            spec: cspec({
                data: { values: timed.map((r) => ({ run: r.label, minutes: r.timeToAllMs! / 60_000, speedup: `×${num(r.speedup, 2)}` })) },
                encoding: {
                    y: { field: "run", type: "nominal", sort: labels, title: null, axis: { labelLimit: 360 } },
                    x: { field: "minutes", type: "quantitative", title: "minutes" },
                },
                layer: [
                    { mark: { type: "bar", color: "#4c78a8" } },
                    { mark: { type: "text", align: "left", dx: 4 }, encoding: { text: { field: "speedup" } } },
                ],
            }),
        });
        const pct = timed.flatMap((r) => PERCENTILES.flatMap((p) => (r[p] === undefined ? [] : [{ run: r.label, percentile: p, seconds: r[p] }])));
        charts.push({
            id: "compare-percentiles",
            title: "Time to the target per run (p50 / p90 / p99)",
            caption: "Seconds from a batch's start to a unit at the target, over all batches of each run.",
            spec: cspec({
                data: { values: pct },
                mark: { type: "bar" },
                encoding: {
                    y: { field: "run", type: "nominal", sort: labels, title: null, axis: { labelLimit: 360 } },
                    yOffset: { field: "percentile", type: "nominal", sort: [...PERCENTILES] },
                    x: { field: "seconds", type: "quantitative", title: "seconds" },
                    color: { field: "percentile", type: "nominal", scale: { domain: [...PERCENTILES], range: ["#4c78a8", "#f58518", "#e45756"] } },
                },
            }),
        });
        charts.push({
            id: "compare-rate",
            title: `${Units} per minute by conductors`,
            caption: `Throughput (${c.unit} reaching the target per minute) against the number of conductors: flat means conductors are not the bottleneck.`,
            spec: cspec({
                data: { values: timed.filter((r) => r.conductors !== undefined && r.perMinute !== undefined).map((r) => ({ run: r.label, conductors: r.conductors, perMinute: r.perMinute })) },
                mark: { type: "line", point: { size: 80 } },
                encoding: {
                    x: { field: "conductors", type: "quantitative", title: "conductors", axis: { tickMinStep: 1 } },
                    y: { field: "perMinute", type: "quantitative", title: `${c.unit} per minute` },
                    tooltip: [{ field: "run" }, { field: "perMinute", format: ".1f" }],
                },
            }),
        });
    }
    return charts;
}

export function comparePage(runs: readonly RunAnalysis[], c: Comparison, charts: readonly RenderedChart[]): string {
    const rows = table(
        ["run", "conductors", c.unit, "reached", "failed", "time to all", "per minute", "time to target p50 / p90 / p99", "speed-up", "speed-up per added conductor", "complete"],
        c.rows.map((r, i) => [
            r.label,
            r.conductors ?? "—",
            r.units ?? "—",
            r.reached,
            r.failed,
            duration(r.timeToAllMs),
            num(r.perMinute),
            spreadText(runs[i].summary.units[c.unit]?.timeToTarget ?? { count: 0 }, "s"),
            r.speedup === undefined ? "—" : `×${num(r.speedup, 2)}`,
            i === 0 ? "baseline" : r.speedupPerAddedConductor === undefined ? "—" : `${r.speedupPerAddedConductor >= 0 ? "+" : ""}${num(r.speedupPerAddedConductor, 2)}`,
            r.interrupted ? "interrupted" : "yes",
        ]),
    );
    const body = `
<h1>Metal3 scale lab: ${runs.length} runs compared</h1>
<p class="sub">Baseline: ${esc(c.rows[0]?.label ?? "")}. Speed-up = the run's ${esc(c.unit)} at the target per minute / the baseline's; per added conductor = (speed-up − 1) / conductors added.</p>
<h2>Side by side</h2>
${rows}
<h2>Charts</h2>
<div class="charts wide">${charts.map(chartSection).join("\n")}</div>
`;
    return page(`Compare ${runs.length} runs`, body);
}
