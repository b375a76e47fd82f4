// The run record's cost (issue 9: at most 2 % of enrollment time), two ways:
// - directly: each recorded run's events replayed through the recorder
//   (bench/recordReplay.ts): its CPU, plus the requests only a record asks
//   for, as a share of that run's enrollment time; on the simulated BMO (the
//   highest event rate per second the lab sees) and on a real Ironic;
// - in place: the same simulated enrollment (BareMetalHostBatch providers
//   rebuilt from `__provider`, the Kubernetes API test server, a fast
//   simulated BMO) with and without recording, alternating, medians compared,
//   with the spread between rounds that tells how far such a ratio can be trusted.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { KubeApiTestServer } from "../test/support/kubeApiServer";
import { SimulatedBmo } from "../test/support/simulatedBmo";
import { bmhBatches, createAll } from "./bmhBatches";
import { loadLabConfig } from "../components/config/load";
import { IronicNodeBatch } from "../components/enroll/ironicNodeBatch";
import { fakeHardwareNodeSpec } from "../components/enroll/specs";
import { buildInventory, planBatches } from "../components/inventory/inventory";
import { createRun } from "../components/record/run";
import { captureDynamicResources } from "../test/support/capturedProvider";
import { batchAccess, startIronicLab } from "../test/support/ironicLocal";
import { ReplayCost, replayCost } from "./recordReplay";
import { Bench, BenchContext, fmt, median, min, msSince, table } from "./section";

/** Enrollment time of `hosts` hosts in batches of 50 (all in flight), recording into `runDir` or not ("" ). */
async function enroll(server: KubeApiTestServer, namespace: string, hosts: number, runDir: string): Promise<{ ms: number; cpuMs: number }> {
    const batches = await bmhBatches({ kubeconfig: server.kubeconfigYaml(), namespace, hosts, runDir });
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    await createAll(batches);
    const used = process.cpuUsage(cpu);
    return { ms: msSince(start), cpuMs: (used.user + used.system) / 1000 };
}

/** Recording cost as a share of an enrollment that took `ms`: the recorder's CPU plus the record-only requests. */
function share(cost: ReplayCost, ms: number): number {
    return (cost.cpuMs + cost.recordOnlyMs) / ms;
}

function pct(x: number): string {
    return `${fmt(100 * x, 2)} %`;
}

interface Rounds {
    readonly off: { ms: number; cpuMs: number }[];
    readonly on: { ms: number; cpuMs: number; cost: ReplayCost }[];
}

/** The simulated BMO: recording off and on, alternating; each recorded run replayed. */
async function simulatedRounds(ctx: BenchContext, hosts: number, rounds: number): Promise<Rounds> {
    const namespaces = Array.from({ length: 2 * rounds }, (_, i) => `r${i}`);
    const server = new KubeApiTestServer({ namespaces, token: "bench-token" });
    await server.start();
    const bmo = new SimulatedBmo(server, { namespaces, delays: { registering: 200, inspecting: 1000, preparing: 200, power: 50 } });
    const runs = fs.mkdtempSync(path.join(os.tmpdir(), "bench-runs-"));
    const result: Rounds = { off: [], on: [] };
    try {
        for (let r = 0; r < rounds; r++) {
            const runDir = path.join(runs, "bench", `run-${r}`);
            // Alternate which goes first, so warm-up and drift fall on both sides alike.
            const recordOff = async () => result.off.push(await enroll(server, namespaces[2 * r], hosts, ""));
            const recordOn = async () => {
                const run = await enroll(server, namespaces[2 * r + 1], hosts, runDir);
                result.on.push({ ...run, cost: await replayCost(runDir, ["admin", "bench-password", "bench-token"]) });
            };
            if (r % 2 === 0) await recordOff().then(recordOn);
            else await recordOn().then(recordOff);
            const on = result.on[r];
            ctx.log(`simulated BMO round ${r + 1}/${rounds}: off ${fmt(result.off[r].ms)} ms, on ${fmt(on.ms)} ms; the record's own work ${fmt(on.cost.cpuMs, 1)} ms CPU for ${on.cost.events} events (${pct(share(on.cost, on.ms))})`);
        }
    } finally {
        bmo.stop();
        await server.stop();
        fs.rmSync(runs, { recursive: true, force: true });
    }
    return result;
}

/** A real Ironic (3 conductors, TLS, basic auth): `hosts` hosts in batches of 50, all in flight, recorded as `pulumi up` records. */
async function realIronicRun(ctx: BenchContext, hosts: number): Promise<{ ms: number; cost: ReplayCost }> {
    const lab = await startIronicLab({ conductors: 3, tls: true });
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "bench-ironic-runs-"));
    const realLog = console.log;
    try {
        const cfg = loadLabConfig({ mode: "ironic", nodes: String(hosts), conductors: "3", batchSize: "50" }, "bench-record");
        const runDir = createRun(cfg, { root });
        const access = batchAccess(lab);
        const batches = await captureDynamicResources(() => {
            for (const batch of planBatches(buildInventory(cfg), 50)) {
                new IronicNodeBatch(`ironic-batch-${batch.index}`, {
                    label: `${cfg.stack}/ironic-batch-${String(batch.index).padStart(3, "0")}`,
                    hosts: batch.hosts.map(fakeHardwareNodeSpec),
                    targetState: "available",
                    timeoutSeconds: 900,
                    ...access,
                    runDir,
                });
            }
        });
        console.log = () => undefined; // the batches' progress lines
        const start = process.hrtime.bigint();
        await Promise.all(batches.map((b) => b.provider.create(b.inputs)));
        const ms = msSince(start);
        console.log = realLog;
        const cost = await replayCost(runDir, [access.password]);
        ctx.log(`real Ironic: ${hosts} hosts in ${fmt(ms)} ms; the record's own work ${fmt(cost.cpuMs, 1)} ms CPU for ${cost.events} events, ${cost.recordOnlyRequests} record-only requests (${fmt(cost.recordOnlyMs)} ms)`);
        return { ms, cost };
    } finally {
        console.log = realLog;
        fs.rmSync(root, { recursive: true, force: true });
        await lab.stop();
    }
}

export const recordingCost: Bench = async (ctx) => {
    const hosts = ctx.quick ? 200 : 500;
    const rounds = ctx.quick ? 3 : 5;
    const ironicHosts = 100;
    const sim = await simulatedRounds(ctx, hosts, rounds);
    // `--quick` (3 minutes) starts a real Ironic once, for the ironic section.
    const ironic = ctx.quick ? undefined : await realIronicRun(ctx, ironicHosts);
    const simShares = sim.on.map((r) => share(r.cost, r.ms));
    const ironicShare = ironic ? share(ironic.cost, ironic.ms) : 0;
    const worst = Math.max(...simShares, ironicShare);
    const [onMs, offMs] = [median(sim.on.map((x) => x.ms)), median(sim.off.map((x) => x.ms))];
    const [onCpu, offCpu] = [median(sim.on.map((x) => x.cpuMs)), median(sim.off.map((x) => x.cpuMs))];
    const offSpread = Math.max(...sim.off.map((x) => x.ms)) / min(sim.off.map((x) => x.ms));
    const simCost = sim.on.map((r) => r.cost);
    return {
        title: "Run record cost",
        markdown: [
            `Target (issue 9): recording costs at most 2 % of enrollment time. **Largest share measured: ${pct(worst)} — ${worst <= 0.02 ? "met" : `missed by ${pct(worst - 0.02)}`}.**`,
            "",
            "Measured directly: every event of each recorded run is fed again, in order, through the recorder the providers use " +
                "(same redaction, same JSON Lines files, flushed); its CPU time (median of 5 replays), plus the latency of requests sent only because the run is recorded " +
                "(Ironic conductor lookups), is divided by that run's enrollment time.",
            "",
            table(
                ["enrollment", "hosts", "enrollment (ms)", "events", "record CPU (ms)", "record-only requests (ms)", "share"],
                [
                    [`simulated BMO, median of ${rounds}`, String(hosts), fmt(onMs), fmt(median(simCost.map((c) => c.events))), fmt(median(simCost.map((c) => c.cpuMs)), 1), "0 (0)", pct(median(simShares))],
                    [`simulated BMO, worst of ${rounds}`, String(hosts), "", "", "", "", pct(Math.max(...simShares))],
                    ironic
                        ? ["real Ironic, 3 conductors, TLS", String(ironicHosts), fmt(ironic.ms), String(ironic.cost.events), fmt(ironic.cost.cpuMs, 1), `${ironic.cost.recordOnlyRequests} of ${ironic.cost.requests} (${fmt(ironic.cost.recordOnlyMs)})`, pct(ironicShare)]
                        : ["real Ironic, 3 conductors, TLS: not with `--quick`", "", "", "", "", "", ""],
                ],
            ),
            "",
            `In place: the simulated enrollment with recording off and on, ${rounds} rounds each, alternating (provider, test server and simulated BMO share this one process, so CPU ratios include the server's work).`,
            "",
            table(
                ["recording", "wall (ms), median", "CPU (ms), median"],
                [
                    ["off", fmt(offMs), fmt(offCpu)],
                    ["on", fmt(onMs), fmt(onCpu)],
                    ["ratio on/off", fmt(onMs / offMs, 3), fmt(onCpu / offCpu, 3)],
                ],
            ),
            "",
            `Noise floor of the in-place ratio: recording-off rounds alone spread by ×${fmt(offSpread, 2)} (slowest / fastest), far more than 2 %; the direct measurement above is what the target is judged on.`,
        ].join("\n"),
    };
};
