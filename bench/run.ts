// `npm run bench [-- --quick] [-- --only <section>[,<section>]]`: every
// measurement the README quotes, each section against its baseline in the same
// run; printed as it goes and written to bench/RESULTS.md with the machine,
// date, commit and command. Asserts nothing; not part of `npm test`.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LAB_HOST_CPUS_ENV } from "../components/config/defaults";
import { ironicEnroll } from "./ironicEnroll";
import { fleetFootprint } from "./fleetFootprint";
import { programSize } from "./programSize";
import { recordingCost } from "./recording";
import { bmhEnroll } from "./bmhEnroll";
import { parseResults, renderResults, MeasuredSection } from "./results";
import { Bench, fmt } from "./section";

// The bench sizes programs, not a lab host: count enough CPUs that the loader's fleet rule admits every size.
process.env[LAB_HOST_CPUS_ENV] = "1024";
// Program evaluations are `up`s to the runtime and would start run records: keep them out of the project.
const benchRuns = fs.mkdtempSync(path.join(os.tmpdir(), "bench-program-runs-"));
process.env.METAL3_LAB_RUNS = benchRuns;
process.on("exit", () => fs.rmSync(benchRuns, { recursive: true, force: true }));

const SECTIONS: Readonly<Record<string, Bench>> = {
    program: programSize,
    fleet: fleetFootprint,
    recording: recordingCost,
    ironic: ironicEnroll,
    bmh: bmhEnroll,
};

function option(args: readonly string[], name: string): string | undefined {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
}

function commit(): string {
    try {
        const sha = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { encoding: "utf8", cwd: path.resolve(__dirname, "..") }).trim();
        const dirty = execFileSync("git", ["status", "--porcelain"], { encoding: "utf8", cwd: path.resolve(__dirname, "..") }).trim() !== "";
        return dirty ? `${sha} (with uncommitted changes)` : sha;
    } catch {
        return "unknown (not a git checkout)";
    }
}

function machine(): string {
    const cpus = os.cpus();
    return `${cpus.length} × ${cpus[0]?.model ?? "unknown CPU"}, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
}

async function main() {
    const args = process.argv.slice(2);
    const quick = args.includes("--quick");
    const only = option(args, "--only")?.split(",");
    const unknown = (only ?? []).filter((name) => !(name in SECTIONS));
    if (unknown.length > 0) throw new Error(`--only: unknown section(s) ${unknown.join(", ")}; sections: ${Object.keys(SECTIONS).join(", ")}`);
    const chosen = Object.entries(SECTIONS).filter(([name]) => only === undefined || only.includes(name));
    const command = `npm run bench${args.length > 0 ? ` -- ${args.join(" ")}` : ""}`;
    const sections: MeasuredSection[] = [];
    const runStart = Date.now();
    for (const [name, bench] of chosen) {
        console.log(`\n== ${name}`);
        const start = Date.now();
        const section = await bench({ quick, log: (line) => console.log(`  ${line}`) });
        console.log(`\n${section.markdown}`);
        const provenance = `measured by \`${command}\` on ${new Date().toISOString()}, commit ${commit()}, in ${fmt((Date.now() - start) / 1000)} s`;
        sections.push({ ...section, provenance });
    }
    const out = path.join(__dirname, "RESULTS.md");
    // A run of every section starts the file afresh; `--only` keeps the sections it did not run.
    const previous = only === undefined || !fs.existsSync(out) ? { sections: [] } : parseResults(fs.readFileSync(out, "utf8"));
    const wholeRun = only === undefined ? `${fmt((Date.now() - runStart) / 1000)} s, \`${command}\` on ${new Date().toISOString()}` : previous.wholeRun;
    fs.writeFileSync(out, renderResults(previous, sections, machine(), wholeRun));
    console.log(`\nwritten: ${out}`);
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
