// npm run report -- --stack <name> [--run <id>] [--compare <runA> <runB> ...] [--out <dir>] [--root <dir>]
// A run is a run id of --stack, "<stack>/<runId>", or a run directory.
import * as path from "path";
import { parseArgs } from "../cli/args";
import { resolveRun, runsRoot } from "../record/locate";
import { writeCompareReport, writeRunReport } from "./write";

const USAGE = "usage: npm run report -- --stack <name> [--run <id>] [--compare <runA> <runB> ...] [--out <dir>] [--root <dir>]";

export async function main(argv: readonly string[]): Promise<void> {
    const args = parseArgs(argv, { values: ["stack", "run", "out", "root"], lists: ["compare"], switches: ["help"] });
    if (args.switches.has("help")) {
        console.log(USAGE);
        return;
    }
    const ref = { root: args.values.root ? path.resolve(args.values.root) : runsRoot(), stack: args.values.stack };
    const compare = args.lists.compare;
    if (compare) {
        if (compare.length < 2) throw new Error(`--compare needs at least two runs\n${USAGE}`);
        const dirs = compare.map((r) => resolveRun(ref, r));
        const out = args.values.out ?? path.join(ref.root, "compare", dirs.map((d) => path.basename(d)).join("_vs_"));
        const files = await writeCompareReport(dirs, path.resolve(out));
        for (const r of files.comparison.rows) {
            console.log(`${r.label}: ${r.reached} ${r.unit} at the target, speed-up ${r.speedup === undefined ? "—" : `×${r.speedup.toFixed(2)}`}`);
        }
        console.log(`wrote ${files.html}\nwrote ${files.json}`);
        return;
    }
    const dir = resolveRun(ref, args.values.run);
    const files = await writeRunReport(dir, path.resolve(args.values.out ?? path.join(dir, "report")));
    const s = files.analysis.summary;
    for (const [kind, u] of Object.entries(s.units)) console.log(`${kind}: ${u.reached} reached, ${u.failed} failed, ${u.unfinished} not finished`);
    console.log(`wrote ${files.html}\nwrote ${files.summary}\nwrote ${files.csv}`);
}

if (require.main === module) {
    main(process.argv.slice(2)).catch((err: unknown) => {
        console.error(`report: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
    });
}
