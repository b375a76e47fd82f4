// The run record's cost: the same simulated enrollment (BareMetalHostBatch
// providers rebuilt from `__provider`, the Kubernetes API test server, a fast
// simulated BMO) with and without recording, alternating, medians compared.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BareMetalHostBatch } from "../components/enroll/bareMetalHostBatch";
import { rebuildProvider } from "../test/support/capturedProvider";
import { KubeApiTestServer } from "../test/support/kubeApiServer";
import { runProgram } from "../test/support/mockProgram";
import { SimulatedBmo } from "../test/support/simulatedBmo";
import { Bench, fmt, median, msSince, table } from "./section";

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
    return { ms: msSince(start), cpuMs: (used.user + used.system) / 1000 };
}

export const recordingCost: Bench = async (ctx) => {
    const hosts = ctx.quick ? 200 : 500;
    const rounds = ctx.quick ? 3 : 7;
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
            ctx.log(`recording round ${r + 1}/${rounds}: off ${fmt(off[r].ms)} ms, on ${fmt(on[r].ms)} ms`);
        }
    } finally {
        bmo.stop();
        await server.stop();
        fs.rmSync(runs, { recursive: true, force: true });
    }
    const [onMs, offMs] = [median(on.map((x) => x.ms)), median(off.map((x) => x.ms))];
    const [onCpu, offCpu] = [median(on.map((x) => x.cpuMs)), median(off.map((x) => x.cpuMs))];
    return {
        title: "Run record cost",
        markdown: [
            `${hosts} hosts enrolled (simulated BMO), median of ${rounds} rounds each, alternating.`,
            "",
            table(
                ["recording", "wall (ms)", "CPU (ms)"],
                [
                    ["off", fmt(offMs), fmt(offCpu)],
                    ["on", fmt(onMs), fmt(onCpu)],
                    ["ratio on/off", fmt(onMs / offMs, 3), fmt(onCpu / offCpu, 3)],
                ],
            ),
        ].join("\n"),
    };
};
