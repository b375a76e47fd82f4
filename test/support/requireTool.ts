// A test that needs a program from Debian packages: a laptop without it skips,
// CI (CI=true, where .ci/run installs it) fails instead of skipping.
import { spawnSync } from "child_process";

export function hasTool(command: string, args: readonly string[] = ["--version"]): boolean {
    return !spawnSync(command, args).error;
}

export function requireToolOrSkip(ctx: Mocha.Context, command: string, installHint: string, args: readonly string[] = ["--version"]): void {
    requireOrSkip(ctx, hasTool(command, args), `${command} is missing: ${installHint}`);
}

/** Any other precondition (root, a kernel feature): a laptop without it skips, CI fails saying why. */
export function requireOrSkip(ctx: Mocha.Context, ok: boolean, why: string): void {
    if (ok) return;
    if (process.env.CI === "true") throw new Error(`in CI: ${why}`);
    ctx.skip();
}
