// The run record of one batch operation: an observer of the batch's tracker
// (transitions, requests) that also takes the operation's start and end and
// its failing units, and writes them as events to the batch's JSON Lines file.
// Every text is cleared of the batch's secrets before it is buffered.
import { redactText } from "../enroll/kubeClient";
import type { ApiRequest, BatchObserver, HostFailure, HostTransition } from "../enroll/tracker";
import { eventsFile, Operation, RecordEvent, Unit } from "./format";
import { pathClass } from "./pathClass";
import { JsonlWriter, WriterOptions } from "./writer";

export class BatchRecord implements BatchObserver {
    private readonly writer: JsonlWriter;
    private readonly secrets: readonly string[];

    constructor(
        runDir: string,
        /** The batch label (the events file is named after it). */
        readonly batch: string,
        readonly unit: Unit,
        /** Values that must never reach the record (passwords, tokens). */
        secrets: readonly string[],
        options: WriterOptions = {},
    ) {
        this.writer = new JsonlWriter(runDir, eventsFile(batch), options);
        this.secrets = secrets.filter((s) => typeof s === "string" && s !== "");
    }

    onTransition(t: HostTransition): void {
        this.write({
            t: t.at,
            kind: "transition",
            batch: this.batch,
            unit: this.unit,
            name: this.clean(t.host),
            from: t.from === undefined ? null : this.clean(t.from),
            to: this.clean(t.to),
            ...(t.error !== undefined ? { error: this.clean(t.error) } : {}),
            ...(t.retrying !== undefined ? { retrying: this.clean(t.retrying) } : {}),
            ...(t.conductor ? { conductor: t.conductor } : {}),
        });
    }

    onRequest(r: ApiRequest): void {
        this.write({ t: r.at, kind: "request", batch: this.batch, api: r.api, method: r.method, path: pathClass(r.api, r.path), status: r.status, ms: Math.round(r.ms * 10) / 10 });
    }

    operation(op: Operation, phase: "start" | "end", units: number, details: { targets?: readonly string[]; ready?: boolean; reason?: string } = {}): void {
        this.write({
            t: Date.now(),
            kind: "op",
            batch: this.batch,
            op,
            phase,
            units,
            unit: this.unit,
            ...(details.targets !== undefined ? { targets: details.targets.map((t) => this.clean(t)) } : {}),
            ...(details.ready !== undefined ? { ready: details.ready } : {}),
            ...(details.reason !== undefined ? { reason: this.clean(details.reason) } : {}),
        });
    }

    /** Every failing unit, whole (no cut-off): one event each. */
    failures(failing: readonly HostFailure[]): void {
        const t = Date.now();
        for (const f of failing) this.write({ t, kind: "failure", batch: this.batch, name: this.clean(f.name), state: this.clean(f.state), error: this.clean(f.error) });
    }

    /** Writes what is buffered; never throws. */
    close(): Promise<void> {
        return this.writer.flush();
    }

    private write(event: RecordEvent): void {
        this.writer.write(event);
    }

    private clean(text: string): string {
        return this.secrets.length === 0 ? text : redactText(text, this.secrets);
    }
}

/** The record of one operation of a batch, or undefined when recording is off (no run dir: a preview). */
export function openBatchRecord(runDir: unknown, batch: string, unit: Unit, secrets: readonly string[], options?: WriterOptions): BatchRecord | undefined {
    return typeof runDir === "string" && runDir !== "" ? new BatchRecord(runDir, batch, unit, secrets, options) : undefined;
}
