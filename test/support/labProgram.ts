// Evaluates index.ts under mocks with a stack's config, as `pulumi preview` would.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ProgramRun, runProgram, stackConfig } from "./mockProgram";

/** Runs of the program under tests record into a temp dir (removed on exit), never the project's runs/. */
export const TEST_RUNS_ROOT = process.env.METAL3_LAB_RUNS || ownRunsRoot();

function ownRunsRoot(): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "metal3-lab-runs-"));
    process.env.METAL3_LAB_RUNS = root;
    process.on("exit", () => fs.rmSync(root, { recursive: true, force: true }));
    return root;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const program: () => Promise<Record<string, unknown>> = require("../../index");

export function runLab(stack: string, overrides: Record<string, unknown> = {}, preview = false): Promise<ProgramRun> {
    return runProgram(program, { stack, config: stackConfig(stack, overrides), preview });
}

export function countByType(run: ProgramRun): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of run.resources) counts[r.type] = (counts[r.type] ?? 0) + 1;
    return counts;
}
