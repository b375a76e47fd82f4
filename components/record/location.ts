// Where run records live (no Pulumi import: the status and report tools load this
// on every start, and the Pulumi SDK takes seconds to load).

/** The runs root: $METAL3_LAB_RUNS (relative: to the project dir), else `runs/` in the project dir. */
export function runsRoot(env: Record<string, string | undefined> = process.env, projectDir?: string): string {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const path = require("path");
    return path.resolve(projectDir ?? path.resolve(__dirname, "..", ".."), env.METAL3_LAB_RUNS || "runs");
}
