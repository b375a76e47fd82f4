// durations.csv: one row per unit per waiting operation (RFC 4180 quoting).
import type { UnitRun } from "../record/timeline";

export const DURATION_COLUMNS = ["batch", "operation", "unit", "name", "conductor", "operation_start", "reached_at", "seconds", "outcome", "state", "error"] as const;

function field(v: unknown): string {
    const s = v === undefined || v === null ? "" : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function durationsCsv(units: readonly UnitRun[]): string {
    const rows = units.map((u) => [
        u.op.batch,
        u.op.op,
        u.unit,
        u.name,
        u.conductor,
        new Date(u.op.start).toISOString(),
        u.reachedAt === undefined ? undefined : new Date(u.reachedAt).toISOString(),
        u.reachedAt === undefined ? undefined : (u.reachedAt - u.op.start) / 1000,
        u.outcome,
        u.state,
        u.failure?.error ?? u.error,
    ]);
    return [DURATION_COLUMNS, ...rows].map((r) => r.map(field).join(",")).join("\r\n") + "\r\n";
}
