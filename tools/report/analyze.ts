// A run record's figures: what summary.json holds and the report's charts and table draw.
// Pure: a RunRecord in, plain data out.
import type { UnitKind } from "../record/events";
import type { RunMeta, RunRecord } from "../record/read";
import { buildTimeline, CONVERGING, finalRuns, firstReaches, Operation, Timeline, UnitRun, WAITING_OPS } from "../record/timeline";
import { Spread, spread } from "../stats/percentile";

export interface UnitCounts {
    /** From the config (nodes / clusters); undefined when run.json is missing. */
    readonly expected?: number;
    /** Distinct units seen in any transition. */
    readonly seen: number;
    readonly reached: number;
    readonly failed: number;
    /** Neither reached nor failed when their operation ended or the record stops. */
    readonly unfinished: number;
    /** Seconds from their operation's start to reaching the target (create/update operations). */
    readonly timeToTarget: Spread;
    /** From the first converging operation's start to the last unit reaching its target. */
    readonly timeToAllMs?: number;
    /** Units reached per minute over timeToAllMs. */
    readonly perMinute?: number;
}

export interface BatchFigures {
    readonly batch: string;
    readonly op: string;
    readonly unit: UnitKind;
    readonly units: number;
    readonly start: string;
    readonly durationMs?: number;
    /** True when the record has no end for it (a killed run). */
    readonly interrupted: boolean;
    readonly ready?: boolean;
    readonly reason?: string;
    readonly targets: readonly string[];
    readonly reached: number;
    readonly failed: number;
    readonly timeToTarget: Spread;
}

export interface ConductorFigures {
    readonly conductor: string;
    readonly hosts: number;
    readonly reached: number;
    readonly failed: number;
    readonly timeToTarget: Spread;
}

export interface ApiFigures {
    readonly api: string;
    readonly method: string;
    readonly path: string;
    readonly count: number;
    /** Counts by "2xx" .. "5xx" and "no answer". */
    readonly byStatus: Readonly<Record<string, number>>;
    readonly latencyMs: Spread;
}

export interface FailureRow {
    readonly batch: string;
    readonly name: string;
    readonly state: string;
    readonly error: string;
    readonly at: string;
}

export interface RunSummary {
    readonly runId: string;
    readonly stack?: string;
    readonly startedAt?: string;
    readonly config: NonNullable<RunMeta["config"]>;
    readonly machine: NonNullable<RunMeta["machine"]>;
    readonly start?: string;
    readonly end?: string;
    readonly totalMs: number;
    /** An operation has no end: the run was killed (or is still going). */
    readonly interrupted: boolean;
    readonly conductorsConfigured?: number;
    readonly conductorsSeen: readonly string[];
    readonly units: Readonly<Partial<Record<UnitKind, UnitCounts>>>;
    readonly batches: readonly BatchFigures[];
    readonly conductors: readonly ConductorFigures[];
    readonly api: readonly ApiFigures[];
    readonly requests: number;
    readonly failures: readonly FailureRow[];
    readonly skippedLines: number;
}

/** Series the charts draw (kept out of summary.json: sized by the run, not by the question). */
export interface RunSeries {
    /** Units per state at sample times (stacked area). */
    readonly states: readonly { readonly minute: number; readonly unit: UnitKind; readonly state: string; readonly count: number }[];
    /** Units reaching their target per minute since the run's start. */
    readonly throughput: readonly { readonly minute: number; readonly unit: UnitKind; readonly count: number }[];
    /** Cumulative units reached (compare overlay). */
    readonly cumulative: readonly { readonly minute: number; readonly unit: UnitKind; readonly reached: number }[];
}

export interface RunAnalysis {
    readonly summary: RunSummary;
    readonly series: RunSeries;
    readonly timeline: Timeline;
    /** Per-unit durations (durations.csv). */
    readonly unitRuns: readonly UnitRun[];
}

const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
const seconds = (ms: number) => Math.round(ms) / 1000;

export function statusClass(status: number): string {
    return status === 0 ? "no answer" : `${Math.floor(status / 100)}xx`;
}

function durationOf(u: UnitRun): number | undefined {
    return u.outcome === "reached" && u.reachedAt !== undefined ? seconds(u.reachedAt - u.op.start) : undefined;
}

function unitCounts(kind: UnitKind, tl: Timeline, expected: number | undefined): UnitCounts {
    const seen = new Set(tl.transitions.filter((t) => t.unit === kind).map((t) => t.name));
    // A unit's outcome is that of its last converging operation (a re-run `up` may finish what a failed one left).
    const finals = finalRuns(tl).filter((u) => u.unit === kind);
    const firsts = firstReaches(tl, kind);
    const firstStart = tl.ops.find((o) => o.unit === kind && CONVERGING.includes(o.op))?.start;
    const lastReach = firsts.at(-1)?.reachedAt;
    const timeToAllMs = firstStart !== undefined && lastReach !== undefined ? lastReach - firstStart : undefined;
    return {
        expected,
        seen: seen.size,
        reached: finals.filter((u) => u.outcome === "reached").length,
        failed: finals.filter((u) => u.outcome === "failed").length,
        unfinished: finals.filter((u) => u.outcome === "waiting").length,
        timeToTarget: spread(firsts.map((u) => durationOf(u)!)),
        timeToAllMs,
        perMinute: timeToAllMs ? (firsts.length / timeToAllMs) * 60_000 : undefined,
    };
}

function batchFigures(o: Operation, tl: Timeline): BatchFigures {
    const runs = tl.units.filter((u) => u.op === o);
    return {
        batch: o.batch,
        op: o.op,
        unit: o.unit,
        units: o.units,
        start: iso(o.start)!,
        durationMs: o.end === undefined ? undefined : o.end - o.start,
        interrupted: o.end === undefined,
        ready: o.ready,
        reason: o.reason,
        targets: o.targets,
        reached: runs.filter((u) => u.outcome === "reached").length,
        failed: runs.filter((u) => u.outcome === "failed").length,
        timeToTarget: spread(runs.map(durationOf).filter((d): d is number => d !== undefined)),
    };
}

function conductorFigures(tl: Timeline): ConductorFigures[] {
    const finals = finalRuns(tl).filter((u) => u.conductor !== undefined);
    const firsts = firstReaches(tl).filter((u) => u.conductor !== undefined);
    const names = [...new Set(finals.map((u) => u.conductor!))].sort();
    return names.map((conductor) => {
        const mine = finals.filter((u) => u.conductor === conductor);
        return {
            conductor,
            hosts: mine.length,
            reached: mine.filter((u) => u.outcome === "reached").length,
            failed: mine.filter((u) => u.outcome === "failed").length,
            timeToTarget: spread(firsts.filter((u) => u.conductor === conductor).map((u) => durationOf(u)!)),
        };
    });
}

function apiFigures(tl: Timeline): ApiFigures[] {
    const groups = new Map<string, { api: string; method: string; path: string; ms: number[]; byStatus: Record<string, number> }>();
    for (const r of tl.requests) {
        const key = `${r.api} ${r.method} ${r.path}`;
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { api: r.api, method: r.method, path: r.path, ms: [], byStatus: {} }));
        g.ms.push(r.ms);
        const c = statusClass(r.status);
        g.byStatus[c] = (g.byStatus[c] ?? 0) + 1;
    }
    return [...groups.values()]
        .map((g) => ({ api: g.api, method: g.method, path: g.path, count: g.ms.length, byStatus: g.byStatus, latencyMs: spread(g.ms) }))
        .sort((a, b) => b.count - a.count || (a.api + a.path + a.method < b.api + b.path + b.method ? -1 : 1));
}

function failureRows(tl: Timeline): FailureRow[] {
    const rows: FailureRow[] = tl.failures.map((f) => ({ batch: f.batch, name: f.name, state: f.state, error: f.error, at: iso(f.t)! }));
    // A unit left in error without a failure line (a run killed before its batch wrote them) still shows.
    const listed = new Set(rows.map((r) => `${r.batch}\u0000${r.name}`));
    for (const u of tl.units) {
        if (u.outcome !== "failed" || u.failure || listed.has(`${u.op.batch}\u0000${u.name}`)) continue;
        rows.push({ batch: u.op.batch, name: u.name, state: u.state, error: u.error ?? "(no message)", at: iso(u.op.start)! });
    }
    return rows;
}

const SAMPLES = 240;

function series(tl: Timeline, start: number, end: number, expected: Partial<Record<UnitKind, number>>): RunSeries {
    const minute = (t: number) => (t - start) / 60_000;
    const states: RunSeries["states"][number][] = [];
    const kinds = [...new Set(tl.transitions.map((t) => t.unit))];
    const step = Math.max(1000, Math.ceil((end - start) / SAMPLES));
    const current = new Map<string, { unit: UnitKind; state: string }>();
    let i = 0;
    for (let t = start; ; t = Math.min(t + step, end)) {
        while (i < tl.transitions.length && tl.transitions[i].t <= t) {
            const tr = tl.transitions[i++];
            current.set(`${tr.unit}\u0000${tr.name}`, { unit: tr.unit, state: tr.error ? `${tr.to} (error)` : tr.to });
        }
        for (const unit of kinds) {
            const counts = new Map<string, number>();
            let seen = 0;
            for (const s of current.values()) {
                if (s.unit !== unit) continue;
                seen++;
                counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
            }
            const notStarted = (expected[unit] ?? 0) - seen;
            if (notStarted > 0) counts.set("not started", notStarted);
            for (const [state, count] of counts) states.push({ minute: minute(t), unit, state, count });
        }
        if (t >= end) break;
    }

    const reached = firstReaches(tl);
    const throughput: RunSeries["throughput"][number][] = [];
    const cumulative: RunSeries["cumulative"][number][] = [];
    const lastMinute = Math.floor(minute(end));
    for (const unit of [...new Set(reached.map((u) => u.unit))]) {
        const perMinute = new Array<number>(lastMinute + 1).fill(0);
        let n = 0;
        cumulative.push({ minute: 0, unit, reached: 0 });
        for (const u of reached.filter((r) => r.unit === unit)) {
            perMinute[Math.floor(minute(u.reachedAt!))]++;
            cumulative.push({ minute: minute(u.reachedAt!), unit, reached: ++n });
        }
        perMinute.forEach((count, m) => throughput.push({ minute: m, unit, count }));
    }
    return { states, throughput, cumulative };
}

export function analyzeRun(record: RunRecord): RunAnalysis {
    const meta = record.meta;
    const tl = buildTimeline(record.events, meta);
    const start = tl.start ?? 0;
    const end = tl.end ?? start;
    const expected: Partial<Record<UnitKind, number>> = { hosts: meta.config?.nodes, clusters: meta.config?.clusters };
    const kinds = new Set<UnitKind>([...tl.ops.map((o) => o.unit), ...tl.transitions.map((t) => t.unit)]);
    const units: Partial<Record<UnitKind, UnitCounts>> = {};
    for (const kind of ["hosts", "clusters"] as const) if (kinds.has(kind)) units[kind] = unitCounts(kind, tl, expected[kind]);
    const conductors = conductorFigures(tl);
    const summary: RunSummary = {
        runId: record.runId,
        stack: meta.stack,
        startedAt: meta.startedAt,
        config: meta.config ?? {},
        machine: meta.machine ?? {},
        start: iso(tl.start),
        end: iso(tl.end),
        totalMs: end - start,
        interrupted: tl.ops.some((o) => o.end === undefined),
        conductorsConfigured: meta.config?.conductors,
        conductorsSeen: conductors.map((c) => c.conductor),
        units,
        batches: tl.ops.filter((o) => WAITING_OPS.includes(o.op)).map((o) => batchFigures(o, tl)),
        conductors,
        api: apiFigures(tl),
        requests: tl.requests.length,
        failures: failureRows(tl),
        skippedLines: record.skipped.length,
    };
    return { summary, series: series(tl, start, end, expected), timeline: tl, unitRuns: tl.units.filter((u) => WAITING_OPS.includes(u.op.op)) };
}
