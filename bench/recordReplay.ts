// What a run record costs the run that wrote it, measured directly: every
// event of a recorded run is fed again, in its order, through the same
// BatchRecord the providers use (same redaction, same JSON Lines files), and
// the CPU it takes is the recording's own work. Requests a driver sends only
// because the run is recorded (Ironic's conductor lookups, GET /v1/nodes/detail)
// are read off the record itself.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BatchRecord } from "../components/record/observer";
import type { RecordEvent } from "../components/record/format";
import { readRun } from "../tools/record/read";

export interface ReplayCost {
    readonly events: number;
    /** CPU of the recording work (median of `rounds` replays). */
    readonly cpuMs: number;
    /** Requests sent only for the record, and their summed latency. */
    readonly recordOnlyRequests: number;
    readonly recordOnlyMs: number;
    readonly requests: number;
}

/** Path classes of requests a driver sends only when the run is recorded. */
const RECORD_ONLY_PATHS: readonly string[] = ["/v1/nodes/detail"];

function replayOnce(events: readonly RecordEvent[], secrets: readonly string[], out: string): Promise<number> {
    const records = new Map<string, BatchRecord>();
    const cpu = process.cpuUsage();
    for (const e of events) {
        let record = records.get(e.batch);
        if (!record) records.set(e.batch, (record = new BatchRecord(out, e.batch, "unit" in e && e.unit ? e.unit : "hosts", secrets)));
        switch (e.kind) {
            case "transition":
                record.onTransition({ batch: e.batch, host: e.name, from: e.from ?? undefined, to: e.to, error: e.error, conductor: e.conductor, at: e.t });
                break;
            case "request":
                record.onRequest({ api: e.api, method: e.method, path: e.path, status: e.status, ms: e.ms, at: e.t });
                break;
            case "op":
                record.operation(e.op, e.phase, e.units, e);
                break;
            case "failure":
                record.failures([e]);
                break;
        }
    }
    return Promise.all([...records.values()].map((r) => r.close())).then(() => {
        const used = process.cpuUsage(cpu);
        return (used.user + used.system) / 1000;
    });
}

/** Replays the record in `runDir` `rounds` times (secrets as the run had them) and sums what only the record asked for. */
export async function replayCost(runDir: string, secrets: readonly string[], rounds = 5): Promise<ReplayCost> {
    const { events } = readRun(runDir);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "bench-replay-"));
    const cpu: number[] = [];
    try {
        for (let r = 0; r < rounds; r++) {
            fs.rmSync(path.join(out, "events"), { recursive: true, force: true });
            cpu.push(await replayOnce(events, secrets, out));
        }
    } finally {
        fs.rmSync(out, { recursive: true, force: true });
    }
    const requests = events.filter((e) => e.kind === "request");
    const recordOnly = requests.filter((e) => RECORD_ONLY_PATHS.includes(e.path));
    return {
        events: events.length,
        cpuMs: [...cpu].sort((a, b) => a - b)[Math.floor(cpu.length / 2)],
        recordOnlyRequests: recordOnly.length,
        recordOnlyMs: recordOnly.reduce((sum, e) => sum + e.ms, 0),
        requests: requests.length,
    };
}
