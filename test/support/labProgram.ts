// Evaluates index.ts under mocks with a stack's config, as `pulumi preview` would.
import { ProgramRun, runProgram, stackConfig } from "./mockProgram";

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
