// npm run status -- --stack <name> [--run <id>] [--root <dir>] [--once] [--interval <seconds>]
// On a terminal the view is redrawn in place until the run ends (Ctrl-C stops watching);
// piped, each change is printed as plain lines.
import * as path from "path";
import { parseArgs } from "../cli/args";
import { resolveRun, runsRoot } from "../record/locate";
import { readRun } from "../record/read";
import { formatStatus, statusSnapshot } from "./view";

const USAGE = "usage: npm run status -- --stack <name> [--run <id>] [--root <dir>] [--once] [--interval <seconds>]";

/** Moves the cursor back over the previous frame and overwrites it, line by line (no full-screen flicker). */
export function redraw(previousLines: number, lines: readonly string[], columns = 200): string {
    const up = previousLines > 0 ? `\x1b[${previousLines}F` : "";
    return `${up}${lines.map((l) => `\x1b[2K${l.slice(0, columns)}`).join("\n")}\n\x1b[J`;
}

export async function main(argv: readonly string[], out: NodeJS.WriteStream = process.stdout): Promise<void> {
    const args = parseArgs(argv, { values: ["stack", "run", "root", "interval"], switches: ["once", "help"] });
    if (args.switches.has("help")) {
        out.write(USAGE + "\n");
        return;
    }
    const ref = { root: args.values.root ? path.resolve(args.values.root) : runsRoot(), stack: args.values.stack };
    // The run is picked once: a newer run started meanwhile is another `npm run status`.
    const dir = resolveRun(ref, args.values.run);
    const intervalMs = Math.max(0.2, Number(args.values.interval ?? 2)) * 1000;
    const tty = out.isTTY === true;
    let previous = 0;
    let lastCounts = "";
    for (;;) {
        const snapshot = statusSnapshot(readRun(dir), Date.now());
        const lines = formatStatus(snapshot, tty ? Math.max(3, (out.rows ?? 40) - 2 - snapshot.totals.length) : Infinity);
        // Piped output prints a new block only when a count changed, not for every tick of the clock.
        const counts = JSON.stringify([snapshot.state, snapshot.totals.map((t) => [t.reached, t.failed]), snapshot.batches.map((b) => [b.states, b.running])]);
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
