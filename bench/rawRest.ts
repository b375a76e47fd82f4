// The raw-REST bound for enrollment: the calls IronicNodeBatch makes per host
// (create, port, manage, inspect, provide) and nothing else, each host on its
// own as fast as it goes, at most `concurrency` requests in flight, one shared
// node list answering every host that waits for Ironic. No tracker, no record,
// no failure handling beyond stopping: what Ironic allows, not what a provider
// owes its user.
import { IronicClient, IronicConnection, IronicNode } from "../components/enroll/ironicApi";
import { batchMarker, IronicNodeSpec, nodeBody } from "../components/enroll/ironicNodeBatch";
import { limiter, sleep } from "../components/enroll/bounded";

export interface RawRestRun {
    readonly ms: number;
    readonly requests: number;
}

/** The states each host passes through after its request, in order. */
const STEPS: readonly { readonly target: string; readonly reached: (n: IronicNode) => boolean }[] = [
    { target: "manage", reached: (n) => n.provision_state === "manageable" && !n.target_provision_state },
    { target: "inspect", reached: (n) => n.provision_state === "manageable" && !n.target_provision_state && n.inspection_finished_at !== null },
    { target: "provide", reached: (n) => n.provision_state === "available" && !n.target_provision_state },
];

/** One list of `label`'s nodes every `pollMs` while anyone waits; `until` resolves when a node is as wanted. */
function poller(client: IronicClient, label: string, pollMs: number) {
    const waiting = new Map<string, { reached: (n: IronicNode) => boolean; resolve: () => void; reject: (e: Error) => void }>();
    let running = false;
    const loop = async () => {
        running = true;
        try {
            while (waiting.size > 0) {
                const nodes = await client.listNodes(batchMarker(label));
                for (const n of nodes) {
                    const w = waiting.get(n.uuid);
                    if (!w) continue;
                    if (w.reached(n)) {
                        waiting.delete(n.uuid);
                        w.resolve();
                    } else if (/failed|error/.test(n.provision_state)) {
                        waiting.delete(n.uuid);
                        w.reject(new Error(`node ${n.uuid} went to ${n.provision_state}: ${n.last_error}`));
                    }
                }
                if (waiting.size > 0) await sleep(pollMs);
            }
        } catch (err) {
            for (const w of waiting.values()) w.reject(err as Error);
            waiting.clear();
        } finally {
            running = false;
        }
    };
    return (uuid: string, reached: (n: IronicNode) => boolean) =>
        new Promise<void>((resolve, reject) => {
            waiting.set(uuid, { reached, resolve, reject });
            if (!running) void loop();
        });
}

/** Enrolls `hosts` (all of them one label) to available; rejects on the first host that fails. */
export async function rawEnroll(conn: IronicConnection, label: string, hosts: readonly IronicNodeSpec[], concurrency: number, pollMs: number): Promise<RawRestRun> {
    let requests = 0;
    const client = new IronicClient({ ...conn, onRequest: () => void requests++ });
    const slot = limiter(concurrency);
    const until = poller(client, label, pollMs);
    const start = performance.now();
    try {
        await Promise.all(
            hosts.map(async (spec) => {
                await slot(() => client.request("POST", "/v1/nodes", { name: spec.name, uuid: spec.uuid, ...nodeBody(spec, label, {}) }));
                await slot(() => client.request("POST", "/v1/ports", { node_uuid: spec.uuid, address: spec.bootMac, pxe_enabled: true }));
                for (const step of STEPS) {
                    await slot(() => client.request("PUT", `/v1/nodes/${spec.uuid}/states/provision`, { target: step.target }));
                    await until(spec.uuid, step.reached);
                }
            }),
        );
        return { ms: performance.now() - start, requests };
    } finally {
        client.close();
    }
}
