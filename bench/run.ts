// Evaluation cost of the lab program under Pulumi's mock runtime, against the
// naive design in the same process: one Secret + one BareMetalHost resource
// per host (what a per-host stack would register); and the run record's cost:
// the same simulated enrollment (BareMetalHostBatch providers rebuilt from
// `__provider`, the Kubernetes API test server, a fast simulated BMO) with and
// without recording. Prints figures and ratios; asserts nothing.
// Run: npm run bench  (node --expose-gc gives steadier memory).
import * as k8s from "@pulumi/kubernetes";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LAB_HOST_CPUS_ENV } from "../components/config/defaults";
import { loadLabConfig } from "../components/config/load";
import { BareMetalHostBatch } from "../components/enroll/bareMetalHostBatch";
import { buildInventory } from "../components/inventory/inventory";
import { rebuildProvider } from "../test/support/capturedProvider";
import { KubeApiTestServer } from "../test/support/kubeApiServer";
import { ProgramRun, runProgram, stackConfig } from "../test/support/mockProgram";
import { SimulatedBmo } from "../test/support/simulatedBmo";

// The bench sizes programs, not a lab host: count enough CPUs that the loader's fleet rule admits every size.
process.env[LAB_HOST_CPUS_ENV] = "1024";
// Program evaluations are `up`s to the runtime and would start run records: keep them out of the project.
const benchRuns = fs.mkdtempSync(path.join(os.tmpdir(), "bench-program-runs-"));
process.env.METAL3_LAB_RUNS = benchRuns;
process.on("exit", () => fs.rmSync(benchRuns, { recursive: true, force: true }));

// eslint-disable-next-line @typescript-eslint/no-require-imports
const labProgram: () => Promise<Record<string, unknown>> = require("../index");

interface Figure {
    readonly resources: number;
    readonly ms: number;
    readonly heapMb: number;
}

function naiveProgram(nodes: number) {
    return () => {
        const cfg = loadLabConfig({ nodes: String(nodes), hostsPerSushy: "1000" }, "bench");
        for (const host of buildInventory(cfg)) {
            const secret = new k8s.core.v1.Secret(`${host.name}-bmc-secret`, { metadata: { name: `${host.name}-bmc-secret`, namespace: "metal3" }, stringData: { username: "admin", password: "x" } });
            new k8s.apiextensions.CustomResource(host.name, {
                apiVersion: "metal3.io/v1alpha1",
                kind: "BareMetalHost",
                metadata: { name: host.name, namespace: "metal3" },
                spec: { online: true, bootMACAddress: host.bootMac, bmc: { address: host.redfishAddress, credentialsName: secret.metadata.name } },
            });
        }
    };
}

async function measure(run: () => Promise<ProgramRun>): Promise<Figure> {
    (global as { gc?: () => void }).gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const start = process.hrtime.bigint();
    const result = await run();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    return { resources: result.resources.length, ms, heapMb };
}

/** Enrollment time of `hosts` hosts in batches of 50 (all in flight), recording into `runDir` or not ("" ). */
async function enroll(server: KubeApiTestServer, namespace: string, hosts: number, runDir: string): Promise<{ ms: number; cpuMs: number }> {
    const kubeconfig = server.kubeconfigYaml();
    const run = await runProgram(
        () => {
            for (let b = 0; b * 50 < hosts; b++) {
                new BareMetalHostBatch(`${namespace}-${b}`, {
                    kubeconfig,
                    namespace,
                    batch: b,
                    label: `bench/${namespace}-${b}`,
                    bmcUsername: "admin",
                    bmcPassword: "bench-password",
                    timeoutSeconds: 300,
                    runDir,
                    hosts: Array.from({ length: Math.min(50, hosts - b * 50) }, (_, k) => {
                        const i = b * 50 + k;
                        const hex = i.toString(16).padStart(4, "0");
                        return { name: `${namespace}-${String(i).padStart(5, "0")}`, bootMac: `00:5c:52:31:${hex.slice(0, 2)}:${hex.slice(2)}`, bmcAddress: `redfish+http://192.168.111.1:8000/redfish/v1/Systems/${i}`, bootMode: "legacy" as const, online: true };
                    }),
                });
            }
        },
        { stack: "bench", config: {} },
    );
    const batches = run.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic")).map((r) => ({ provider: rebuildProvider(r.inputs.__provider), inputs: r.inputs }));
    const log = console.log;
    console.log = () => undefined;
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    try {
        await Promise.all(batches.map((b) => b.provider.create(b.inputs)));
    } finally {
        console.log = log;
    }
    const used = process.cpuUsage(cpu);
    return { ms: Number(process.hrtime.bigint() - start) / 1e6, cpuMs: (used.user + used.system) / 1000 };
}

/** Recording on vs off, `rounds` times each on the same simulated lab, the order alternating; medians compared. */
async function recordingOverhead(hosts: number, rounds: number) {
    const namespaces = Array.from({ length: 2 * rounds }, (_, i) => `r${i}`);
    const server = new KubeApiTestServer({ namespaces, token: "bench-token" });
    await server.start();
    const bmo = new SimulatedBmo(server, { namespaces, delays: { registering: 200, inspecting: 1000, preparing: 200, power: 50 } });
    const runs = fs.mkdtempSync(path.join(os.tmpdir(), "bench-runs-"));
    const on: { ms: number; cpuMs: number }[] = [];
    const off: { ms: number; cpuMs: number }[] = [];
    try {
        for (let r = 0; r < rounds; r++) {
            // Alternate which goes first, so warm-up and drift fall on both sides alike.
            const recordOff = async () => off.push(await enroll(server, namespaces[2 * r], hosts, ""));
            const recordOn = async () => on.push(await enroll(server, namespaces[2 * r + 1], hosts, path.join(runs, "bench", `run-${r}`)));
            if (r % 2 === 0) await recordOff().then(recordOn);
            else await recordOn().then(recordOff);
        }
    } finally {
        bmo.stop();
        await server.stop();
        fs.rmSync(runs, { recursive: true, force: true });
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const [onMs, offMs] = [median(on.map((x) => x.ms)), median(off.map((x) => x.ms))];
    const [onCpu, offCpu] = [median(on.map((x) => x.cpuMs)), median(off.map((x) => x.cpuMs))];
    console.log(`\nrun record: ${hosts} hosts enrolled (simulated BMO), median of ${rounds} rounds each`);
    console.log(`  recording off: ${offMs.toFixed(0)} ms wall, ${offCpu.toFixed(0)} ms CPU`);
    console.log(`  recording on:  ${onMs.toFixed(0)} ms wall, ${onCpu.toFixed(0)} ms CPU`);
    console.log(`  ratio on/off: wall ${(onMs / offMs).toFixed(3)}, CPU ${(onCpu / offCpu).toFixed(3)} (issue 9 budget: wall <= 1.02)`);
}

async function main() {
    const sizes = (process.env.BENCH_NODES ?? "1000,5000").split(",").filter(Boolean).map(Number);
    console.log("nodes  design          resources   time(ms)   heap(MB)");
    for (const nodes of sizes) {
        const naive = await measure(() => runProgram(naiveProgram(nodes), { stack: "bench", config: {} }));
        const sushy = Math.ceil(nodes / 50);
        const lab = await measure(() => runProgram(labProgram, { stack: "bench", config: stackConfig("scale1000", { nodes, sushyContainers: sushy, fakeIpaContainers: sushy }) }));
        for (const [name, f] of [["per-host (naive)", naive], ["batched (lab)", lab]] as const) {
            console.log(`${String(nodes).padStart(5)}  ${name.padEnd(16)} ${String(f.resources).padStart(9)} ${f.ms.toFixed(0).padStart(10)} ${f.heapMb.toFixed(1).padStart(10)}`);
        }
        console.log(`       ratio lab/naive: resources ${(lab.resources / naive.resources).toFixed(3)}, time ${(lab.ms / naive.ms).toFixed(2)}, heap ${(lab.heapMb / Math.max(naive.heapMb, 0.1)).toFixed(2)}`);
    }
    await recordingOverhead(Number(process.env.BENCH_RECORD_HOSTS ?? 500), Number(process.env.BENCH_RECORD_ROUNDS ?? 7));
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
