// Program size: the lab program's evaluation under Pulumi's mock runtime
// (test/support/mockProgram.ts runProgram) against the naive design (one
// Secret + one BareMetalHost resource per host), each evaluation alone in a
// child process (bench/programChild.ts) so its peak RSS is its own.
import { execFileSync } from "child_process";
import * as path from "path";
import { SCALAR_DEFAULTS } from "../components/config/defaults";
import { benchClusters, Design, Mode, ProgramFigure } from "./programChild";
import { Bench, BenchContext, fmt, table } from "./section";

/** Issue 11's targets for the lab at 10,000 hosts, in every mode. */
export const TARGET_MS = 8000;
export const TARGET_RSS_MB = 500;
/** "Linear": the evaluation's own memory (peak RSS less the RSS before it) at 2x the hosts is at most this many times that at 1x. */
export const LINEAR_FACTOR = 2.2;

interface Plan {
    readonly sizes: readonly number[];
    readonly modes: readonly Mode[];
    /** The modes run at the largest size too: the default (bmo) and ironic, whose memory grew faster than linear before issue 11. */
    readonly largestModes: readonly Mode[];
    /** The naive design's sizes: it registers two resources per host, about 6 ms of CPU each here, so it is bounded. */
    readonly naiveSizes: readonly number[];
}

export function benchPlan(quick: boolean): Plan {
    return quick
        ? { sizes: [1000, 10000], modes: ["bmo"], largestModes: ["bmo"], naiveSizes: [1000] }
        : { sizes: [1000, 10000, 20000], modes: ["ironic", "bmo", "capi"], largestModes: ["bmo", "ironic"], naiveSizes: [1000] };
}

type Row = ProgramFigure | { readonly design: Design; readonly nodes: number; readonly mode: Mode; readonly error: string };

function evaluate(design: Design, nodes: number, mode: Mode): Row {
    const child = path.join(__dirname, "programChild.ts");
    try {
        const out = execFileSync(process.execPath, ["--import=tsx", child, design, String(nodes), mode], {
            encoding: "utf8",
            timeout: 600_000,
            maxBuffer: 16 * 2 ** 20,
            stdio: ["ignore", "pipe", "pipe"],
        });
        return JSON.parse(out.trim().split("\n").pop()!) as ProgramFigure;
    } catch (err) {
        const e = err as { stderr?: string; message: string };
        return { design, nodes, mode, error: (e.stderr || e.message).trim().split("\n").slice(-1)[0] };
    }
}

function ok(row: Row): row is ProgramFigure {
    return !("error" in row);
}

function own(f: ProgramFigure): number {
    return f.peakRssMb - f.startRssMb;
}

function cells(row: Row): string[] {
    const head = row.design === "floor" ? ["-", `floor: ${row.nodes} plain Commands`] : [String(row.nodes), row.design === "lab" ? row.mode : "per host (naive)"];
    if (!ok(row)) return [...head, `failed: ${row.error}`, "", "", "", "", ""];
    return [...head, String(row.resources), row.design === "floor" ? "-" : fmt(row.resources / row.nodes, 3), fmt(row.ms / 1000, 1), fmt(row.cpuMs / 1000, 1), fmt(row.peakRssMb), fmt(own(row))];
}

/** Targets at 10,000 hosts and linearity to 20,000, mode by mode: met or missed, and by how much. */
function verdicts(rows: readonly Row[], plan: Plan): string[] {
    const lab = (nodes: number, mode: Mode) => rows.find((r): r is ProgramFigure => ok(r) && r.design === "lab" && r.nodes === nodes && r.mode === mode);
    const lines: string[] = [];
    for (const mode of plan.modes) {
        const at10k = lab(10000, mode);
        if (!at10k) continue;
        const time = at10k.ms <= TARGET_MS ? "met" : `missed by ${fmt((at10k.ms - TARGET_MS) / 1000, 1)} s`;
        const rss = at10k.peakRssMb <= TARGET_RSS_MB ? "met" : `missed by ${fmt(at10k.peakRssMb - TARGET_RSS_MB)} MiB`;
        let line = `- ${mode}, 10,000 hosts: time ${fmt(at10k.ms / 1000, 1)} s, CPU ${fmt(at10k.cpuMs / 1000, 1)} s (target < ${TARGET_MS / 1000} s: ${time}); peak RSS ${fmt(at10k.peakRssMb)} MiB (target < ${TARGET_RSS_MB} MiB: ${rss})`;
        const at20k = lab(20000, mode);
        if (at20k) {
            const ratio = own(at20k) / own(at10k);
            line += `; evaluation's own memory ${fmt(own(at10k))} -> ${fmt(own(at20k))} MiB from 10,000 to 20,000 hosts, x${fmt(ratio, 2)} (linear: at most x${LINEAR_FACTOR}: ${ratio <= LINEAR_FACTOR ? "met" : "missed"})`;
        }
        lines.push(`${line}.`);
    }
    return lines;
}

/** Why a time target is missed: what the SDK alone costs for as many resources, measured in the same run. */
function floorNote(rows: readonly Row[]): string {
    const floor = rows.find((r): r is ProgramFigure => ok(r) && r.design === "floor");
    if (!floor) return "";
    return (
        `The floor row registers as many plain \`local.Command\` resources (three short inputs each) as the lab declares at 10,000 hosts: ` +
        `${fmt(floor.cpuMs / floor.resources, 1)} ms of CPU per resource (${fmt(floor.cpuMs / 1000, 1)} s), spent by the Pulumi SDK whatever the ` +
        `program puts in a resource (each output property gets four promises, each with a stack trace that the tsx runtime ` +
        `source-maps). The lab's time above that floor is the closure serialization of its dynamic providers, the inputs ` +
        `themselves (per host about five values: in ironic mode its name, uuid, boot MAC and BMC in IronicNodeBatch's host list, ` +
        `what the nodes share declared once per batch; each value serialized, converted and echoed back by the mock runtime), and garbage collection.`
    );
}

function naiveNote(rows: readonly Row[], plan: Plan): string {
    const naive = rows.find((r): r is ProgramFigure => ok(r) && r.design === "naive");
    if (!naive) return "";
    const perResourceMs = naive.cpuMs / naive.resources;
    const largest = Math.max(...plan.sizes);
    return (
        `The naive design is run at ${plan.naiveSizes.map((n) => n.toLocaleString("en-US")).join(", ")} hosts only: it registers ${fmt(naive.resources / naive.nodes, 0)} resources per host ` +
        `at ${fmt(perResourceMs, 1)} ms of CPU each here, so ${largest.toLocaleString("en-US")} hosts would take about ${fmt((perResourceMs * (2 * largest + 1)) / 1000, 0)} s ` +
        `of CPU (an extrapolation, not a measurement), past this section's budget.`
    );
}

/** Which modes the largest size leaves out, and why. */
function largestOnly(plan: Plan): string {
    if (plan.largestModes.length === plan.modes.length) return "";
    const largest = Math.max(...plan.sizes).toLocaleString("en-US");
    return ` At ${largest} hosts only ${plan.largestModes.join(" and ")} modes (the default, and the one whose memory grew faster than linear before issue 11), to keep the whole bench within 15 minutes.`;
}

export const programSize: Bench = async (ctx: BenchContext) => {
    const plan = benchPlan(ctx.quick);
    const rows: Row[] = [];
    const run = (design: Design, nodes: number, mode: Mode) => {
        const row = evaluate(design, nodes, mode);
        rows.push(row);
        ctx.log(`program ${design} ${mode} ${nodes} hosts: ${ok(row) ? `${row.resources} resources, ${fmt(row.ms)} ms (${fmt(row.cpuMs)} ms CPU), peak RSS ${fmt(row.peakRssMb)} MiB` : `failed: ${row.error}`}`);
    };
    const largest = Math.max(...plan.sizes);
    for (const nodes of plan.sizes) {
        for (const mode of nodes === largest ? plan.largestModes : plan.modes) run("lab", nodes, mode);
        if (plan.naiveSizes.includes(nodes)) run("naive", nodes, "bmo");
    }
    // The SDK's own cost for as many resources as the lab declares at 10,000 hosts (bmo mode).
    const at10k = rows.find((r): r is ProgramFigure => ok(r) && r.design === "lab" && r.nodes === 10000 && r.mode === "bmo");
    if (at10k) run("floor", at10k.resources, "bmo");
    const markdown = [
        `Each program evaluation runs alone in a child process (\`bench/programChild.ts\`) under Pulumi's mock runtime ` +
            `(\`test/support/mockProgram.ts\` runProgram), modules loaded before the clock starts. The lab: \`index.ts\` with the ` +
            `scale1000 stack at the given size and the fleet's defaults (hostsPerSushy ${SCALAR_DEFAULTS.hostsPerSushy}, container counts ` +
            `derived: one sushy-tools and one fake-ipa container per ${SCALAR_DEFAULTS.hostsPerSushy} hosts); capi mode declares ${benchClusters(10000).toLocaleString("en-US")} ` +
            `1-node clusters per 10,000 hosts.${largestOnly(plan)} Time is wall clock; CPU is the evaluation's user + system time (other work on the ` +
            `machine inflates the first, much less the second). Peak RSS is the child's maxRSS (modules included); "own" is the ` +
            `peak less the RSS before the evaluation.`,
        "",
        table(["hosts", "mode / design", "resources", "resources per host", "time (s)", "CPU (s)", "peak RSS (MiB)", "own (MiB)"], rows.map(cells)),
        "",
        naiveNote(rows, plan),
        "",
        floorNote(rows),
        "",
        ...verdicts(rows, plan),
    ].join("\n");
    return { title: "Program size", markdown };
};
