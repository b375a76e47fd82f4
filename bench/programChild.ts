// One program evaluation under Pulumi's mock runtime, alone in this process, so
// its peak RSS is its own: `node --import=tsx bench/programChild.ts <design>
// <nodes> <mode>` prints one JSON line (ProgramFigure). bench/programSize.ts
// runs it once per design, size and mode.
//   lab:   index.ts with the scale1000 stack at `nodes` hosts and the stack's
//          defaults for the fleet (hostsPerSushy, derived container counts);
//   naive: one Secret + one BareMetalHost resource per host, what a per-host
//          stack would register;
//   floor: `nodes` plain local.Command resources with three short inputs: what
//          the SDK alone costs per resource, whatever the program puts in it.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LAB_HOST_CPUS_ENV } from "../components/config/defaults";

export const DESIGNS = ["lab", "naive", "floor"] as const;
export type Design = (typeof DESIGNS)[number];
export const MODES = ["ironic", "bmo", "capi"] as const;
export type Mode = (typeof MODES)[number];

export interface ProgramFigure {
    readonly design: Design;
    readonly nodes: number;
    readonly mode: Mode;
    readonly resources: number;
    /** Wall-clock time of the evaluation (runProgram), modules already loaded. */
    readonly ms: number;
    /** CPU time (user + system) of the evaluation: less sensitive than `ms` to other work on the machine. */
    readonly cpuMs: number;
    /** Peak RSS of the whole process (modules included), process.resourceUsage().maxRSS. */
    readonly peakRssMb: number;
    /** RSS once the modules are loaded, before the evaluation: the part of the peak that is not the program's. */
    readonly startRssMb: number;
}

/** capi mode declares a tenth of the hosts as 1-node workload clusters. */
export function benchClusters(nodes: number): number {
    return Math.floor(nodes / 10);
}

/** The lab's stack config at this size: scale1000 (15 conductors, batches of 50) with the fleet's counts derived, as by default. */
export function labOverrides(nodes: number, mode: Mode): Record<string, unknown> {
    return { nodes, mode, sushyContainers: 0, fakeIpaContainers: 0, ...(mode === "capi" ? { clusters: benchClusters(nodes) } : {}) };
}

async function main(): Promise<void> {
    const [design, nodesText, mode] = process.argv.slice(2) as [Design, string, Mode];
    const nodes = Number(nodesText);
    if (!DESIGNS.includes(design) || !MODES.includes(mode) || !Number.isInteger(nodes) || nodes < 1) {
        throw new Error(`usage: programChild.ts <${DESIGNS.join("|")}> <nodes> <${MODES.join("|")}>`);
    }
    // The bench sizes programs, not a lab host: count enough CPUs that the loader's fleet rule admits every size.
    process.env[LAB_HOST_CPUS_ENV] ??= "1024";
    // An evaluation is an `up` to the mock runtime and would start a run record: keep it out of the project.
    const runs = process.env.METAL3_LAB_RUNS ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), "bench-program-runs-"));
    if (runs) process.env.METAL3_LAB_RUNS = runs;
    try {
        // Loaded after the environment is set: the config loader reads it.
        const { runProgram, stackConfig } = await import("../test/support/mockProgram");
        const program = design === "lab" ? labProgram() : design === "naive" ? await naiveProgram(nodes) : await floorProgram(nodes);
        const config = design === "lab" ? stackConfig("scale1000", labOverrides(nodes, mode)) : {};
        const startRssMb = process.memoryUsage().rss / 2 ** 20;
        const cpu = process.cpuUsage();
        const start = process.hrtime.bigint();
        const run = await runProgram(program, { stack: "bench", config });
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        const used = process.cpuUsage(cpu);
        const figure: ProgramFigure = {
            design,
            nodes,
            mode,
            resources: run.resources.length,
            ms,
            cpuMs: (used.user + used.system) / 1000,
            peakRssMb: process.resourceUsage().maxRSS / 1024,
            startRssMb,
        };
        console.log(JSON.stringify(figure));
    } finally {
        if (runs) fs.rmSync(runs, { recursive: true, force: true });
    }
}

function labProgram(): () => unknown {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("../index");
}

async function floorProgram(resources: number): Promise<() => unknown> {
    const command = await import("@pulumi/command");
    command.local.Command.isInstance(undefined);
    return () => {
        for (let i = 0; i < resources; i++) new command.local.Command(`c${i}`, { create: "true", delete: "true", environment: { A: "b" } });
    };
}

async function naiveProgram(nodes: number): Promise<() => unknown> {
    const k8s = await import("@pulumi/kubernetes");
    const { loadLabConfig } = await import("../components/config/load");
    const { buildInventory } = await import("../components/inventory/inventory");
    // Module loads happen here, before the clock starts, as for the lab.
    k8s.core.v1.Secret.isInstance(undefined);
    k8s.apiextensions.CustomResource.isInstance(undefined);
    return () => {
        const cfg = loadLabConfig({ nodes: String(nodes), hostsPerSushy: "1000" }, "bench");
        for (const host of buildInventory(cfg)) {
            const secret = new k8s.core.v1.Secret(`${host.name}-bmc-secret`, {
                metadata: { name: `${host.name}-bmc-secret`, namespace: "metal3" },
                stringData: { username: "admin", password: "x" },
            });
            new k8s.apiextensions.CustomResource(host.name, {
                apiVersion: "metal3.io/v1alpha1",
                kind: "BareMetalHost",
                metadata: { name: host.name, namespace: "metal3" },
                spec: { online: true, bootMACAddress: host.bootMac, bmc: { address: host.redfishAddress, credentialsName: secret.metadata.name } },
            });
        }
    };
}

if (require.main === module) {
    main().catch((err) => {
        console.error(err instanceof Error ? err.stack : err);
        process.exit(1);
    });
}
