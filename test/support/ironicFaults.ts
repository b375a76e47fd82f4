// Helpers for the fault and interruption tests of IronicNodeBatch against the
// real local Ironic (test/support/ironicLocal.ts): what Ironic holds, checked by
// listing nodes and ports (never by trusting the provider), and a provider
// operation run in a child process that the test can SIGKILL halfway.
import { strict as assert } from "assert";
import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import { sleep } from "../../components/enroll/bounded";
import { batchMarker, IronicNodeBatch, IronicNodeSpec } from "../../components/enroll/ironicNodeBatch";
import { fakeHardwareNodeSpec } from "../../components/enroll/specs";
import type { Host } from "../../components/inventory/inventory";
import { captureDynamicResources, CapturedResource } from "./capturedProvider";
import { batchAccess, IronicLab, IronicNode } from "./ironicLocal";

const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** The nodes of one batch, as Ironic lists them (every node of a batch carries its marker in the description). */
export async function batchNodes(lab: IronicLab, label: string): Promise<IronicNode[]> {
    const marker = batchMarker(label);
    return (await lab.listNodes()).filter((n) => String(n.description ?? "").includes(marker));
}

/** Polls until `ready()` holds; an error (a lab in the middle of a fault) counts as not yet. Fails after `timeoutMs` naming `what`. */
export async function waitFor(what: string, ready: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError = "";
    for (;;) {
        try {
            if (await ready()) return;
        } catch (err) {
            lastError = err instanceof Error ? err.message : String(err);
        }
        if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs / 1000} s waiting for ${what}${lastError ? ` (last error: ${lastError})` : ""}`);
        await sleep(250);
    }
}

/**
 * Every host exists exactly once in Ironic, as its own node (uuid and name), in `targetState` with no
 * operation pending; the batch has no other node; every node has exactly one port, its boot MAC; no port
 * in the whole lab belongs to no listed node or is listed twice. Returns the batch's nodes.
 */
export async function assertEachHostOnce(lab: IronicLab, label: string, hosts: readonly IronicNodeSpec[], targetState: string): Promise<IronicNode[]> {
    const [all, ports] = await Promise.all([lab.listNodes(), lab.listPorts()]);
    const mine = all.filter((n) => String(n.description ?? "").includes(batchMarker(label)));
    const problems: string[] = [];
    const byName = new Map<string, IronicNode[]>();
    for (const n of all) byName.set(String(n.name), [...(byName.get(String(n.name)) ?? []), n]);
    for (const h of hosts) {
        const found = byName.get(h.name) ?? [];
        if (found.length !== 1) problems.push(`${h.name}: ${found.length} nodes`);
        else if (found[0].uuid !== h.uuid) problems.push(`${h.name}: node ${found[0].uuid}, expected ${h.uuid}`);
        else if (found[0].provision_state !== targetState || found[0].target_provision_state) {
            problems.push(`${h.name}: ${found[0].provision_state} -> ${found[0].target_provision_state} (last_error: ${found[0].last_error})`);
        }
    }
    const declared = new Set(hosts.map((h) => h.uuid));
    for (const n of mine) if (!declared.has(n.uuid)) problems.push(`undeclared node ${n.name} (${n.uuid}) in the batch`);
    const nodeUuids = new Set(all.map((n) => n.uuid));
    const portsOf = new Map<string, string[]>();
    const macs = new Map<string, number>();
    for (const p of ports) {
        if (!nodeUuids.has(p.node_uuid)) problems.push(`orphan port ${p.uuid} (${p.address}) of node ${p.node_uuid}`);
        portsOf.set(p.node_uuid, [...(portsOf.get(p.node_uuid) ?? []), p.address]);
        macs.set(p.address, (macs.get(p.address) ?? 0) + 1);
    }
    for (const [mac, count] of macs) if (count > 1) problems.push(`MAC ${mac} on ${count} ports`);
    for (const h of hosts) {
        const addresses = portsOf.get(h.uuid) ?? [];
        if (addresses.length !== 1 || addresses[0] !== h.bootMac) problems.push(`${h.name}: ports [${addresses.join(", ")}], expected [${h.bootMac}]`);
    }
    assert.deepEqual(problems.slice(0, 30), [], `${problems.length} problems in Ironic for ${label} (${mine.length} nodes, ${ports.length} ports)`);
    assert.equal(mine.length, hosts.length);
    return mine;
}

/** Nothing of the stack is left: no node, no port (the lab serves only these tests). */
export async function assertIronicEmpty(lab: IronicLab): Promise<void> {
    const [nodes, ports] = await Promise.all([lab.listNodes(), lab.listPorts()]);
    assert.deepEqual(
        { nodes: nodes.map((n) => `${n.name} ${n.provision_state}`).slice(0, 20), ports: ports.map((p) => `${p.address} ${p.node_uuid}`).slice(0, 20) },
        { nodes: [], ports: [] },
        `${nodes.length} nodes and ${ports.length} ports left`,
    );
}

/** A provider operation running in its own Node process, as `pulumi up` runs it: killable at any moment. */
export interface ChildOperation {
    /** Settles when the process ended: its exit code or the signal that ended it, and what it printed. */
    readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
    kill(signal?: NodeJS.Signals): void;
}

// The child rebuilds the provider from its serialized `__provider` (as the Pulumi host does) and calls one method.
const CHILD = `
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", async () => {
    const { provider, method, args } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    try {
        await require("require-from-string")(provider).handler()[method](...args);
        console.log("child: " + method + " finished");
    } catch (err) {
        console.log("child: " + method + " failed: " + (err && err.message));
        process.exitCode = 1;
    }
});
`;

/** Runs `provider[method](...args)` in a child process; the inputs (credentials included) go over stdin, never to a file. */
export function runInChild(serializedProvider: string, method: "create" | "update" | "delete", args: unknown[]): ChildOperation {
    const child: ChildProcess = spawn(process.execPath, ["-e", CHILD], { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (c) => (output += c));
    child.stderr!.on("data", (c) => (output += c));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve, reject) => {
        child.once("error", reject);
        child.once("exit", (code, signal) => resolve({ code, signal, output }));
    });
    child.stdin!.end(JSON.stringify({ provider: serializedProvider, method, args }));
    return { exited, kill: (signal = "SIGKILL") => void child.kill(signal) };
}

/** One IronicNodeBatch of fake-hardware hosts aimed at `lab`, as the program declares it, rebuilt from `__provider`. */
export async function declareFakeHardwareBatch(lab: IronicLab, label: string, hosts: readonly Host[], timeoutSeconds: number, stuckSeconds?: number): Promise<CapturedResource> {
    const [batch] = await captureDynamicResources(() => {
        new IronicNodeBatch(label, { label, hosts: hosts.map(fakeHardwareNodeSpec), targetState: "available", timeoutSeconds, ...batchAccess(lab), ...(stuckSeconds ? { stuckSeconds } : {}) });
    });
    return batch;
}
