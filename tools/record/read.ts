// Reads one run directory: run.json and every events/*.jsonl, merged in time order.
// Tolerant by design: a run killed mid-write leaves a cut last line (skipped and counted),
// and a run killed before run.json was written still has its events.
import * as fs from "fs";
import * as path from "path";
import type { RunInfo } from "../../components/record/format";
import { parseEventLine, RecordEvent } from "./events";

/** run.json as read: every key may be missing (an older or cut file); the file may hold more. */
export type RunMeta = Partial<Omit<RunInfo, "config" | "machine">> & {
    readonly config?: Partial<RunInfo["config"]> & { readonly [key: string]: unknown };
    readonly machine?: Partial<RunInfo["machine"]>;
};

export interface SkippedLine {
    readonly file: string;
    readonly line: number;
    readonly reason: string;
}

export interface RunRecord {
    readonly dir: string;
    readonly runId: string;
    readonly meta: RunMeta;
    /** Every event of every batch file, by time (stable: a file's own order is kept on equal times). */
    readonly events: readonly RecordEvent[];
    readonly skipped: readonly SkippedLine[];
    /** Newest modification time of the record's files (epoch ms): how fresh a live record is. */
    readonly modifiedAt: number;
}

export function readRun(dir: string): RunRecord {
    let meta: RunMeta = {};
    let modifiedAt = 0;
    const skipped: SkippedLine[] = [];
    const metaFile = path.join(dir, "run.json");
    if (fs.existsSync(metaFile)) {
        try {
            meta = JSON.parse(fs.readFileSync(metaFile, "utf8")) as RunMeta;
        } catch (err) {
            skipped.push({ file: "run.json", line: 1, reason: `unreadable: ${(err as Error).message}` });
        }
        modifiedAt = fs.statSync(metaFile).mtimeMs;
    }
    const eventsDir = path.join(dir, "events");
    const tagged: { e: RecordEvent; order: number }[] = [];
    const files = fs.existsSync(eventsDir) ? fs.readdirSync(eventsDir).filter((f) => f.endsWith(".jsonl")).sort() : [];
    for (const file of files) {
        const full = path.join(eventsDir, file);
        modifiedAt = Math.max(modifiedAt, fs.statSync(full).mtimeMs);
        const lines = fs.readFileSync(full, "utf8").split("\n");
        lines.forEach((text, i) => {
            if (text.trim() === "") return;
            const parsed = parseEventLine(text);
            if ("event" in parsed) tagged.push({ e: parsed.event, order: tagged.length });
            else skipped.push({ file: `events/${file}`, line: i + 1, reason: parsed.skip });
        });
    }
    tagged.sort((a, b) => a.e.t - b.e.t || a.order - b.order);
    return { dir, runId: meta.runId ?? path.basename(dir), meta, events: tagged.map((x) => x.e), skipped, modifiedAt };
}
