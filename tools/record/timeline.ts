// A record's events turned into operations (one batch's create/update/delete/read, from its
// op start to its op end) and, per operation, what happened to each unit (host or cluster):
// the moment it first reached one of the operation's target states, its conductor, its failure.
// Shared by the report and the live status.
import { FailureEvent, OpEvent, OpName, RecordEvent, RequestEvent, TransitionEvent, UnitKind } from "./events";
import type { RunMeta } from "./read";

export interface Operation {
    readonly index: number;
    readonly batch: string;
    readonly op: OpName;
    readonly unit: UnitKind;
    readonly units: number;
    readonly start: number;
    /** Undefined while the operation runs, or for ever when the run was killed. */
    readonly end?: number;
    readonly ready?: boolean;
    readonly reason?: string;
    readonly targets: readonly string[];
}

export type Outcome = "reached" | "failed" | "removed" | "waiting";

export interface UnitRun {
    readonly op: Operation;
    readonly unit: UnitKind;
    readonly name: string;
    /** Its last state in this operation ("(error)" not appended). */
    readonly state: string;
    readonly error?: string;
    /** First transition into a target state without error. */
    readonly reachedAt?: number;
    /** The conductor last seen holding it (Ironic nodes). */
    readonly conductor?: string;
    readonly failure?: FailureEvent;
    readonly outcome: Outcome;
}

export interface Timeline {
    readonly ops: readonly Operation[];
    readonly units: readonly UnitRun[];
    readonly transitions: readonly TransitionEvent[];
    readonly requests: readonly RequestEvent[];
    readonly failures: readonly FailureEvent[];
    /** First and last event time; undefined for an empty record. */
    readonly start?: number;
    readonly end?: number;
}

/**
 * The states an op waits for: as recorded; else what the batch providers wait for (delete:
 * "deleted"; hosts: the config's target state); else (clusters) the states in which the units of
 * the same kind's finished, ready operations ended — undefined until then.
 */
function recordedTargets(e: OpEvent, meta: RunMeta): readonly string[] | undefined {
    if (e.targets && e.targets.length > 0) return e.targets;
    if (e.op === "delete") return ["deleted"];
    return e.unit === "hosts" && meta.config?.targetState ? [meta.config.targetState] : undefined;
}

/** Operations that wait for units to reach a state (a refresh only looks). */
export const WAITING_OPS: readonly OpName[] = ["create", "update", "delete"];
/** Operations whose waiting is the run's work: bringing units to their target (not deleting, not refreshing). */
export const CONVERGING: readonly OpName[] = ["create", "update"];

/** `events` sorted by time, as readRun returns them. */
export function buildTimeline(events: readonly RecordEvent[], meta: RunMeta = {}): Timeline {
    const ops: Operation[] = [];
    const open = new Map<string, number>(); // batch -> index of its op without end
    const transitions: TransitionEvent[] = [];
    const requests: RequestEvent[] = [];
    const failures: FailureEvent[] = [];
    for (const e of events) {
        if (e.kind === "op") {
            const at = open.get(e.batch);
            if (e.phase === "start") {
                // A start while another op of the batch is open: the earlier one never ended (killed run resumed).
                open.set(e.batch, ops.length);
                ops.push({ index: ops.length, batch: e.batch, op: e.op, unit: e.unit, units: e.units, start: e.t, targets: recordedTargets(e, meta) ?? [] });
            } else if (at !== undefined) {
                ops[at] = { ...ops[at], end: e.t, ready: e.ready, reason: e.reason };
                open.delete(e.batch);
            }
        } else if (e.kind === "transition") transitions.push(e);
        else if (e.kind === "request") requests.push(e);
        else failures.push(e);
    }

    // Each unit event belongs to the latest op of its batch started at or before it.
    const byBatch = new Map<string, Operation[]>();
    for (const o of ops) byBatch.set(o.batch, [...(byBatch.get(o.batch) ?? []), o]);
    const opAt = (batch: string, t: number): Operation | undefined => {
        const list = byBatch.get(batch);
        if (!list) return undefined;
        let found: Operation | undefined = list[0];
        for (const o of list) if (o.start <= t) found = o;
        return found;
    };

    interface Acc {
        op: Operation;
        unit: UnitKind;
        name: string;
        steps: TransitionEvent[];
        conductor?: string;
        failure?: FailureEvent;
    }
    const acc = new Map<string, Acc>();
    const order: string[] = [];
    const get = (op: Operation, unit: UnitKind, name: string): Acc => {
        const key = `${op.index}\u0000${unit}\u0000${name}`;
        let a = acc.get(key);
        if (!a) {
            a = { op, unit, name, steps: [] };
            acc.set(key, a);
            order.push(key);
        }
        return a;
    };
    for (const tr of transitions) {
        const op = opAt(tr.batch, tr.t);
        if (!op) continue;
        const a = get(op, tr.unit, tr.name);
        a.steps.push(tr);
        if (tr.conductor) a.conductor = tr.conductor;
    }
    for (const f of failures) {
        const op = opAt(f.batch, f.t);
        if (!op) continue;
        get(op, op.unit, f.name).failure = f;
    }

    // Ops without known targets: the final states of the units of ready ops of the same kind.
    const inferred = new Map<UnitKind, Set<string>>();
    for (const a of acc.values()) {
        const last = a.steps.at(-1);
        if (a.op.ready !== true || a.op.op === "delete" || !last || last.error) continue;
        if (!inferred.has(a.unit)) inferred.set(a.unit, new Set());
        inferred.get(a.unit)!.add(last.to);
    }
    const finalOps = ops.map((o) => (o.targets.length > 0 || o.op === "delete" ? o : { ...o, targets: [...(inferred.get(o.unit) ?? [])] }));

    const units: UnitRun[] = order.map((key) => {
        const a = acc.get(key)!;
        const op = finalOps[a.op.index];
        const last = a.steps.at(-1);
        const state = last?.to ?? "unseen";
        const error = last?.error;
        const reachedAt = a.steps.find((tr) => !tr.error && op.targets.includes(tr.to))?.t;
        const outcome: Outcome =
            a.failure || error ? "failed" : reachedAt !== undefined ? "reached" : state === "deleted" && !op.targets.includes("deleted") ? "removed" : "waiting";
        return { op, unit: a.unit, name: a.name, state, error, reachedAt, conductor: a.conductor, failure: a.failure, outcome };
    });
    // Events come sorted by time (readRun).
    return { ops: finalOps, units, transitions, requests, failures, start: events[0]?.t, end: events.at(-1)?.t };
}

/** Each unit's first arrival at its target in a converging operation (a later `up` that finds it there again does not count). */
export function firstReaches(tl: Timeline, kind?: UnitKind): UnitRun[] {
    const first = new Map<string, UnitRun>();
    for (const u of tl.units) {
        if ((kind && u.unit !== kind) || u.outcome !== "reached" || !CONVERGING.includes(u.op.op)) continue;
        const key = `${u.unit}\u0000${u.name}`;
        const had = first.get(key);
        if (!had || had.reachedAt! > u.reachedAt!) first.set(key, u);
    }
    return [...first.values()].sort((a, b) => a.reachedAt! - b.reachedAt!);
}

/** Each unit's run in its last converging operation. */
export function finalRuns(tl: Timeline): UnitRun[] {
    const last = new Map<string, UnitRun>();
    for (const u of tl.units) if (CONVERGING.includes(u.op.op)) last.set(`${u.unit}\u0000${u.name}`, u);
    return [...last.values()];
}
