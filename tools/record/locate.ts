// Where run records live: <runs root>/<stack>/<runId>/, the root being $METAL3_LAB_RUNS (relative:
// to the project dir) or the project's runs/ folder; <stack>/latest names the newest run (a symlink or a file).
import * as fs from "fs";
import * as path from "path";


export { runsRoot } from "../../components/record/location";

const RUN_ID = /^\d{8}T\d{6}Z(-\d+)?$/;

/** Run ids of a stack, oldest first (ids are UTC timestamps, a "-N" suffix for a second run in the same second). */
export function listRuns(root: string, stack: string): string[] {
    const dir = path.join(root, stack);
    if (!fs.existsSync(dir)) return [];
    const key = (id: string) => {
        const m = /^(.*?)(?:-(\d+))?$/.exec(id)!;
        return [m[1], Number(m[2] ?? 1)] as const;
    };
    return fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory() && RUN_ID.test(e.name))
        .map((e) => e.name)
        .sort((a, b) => {
            const [ta, na] = key(a);
            const [tb, nb] = key(b);
            return ta < tb ? -1 : ta > tb ? 1 : na - nb;
        });
}

/** The run `latest` names, else the newest run directory. */
export function latestRun(root: string, stack: string): string | undefined {
    const link = path.join(root, stack, "latest");
    try {
        const st = fs.lstatSync(link);
        const named = st.isSymbolicLink() ? path.basename(fs.readlinkSync(link)) : fs.readFileSync(link, "utf8").trim();
        if (named && fs.existsSync(path.join(root, stack, named))) return named;
    } catch {
        // no latest: fall back to the newest directory
    }
    return listRuns(root, stack).at(-1);
}

export interface RunRef {
    readonly root: string;
    readonly stack?: string;
}

/**
 * A run directory from what a user typed: a directory path, "<stack>/<runId>", or a run id
 * (or "latest") of `stack`. Throws with what was looked for.
 */
export function resolveRun(ref: RunRef, run?: string): string {
    if (run !== undefined && (path.isAbsolute(run) || run.startsWith(".")) ) {
        if (fs.existsSync(path.join(run, "run.json")) || fs.existsSync(path.join(run, "events"))) return path.resolve(run);
        throw new Error(`${run} is not a run directory (no run.json or events/)`);
    }
    if (run !== undefined && run.includes("/")) {
        const [stack, id] = run.split("/", 2);
        return resolveRun({ root: ref.root, stack }, id);
    }
    if (ref.stack === undefined) throw new Error("--stack <name> is required (or give a run as <stack>/<runId> or a directory)");
    const id = run === undefined || run === "latest" ? latestRun(ref.root, ref.stack) : run;
    if (id === undefined) throw new Error(`no run of stack ${ref.stack} under ${ref.root} (run \`pulumi up\` first, or set --root / METAL3_LAB_RUNS)`);
    const dir = path.join(ref.root, ref.stack, id);
    if (!fs.existsSync(dir)) {
        const known = listRuns(ref.root, ref.stack);
        throw new Error(`no run ${id} of stack ${ref.stack} under ${ref.root}; runs: ${known.join(", ") || "none"}`);
    }
    return dir;
}
