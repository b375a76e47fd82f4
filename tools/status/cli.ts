// npm run status -- --stack <name> [--run <id>] [--root <dir>] [--once] [--interval <seconds>]
//                    [--ironic <ironic.json>] [--kubeconfig <file>]
// With --ironic / --kubeconfig, each refresh also asks the lab's APIs what they hold now.
// On a terminal the view is redrawn in place until the run ends (Ctrl-C stops watching);
// piped, each change is printed as plain lines.
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "../cli/args";
import { resolveRun, runsRoot } from "../record/locate";
import { readRun } from "../record/read";
import { formatLive, IronicAccess, LiveSources, liveCounts } from "./live";
import { formatStatus, statusSnapshot } from "./view";

const USAGE = "usage: npm run status -- --stack <name> [--run <id>] [--root <dir>] [--once] [--interval <seconds>] [--ironic <ironic.json>] [--kubeconfig <file>]";

/** --ironic: the JSON of `pulumi stack output ironicApi --show-secrets --json`; checked without ever quoting it (a password). */
export function readIronicAccess(file: string): IronicAccess {
    let v: Record<string, unknown>;
    try {
        v = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
        throw new Error(`--ironic ${file}: not readable as JSON (${(err as NodeJS.ErrnoException).code ?? "invalid JSON"}); write it with: pulumi stack output ironicApi --show-secrets --json > ${file}`);
    }
    const missing = [
        ...(Array.isArray(v?.endpoints) && v.endpoints.length > 0 && v.endpoints.every((e) => typeof e === "string") ? [] : ["endpoints (a list of URLs)"]),
        ...(["username", "password"] as const).filter((k) => typeof v?.[k] !== "string" || v[k] === ""),
    ];
    if (missing.length > 0) throw new Error(`--ironic ${file}: missing ${missing.join(", ")}; expected the JSON of: pulumi stack output ironicApi --show-secrets --json`);
    return { endpoints: v.endpoints as string[], username: v.username as string, password: v.password as string, caCertPem: typeof v.caCertPem === "string" ? v.caCertPem : undefined };
}

function liveSources(values: Readonly<Record<string, string | undefined>>): LiveSources {
    const kubeconfig = values.kubeconfig;
    if (kubeconfig !== undefined && !fs.existsSync(kubeconfig)) throw new Error(`--kubeconfig ${kubeconfig}: no such file`);
    return {
        ironic: values.ironic !== undefined ? readIronicAccess(values.ironic) : undefined,
        kubeconfig: kubeconfig !== undefined ? fs.readFileSync(kubeconfig, "utf8") : undefined,
    };
}

/** Moves the cursor back over the previous frame and overwrites it, line by line (no full-screen flicker). */
export function redraw(previousLines: number, lines: readonly string[], columns = 200): string {
    const up = previousLines > 0 ? `\x1b[${previousLines}F` : "";
    return `${up}${lines.map((l) => `\x1b[2K${l.slice(0, columns)}`).join("\n")}\n\x1b[J`;
}

export async function main(argv: readonly string[], out: NodeJS.WriteStream = process.stdout): Promise<void> {
    const args = parseArgs(argv, { values: ["stack", "run", "root", "interval", "ironic", "kubeconfig"], switches: ["once", "help"] });
    if (args.switches.has("help")) {
        out.write(USAGE + "\n");
        return;
    }
    const ref = { root: args.values.root ? path.resolve(args.values.root) : runsRoot(), stack: args.values.stack };
    // The run is picked once: a newer run started meanwhile is another `npm run status`.
    const dir = resolveRun(ref, args.values.run);
    const sources = liveSources(args.values);
    const stack = ref.stack ?? readRun(dir).meta.stack ?? path.basename(path.dirname(dir));
    const intervalMs = Math.max(0.2, Number(args.values.interval ?? 2)) * 1000;
    const tty = out.isTTY === true;
    let previous = 0;
    let lastCounts = "";
    for (;;) {
        const snapshot = statusSnapshot(readRun(dir), Date.now());
        const live = await liveCounts(stack, sources);
        const liveLines = formatLive(live);
        const lines = [...formatStatus(snapshot, tty ? Math.max(3, (out.rows ?? 40) - 2 - snapshot.totals.length - liveLines.length) : Infinity), ...liveLines];
        // Piped output prints a new block only when a count changed, not for every tick of the clock.
        const counts = JSON.stringify([snapshot.state, snapshot.totals.map((t) => [t.reached, t.failed]), snapshot.batches.map((b) => [b.states, b.running]), live]);
        if (tty) {
            out.write(redraw(previous, lines, out.columns ?? 200));
            previous = lines.length;
        } else if (counts !== lastCounts) {
            out.write(`${new Date().toISOString()}\n${lines.join("\n")}\n`);
        }
        lastCounts = counts;
        if (args.switches.has("once") || snapshot.state === "ended" || snapshot.state === "interrupted") return;
        await new Promise((r) => setTimeout(r, intervalMs));
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).catch((err: unknown) => {
        console.error(`status: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
        process.exit(1);
    });
}
