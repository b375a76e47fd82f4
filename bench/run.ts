// `npm run bench [-- --quick] [-- --only <section>[,<section>]]`: every
// measurement the README quotes (`ironic-large` and `ironic-sweep` only when named), each section against its baseline in the same
// run; printed as it goes and written to bench/RESULTS.md with the machine,
// date, commit and command. Asserts nothing; not part of `npm test`.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LAB_HOST_CPUS_ENV } from "../components/config/defaults";
import { ironicEnroll, ironicEnrollLarge, ironicRawSweep, OPT_IN_TITLES } from "./ironicEnroll";
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
    "ironic-large": ironicEnrollLarge,
    "ironic-sweep": ironicRawSweep,
    bmh: bmhEnroll,
};

/** Run only when named in `--only` (too long for a whole run's 15 minutes), with their titles. */
const OPT_IN: Readonly<Record<string, string>> = OPT_IN_TITLES;

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
    const chosen = (name: string) => (only === undefined ? !(name in OPT_IN) : only.includes(name));
    const command = `npm run bench${args.length > 0 ? ` -- ${args.join(" ")}` : ""}`;
    const out = path.join(__dirname, "RESULTS.md");
    const earlier = parseResults(fs.existsSync(out) ? fs.readFileSync(out, "utf8") : undefined);
    const sections: MeasuredSection[] = [];
    const runStart = Date.now();
    for (const [name, bench] of Object.entries(SECTIONS)) {
        if (!chosen(name)) {
            // A whole run keeps an opt-in section's last measurement, in its place.
            const last = only === undefined && name in OPT_IN ? earlier.sections.find((s) => s.title === OPT_IN[name]) : undefined;
            if (last) sections.push(last);
            continue;
        }
        console.log(`\n== ${name}`);
        const start = Date.now();
        const section = await bench({ quick, log: (line) => console.log(`  ${line}`) });
        console.log(`\n${section.markdown}`);
        const provenance = `measured by \`${command}\` on ${new Date().toISOString()}, commit ${commit()}, in ${fmt((Date.now() - start) / 1000)} s`;
        sections.push({ ...section, provenance });
    }
    // A whole run starts the file afresh (but for the opt-in sections kept above); `--only` keeps the sections it did not run.
    const previous = only === undefined ? { sections: [] } : earlier;
    const wholeRun = only === undefined ? `${fmt((Date.now() - runStart) / 1000)} s, \`${command}\` on ${new Date().toISOString()}` : previous.wholeRun;
    fs.writeFileSync(out, renderResults(previous, sections, machine(), wholeRun));
    console.log(`\nwritten: ${out}`);
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
