// Program size: the lab program's evaluation under Pulumi's mock runtime
// against the naive design in the same process (one Secret + one BareMetalHost
// resource per host, what a per-host stack would register).
import * as k8s from "@pulumi/kubernetes";
import { loadLabConfig } from "../components/config/load";
import { buildInventory } from "../components/inventory/inventory";
import { ProgramRun, runProgram, stackConfig } from "../test/support/mockProgram";
import { Bench, fmt, msSince, table } from "./section";

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
    const ms = msSince(start);
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    return { resources: result.resources.length, ms, heapMb };
}

export const programSize: Bench = async (ctx) => {
    const sizes = ctx.quick ? [1000] : [1000, 5000];
    const rows: string[][] = [];
    for (const nodes of sizes) {
        const naive = await measure(() => runProgram(naiveProgram(nodes), { stack: "bench", config: {} }));
        const sushy = Math.ceil(nodes / 50);
        const lab = await measure(() => runProgram(labProgram, { stack: "bench", config: stackConfig("scale1000", { nodes, sushyContainers: sushy, fakeIpaContainers: sushy }) }));
        for (const [name, f] of [["per-host (naive)", naive], ["batched (lab)", lab]] as const) {
            rows.push([String(nodes), name, String(f.resources), fmt(f.ms), fmt(f.heapMb, 1)]);
            ctx.log(`program ${nodes} hosts ${name}: ${f.resources} resources, ${fmt(f.ms)} ms, ${fmt(f.heapMb, 1)} MB heap`);
        }
    }
    return {
        title: "Program size",
        markdown: table(["hosts", "design", "resources", "time (ms)", "heap (MB)"], rows),
    };
};
