// Reading the run record's event lines (format: components/record/format.ts, README "Run record").
// Parsing validates each line: a record is read from a file a killed `pulumi up` may have
// cut mid-line, and from newer writers that add kinds or keys this reader does not know.

import type { FailureEvent, OpEvent, Operation, RecordEvent, RequestEvent, TransitionEvent, Unit } from "../../components/record/format";

export type { FailureEvent, OpEvent, RecordEvent, RequestEvent, TransitionEvent };
export type UnitKind = Unit;
export type OpName = Operation;

const OPS: readonly string[] = ["create", "update", "delete", "read"];
const UNITS: readonly string[] = ["hosts", "clusters"];

const isStr = (v: unknown): v is string => typeof v === "string";
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const optStr = (v: unknown): boolean => v === undefined || isStr(v);

/** The event on one line, or why it is not one (the caller counts skipped lines). */
export function parseEventLine(line: string): { event: RecordEvent } | { skip: string } {
    let v: Record<string, unknown>;
    try {
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return { skip: "not a JSON object" };
        v = parsed as Record<string, unknown>;
    } catch {
        return { skip: "not JSON (cut short?)" };
    }
    if (!isNum(v.t) || !isStr(v.batch)) return { skip: "no t or batch" };
    switch (v.kind) {
        case "op":
            if (!isStr(v.op) || !OPS.includes(v.op) || (v.phase !== "start" && v.phase !== "end") || !isNum(v.units) || !isStr(v.unit) || !UNITS.includes(v.unit)) {
                return { skip: "malformed op" };
            }
            if (v.targets !== undefined && !(Array.isArray(v.targets) && v.targets.every(isStr))) return { skip: "malformed op targets" };
            if (!optStr(v.reason) || (v.ready !== undefined && typeof v.ready !== "boolean")) return { skip: "malformed op" };
            return { event: v as unknown as OpEvent };
        case "transition":
            if (!isStr(v.unit) || !UNITS.includes(v.unit) || !isStr(v.name) || !isStr(v.to) || !(v.from === null || v.from === undefined || isStr(v.from))) {
                return { skip: "malformed transition" };
            }
            if (!optStr(v.error) || !optStr(v.conductor)) return { skip: "malformed transition" };
            return { event: { ...v, from: v.from ?? null } as unknown as TransitionEvent };
        case "request":
            if (!isStr(v.api) || !isStr(v.method) || !isStr(v.path) || !isNum(v.status) || !isNum(v.ms)) return { skip: "malformed request" };
            return { event: v as unknown as RequestEvent };
        case "failure":
            if (!isStr(v.name) || !isStr(v.state) || !isStr(v.error)) return { skip: "malformed failure" };
            return { event: v as unknown as FailureEvent };
        default:
            return { skip: `unknown kind ${JSON.stringify(v.kind)}` };
    }
}
