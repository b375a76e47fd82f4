// What `npm run status` shows, from a run record: units per state per batch, the rate over the
// last minute and an ETA. Pure: a record and a clock in, a snapshot and its lines out.
import { formatDuration } from "../../components/enroll/bounded";
import type { UnitKind } from "../record/events";
import type { RunRecord } from "../record/read";
import { buildTimeline, finalRuns, firstReaches, Operation } from "../record/timeline";

/** A run with no open operation, units still to go and no event for this long has ended (stopped between batches). */
export const IDLE_MS = 120_000;
const MINUTE = 60_000;

export interface BatchLine {
    readonly batch: string;
    readonly op: string;
    readonly unit: UnitKind;
    readonly units: number;
    /** Units per state in the batch's latest operation, most first; "(error)" marks a failing state. */
    readonly states: readonly (readonly [string, number])[];
    readonly running: boolean;
    readonly elapsedMs: number;
    readonly ready?: boolean;
    readonly reason?: string;
}

export interface UnitTotals {
    readonly unit: UnitKind;
    readonly expected?: number;
    readonly reached: number;
    readonly failed: number;
    /** First arrivals at the target within the minute before `at`. */
    readonly lastMinute: number;
    /** Milliseconds until the rest get there at the last minute's rate; undefined when nothing moved. */
    readonly etaMs?: number;
}

export type RunState = "running" | "between operations" | "ended" | "interrupted";

export interface StatusSnapshot {
    readonly run: string;
    readonly describe: string;
    readonly state: RunState;
    /** The moment the rate is measured up to: now while the run goes on, its last event after. */
    readonly at: number;
    readonly elapsedMs: number;
    readonly lastEventAgoMs?: number;
    readonly totals: readonly UnitTotals[];
    readonly batches: readonly BatchLine[];
    readonly targets: Readonly<Partial<Record<UnitKind, string>>>;
}

function latestOps(ops: readonly Operation[]): Operation[] {
    const latest = new Map<string, Operation>();
    for (const o of ops) latest.set(o.batch, o);
    return [...latest.values()].sort((a, b) => a.start - b.start);
}

export function statusSnapshot(record: RunRecord, now: number): StatusSnapshot {
    const meta = record.meta;
    const tl = buildTimeline(record.events, meta);
    const end = tl.end ?? now;
    const expected: Partial<Record<UnitKind, number>> = { hosts: meta.config?.nodes, clusters: meta.config?.clusters };
    const kinds = (["hosts", "clusters"] as const).filter((k) => tl.ops.some((o) => o.unit === k) || (expected[k] ?? 0) > 0);
    const finals = finalRuns(tl);
    const settled = kinds.every((k) => finals.filter((u) => u.unit === k && (u.outcome === "reached" || u.outcome === "failed")).length >= (expected[k] ?? Infinity));

    const open = tl.ops.some((o) => o.end === undefined);
    const quiet = now - end;
    const state: RunState = open ? (quiet > 5 * MINUTE ? "interrupted" : "running") : quiet < IDLE_MS && !settled ? "between operations" : "ended";
    const at = state === "running" || state === "between operations" ? now : end;
    const totals = kinds.map((unit): UnitTotals => {
        const mine = finals.filter((u) => u.unit === unit);
        const reached = mine.filter((u) => u.outcome === "reached").length;
        const failed = mine.filter((u) => u.outcome === "failed").length;
        const lastMinute = firstReaches(tl, unit).filter((u) => u.reachedAt! > at - MINUTE && u.reachedAt! <= at).length;
        const rest = (expected[unit] ?? Math.max(...tl.ops.filter((o) => o.unit === unit).map((o) => o.units), mine.length)) - reached - failed;
        const etaMs = rest <= 0 ? 0 : lastMinute > 0 ? (rest / lastMinute) * MINUTE : undefined;
        return { unit, expected: expected[unit], reached, failed, lastMinute, etaMs };
    });

    const batches = latestOps(tl.ops).map((o): BatchLine => {
        const counts = new Map<string, number>();
        let seen = 0;
        for (const u of tl.units) {
            if (u.op !== o) continue;
            seen++;
            const key = u.error || u.failure ? `${u.state} (error)` : u.state;
            counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        if (o.units > seen) counts.set("not seen yet", o.units - seen);
        return {
            batch: o.batch,
            op: o.op,
            unit: o.unit,
            units: o.units,
            states: [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)),
            running: o.end === undefined,
            elapsedMs: (o.end ?? at) - o.start,
            ready: o.ready,
            reason: o.reason,
        };
    });
    const c = meta.config ?? {};
    const targets: Partial<Record<UnitKind, string>> = {};
    for (const unit of kinds) targets[unit] = [...new Set(tl.ops.filter((o) => o.unit === unit && o.op !== "delete").flatMap((o) => o.targets))].join("/") || "target";
    return {
        run: `${meta.stack ?? "?"}/${record.runId}`,
        describe: `${c.mode ?? "?"} mode, ${c.nodes ?? "?"} hosts, ${c.conductors ?? "?"} conductors${c.clusters ? `, ${c.clusters} clusters` : ""}`,
        state,
        at,
        elapsedMs: tl.start === undefined ? 0 : at - tl.start,
        lastEventAgoMs: tl.end === undefined ? undefined : now - tl.end,
        totals,
        batches,
        targets,
    };
}

/** The snapshot as lines; `maxBatches` keeps the running batches and the newest others (a terminal's height). */
export function formatStatus(s: StatusSnapshot, maxBatches = Infinity): string[] {
    const live = s.state === "running" || s.state === "between operations";
    const last = s.lastEventAgoMs === undefined ? "" : live ? `, last event ${formatDuration(s.lastEventAgoMs)} ago` : `, last event at ${new Date(s.at).toISOString()}`;
    const lines = [`run ${s.run} (${s.describe}): ${s.state}, ${formatDuration(s.elapsedMs)} since the first event${last}`];
    for (const t of s.totals) {
        const eta =
            t.etaMs === 0
                ? "all settled"
                : !live
                  ? "the record stops before the rest got there"
                  : t.etaMs === undefined
                    ? "ETA unknown (none reached the target in the last minute)"
                    : `ETA ${formatDuration(t.etaMs)}`;
        const rate = `${t.lastMinute}/min over ${live ? "the last minute" : "the record's last minute"}`;
        lines.push(`${t.unit}: ${t.reached}/${t.expected ?? "?"} ${s.targets[t.unit] ?? "at the target"}, ${t.failed} failed, ${rate}, ${eta}`);
    }
    let shown = s.batches;
    let hidden = 0;
    if (shown.length > maxBatches) {
        const running = shown.filter((b) => b.running);
        const rest = shown.filter((b) => !b.running).slice(-Math.max(0, maxBatches - running.length));
        shown = s.batches.filter((b) => running.includes(b) || rest.includes(b));
        hidden = s.batches.length - shown.length;
    }
    if (hidden > 0) lines.push(`(${hidden} earlier batches not shown)`);
    const width = Math.max(5, ...shown.map((b) => b.batch.length));
    for (const b of shown) {
        const result = b.running
            ? live
                ? `running ${formatDuration(b.elapsedMs)}`
                : `no end after ${formatDuration(b.elapsedMs)}`
            : `${b.ready === false ? `not ready (${b.reason ?? "failed"})` : "done"} in ${formatDuration(b.elapsedMs)}`;
        const states = b.states.map(([st, n]) => `${st} ${n}`).join(", ");
        lines.push(`${b.batch.padEnd(width)}  ${b.op.padEnd(6)} ${String(b.units).padStart(5)} ${b.unit.padEnd(8)} ${result.padEnd(24)} ${states}`);
    }
    return lines;
}
