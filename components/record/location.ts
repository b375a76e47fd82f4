// Where run records live (no Pulumi import: the status and report tools load this
// on every start, and the Pulumi SDK takes seconds to load; the batch providers
// import it too, and their `__provider` would carry the SDK's code otherwise).

/** The runs root: $METAL3_LAB_RUNS (relative: to the project dir), else `runs/` in the project dir. */
export function runsRoot(env: Record<string, string | undefined> = process.env, projectDir?: string): string {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const path = require("path");
    return path.resolve(projectDir ?? path.resolve(__dirname, "..", ".."), env.METAL3_LAB_RUNS || "runs");
}

/** The newest run dir of the stack whose run dir is `runDir` (its `latest`), else `runDir` itself. */
export function latestRunDir(runDir: string): string {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require("fs");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const path = require("path");
    const latest = path.join(path.dirname(runDir), "latest");
    try {
        if (fs.lstatSync(latest).isSymbolicLink()) return path.resolve(path.dirname(runDir), fs.readlinkSync(latest));
        const runId = fs.readFileSync(latest, "utf8").trim();
        if (runId !== "" && !runId.includes("/")) return path.join(path.dirname(runDir), runId);
    } catch {
        // No `latest` (or unreadable): the dir the batch was given.
    }
    return runDir;
}
