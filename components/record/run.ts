// Where a run's record goes and what it says about the run: one directory per
// stack and run under the runs root, `run.json` (the lab's config and the
// machine, never a secret), and a `latest` link to the newest run. Picked by
// the program at evaluation time; a preview records nothing.
import * as pulumi from "@pulumi/pulumi";
import type { LabConfig } from "../config/types";
import { RECORD_FORMAT, RunInfo } from "./format";
import { runsRoot } from "./location";
import { warnOnce } from "./writer";

export { latestRunDir, runsRoot } from "./location";

/** UTC timestamp YYYYMMDDTHHMMSSZ. */
export function runIdAt(at: Date): string {
    return at.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");
}

export type MachineFacts = RunInfo["machine"];

export function machineFacts(): MachineFacts {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const os = require("os");
    const cpus = os.cpus();
    return { cpus: cpus.length, cpuModel: cpus[0]?.model ?? "unknown", memoryBytes: os.totalmem(), platform: os.platform(), release: os.release(), node: process.version };
}

/** run.json: the config keys that shape a run's speed, and the machine. Picks keys one by one: no secret can slip in. */
export function runInfo(cfg: LabConfig, runId: string, startedAt: Date, machine: MachineFacts): RunInfo {
    return {
        format: RECORD_FORMAT,
        runId,
        stack: cfg.stack,
        project: cfg.project,
        startedAt: startedAt.toISOString(),
        config: {
            mode: cfg.mode,
            nodes: cfg.nodes,
            conductors: cfg.conductors,
            sushyContainers: cfg.sushyContainers,
            fakeIpaContainers: cfg.fakeIpaContainers,
            hostsPerSushy: cfg.hostsPerSushy,
            batchSize: cfg.batchSize,
            maxBatchesInFlight: cfg.maxBatchesInFlight,
            clusters: cfg.clusters,
            workersPerCluster: cfg.workersPerCluster,
            inspectHosts: cfg.inspectHosts,
            targetState: cfg.targetState,
            images: { ...cfg.images },
        },
        machine: { ...machine },
    };
}

/**
 * Creates `<root>/<stack>/<runId>` (0700; `-2`, `-3`... when taken), writes its
 * run.json (0600) and points `<root>/<stack>/latest` at it. Returns the
 * absolute run dir, or "" (recording off) after warning once when it cannot.
 */
export function createRun(cfg: LabConfig, options: { root?: string; now?: Date; machine?: MachineFacts; warn?: (message: string) => void } = {}): string {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require("fs");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const path = require("path");
    const root = options.root ?? runsRoot();
    const now = options.now ?? new Date();
    const stackDir = path.join(root, cfg.stack);
    try {
        fs.mkdirSync(stackDir, { recursive: true, mode: 0o700 });
        const base = runIdAt(now);
        let runId = base;
        for (let n = 2; ; n++) {
            try {
                fs.mkdirSync(path.join(stackDir, runId), { mode: 0o700 });
                break;
            } catch (err) {
                if ((err as NodeJS.ErrnoException).code !== "EEXIST" || n > 1000) throw err;
                runId = `${base}-${n}`;
            }
        }
        const runDir = path.join(stackDir, runId);
        const info = runInfo(cfg, runId, now, options.machine ?? machineFacts());
        fs.writeFileSync(path.join(runDir, "run.json"), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600, flag: "wx" });
        pointLatest(stackDir, runId);
        return runDir;
    } catch (err) {
        warnOnce(stackDir, `metal3-scale-lab: no run record for this run: ${stackDir} cannot be written (${err instanceof Error ? err.message : String(err)})`, options.warn);
        return "";
    }
}

/** The program's run dir: a new one on `pulumi up`, "" (nothing recorded, nothing created) on a preview. */
export function startRun(cfg: LabConfig, preview: boolean = pulumi.runtime.isDryRun()): string {
    return preview ? "" : createRun(cfg);
}

/** `latest` -> runId: a symlink swapped in by rename, or a file naming the run where symlinks are refused. */
function pointLatest(stackDir: string, runId: string): void {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require("fs");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const path = require("path");
    const latest = path.join(stackDir, "latest");
    const tmp = path.join(stackDir, `.latest-${process.pid}`);
    fs.rmSync(tmp, { force: true });
    try {
        fs.symlinkSync(runId, tmp);
    } catch {
        fs.writeFileSync(tmp, `${runId}\n`, { mode: 0o600 });
    }
    fs.renameSync(tmp, latest);
}
