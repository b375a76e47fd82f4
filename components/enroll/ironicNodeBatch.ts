// IronicNodeBatch: a batch of hosts enrolled directly in Ironic (mode `ironic`,
// no BMO), driven enroll -> manageable (inspected) -> available. Progress is
// read with ONE node list per batch per interval, never a call per host.
import * as pulumi from "@pulumi/pulumi";
import { mapBounded, sleep } from "./bounded";
import { BatchInputs, BatchOutputs, BatchStatus, HostDriver, makeBatchProvider, WaitContext } from "./batchProvider";
import { IronicClient, IronicNode } from "./ironicApi";
import { EnrollAction, nextDeleteAction, nextEnrollAction, PROVISION_TARGET } from "./ironicStates";

export interface IronicNodeSpec {
    readonly name: string;
    readonly uuid: string;
    readonly bootMac: string;
    /** Hardware type: `redfish` in the lab (sushy-tools), `fake-hardware` in tests. */
    readonly driver: string;
    /** Non-secret driver_info; secrets come from driverInfoSecrets. */
    readonly driverInfo: Record<string, string>;
    readonly properties?: Record<string, string | number>;
}

export interface IronicNodeBatchInputs extends BatchInputs<IronicNodeSpec> {
    readonly targetState: "available" | "manageable";
    readonly inspect: boolean;
    readonly endpoints: string[];
    readonly username: string;
    readonly password: string;
    readonly caPem: string;
    readonly apiVersion: string;
    /** Merged into every node's driver_info (e.g. redfish_password); kept secret. */
    readonly driverInfoSecrets: Record<string, string>;
    /** Requests in flight at once. */
    readonly concurrency: number;
    readonly pollSeconds: number;
}

/** Every node of a batch carries this in its description: the list filter, and proof of ownership. */
export function batchMarker(label: string): string {
    return `[metal3-scale-lab:${label}]`;
}

function clientFor(inputs: IronicNodeBatchInputs): IronicClient {
    return new IronicClient({ endpoints: inputs.endpoints, username: inputs.username, password: inputs.password, caPem: inputs.caPem, apiVersion: inputs.apiVersion });
}

function nodeBody(inputs: IronicNodeBatchInputs, spec: IronicNodeSpec) {
    return {
        driver: spec.driver,
        driver_info: { ...spec.driverInfo, ...inputs.driverInfoSecrets },
        properties: spec.properties ?? {},
        description: batchMarker(inputs.label),
    };
}

/** Creates a node and its boot port; a node that exists already (same name and uuid) is adopted. */
async function createOrAdopt(client: IronicClient, inputs: IronicNodeBatchInputs, spec: IronicNodeSpec): Promise<void> {
    const created = await client.request("POST", "/v1/nodes", { name: spec.name, uuid: spec.uuid, ...nodeBody(inputs, spec) }, [409]);
    if (created.status === 409) {
        const { data } = await client.request<{ uuid: string }>("GET", `/v1/nodes/${encodeURIComponent(spec.name)}?fields=uuid`, undefined, []);
        if (data.uuid !== spec.uuid) throw new Error(`${spec.name}: the name is taken by another Ironic node (${data.uuid})`);
        await reapply(client, inputs, spec);
    }
    await client.request("POST", "/v1/ports", { node_uuid: spec.uuid, address: spec.bootMac, pxe_enabled: true }, [409]);
}

async function reapply(client: IronicClient, inputs: IronicNodeBatchInputs, spec: IronicNodeSpec): Promise<void> {
    const body = nodeBody(inputs, spec);
    const patch = Object.entries(body).map(([field, value]) => ({ op: "add", path: `/${field}`, value }));
    await client.request("PATCH", `/v1/nodes/${spec.uuid}`, patch);
}

/** Asks Ironic for a provision-state change; a locked node or a state that moved meanwhile is retried by the next round. */
async function changeState(client: IronicClient, uuid: string, target: string): Promise<void> {
    await client.request("PUT", `/v1/nodes/${uuid}/states/provision`, { target }, [400, 409]);
}

async function listBatch(client: IronicClient, inputs: IronicNodeBatchInputs): Promise<Map<string, IronicNode>> {
    const nodes = await client.listNodes(batchMarker(inputs.label));
    return new Map(nodes.map((n) => [n.uuid, n]));
}

/** What the tracker hears about a node; a node past the target (adopted, deployed) counts as the target. */
function observeNode(ctx: WaitContext, inputs: IronicNodeBatchInputs, spec: IronicNodeSpec, node: IronicNode | undefined, next: { action: EnrollAction; error?: string }): void {
    if (next.action === "failed") ctx.tracker.observe(spec.name, { state: node?.provision_state ?? "absent", error: next.error });
    else if (next.action === "done") ctx.tracker.observe(spec.name, { state: inputs.targetState });
    else ctx.tracker.observe(spec.name, { state: node ? node.provision_state : "absent" });
}

async function runRounds(inputs: IronicNodeBatchInputs, ctx: WaitContext, round: () => Promise<boolean>): Promise<void> {
    while (true) {
        const finished = await round();
        ctx.tracker.report();
        if (finished || ctx.deadline.passed()) return;
        await sleep(Math.min(Number(inputs.pollSeconds) * 1000, ctx.deadline.remaining()));
    }
}

const driver: HostDriver<IronicNodeSpec, IronicNodeBatchInputs> = {
    connectionKeys: ["endpoints", "username", "password", "caPem", "apiVersion", "concurrency", "pollSeconds", "timeoutSeconds"],

    check(inputs) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (!Array.isArray(inputs.endpoints) || inputs.endpoints.length === 0 || inputs.endpoints.some((e) => !/^https?:\/\//.test(e))) {
            failures.push({ property: "endpoints", reason: "endpoints must be a non-empty list of http(s) URLs of Ironic APIs" });
        }
        if (!["available", "manageable"].includes(inputs.targetState)) failures.push({ property: "targetState", reason: `targetState must be available or manageable, got ${inputs.targetState}` });
        if (!/^1\.\d+$/.test(String(inputs.apiVersion))) failures.push({ property: "apiVersion", reason: `apiVersion must look like 1.81, got ${inputs.apiVersion}` });
        if (!(Number(inputs.concurrency) >= 1)) failures.push({ property: "concurrency", reason: "concurrency must be at least 1" });
        if (!(Number(inputs.pollSeconds) > 0)) failures.push({ property: "pollSeconds", reason: "pollSeconds must be positive" });
        for (const [i, h] of inputs.hosts.entries()) {
            if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(h.uuid)) failures.push({ property: "hosts", reason: `hosts[${i}] (${h.name}): uuid ${h.uuid} is not a UUID` });
            if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(h.bootMac)) failures.push({ property: "hosts", reason: `hosts[${i}] (${h.name}): bootMac ${h.bootMac} is not a MAC address` });
            if (!h.driver) failures.push({ property: "hosts", reason: `hosts[${i}] (${h.name}): driver is not set` });
        }
        return failures;
    },

    async apply(inputs, hosts) {
        const client = clientFor(inputs);
        try {
            const existing = await listBatch(client, inputs);
            await mapBounded(hosts, inputs.concurrency, (spec) => (existing.has(spec.uuid) ? reapply(client, inputs, spec) : createOrAdopt(client, inputs, spec)));
        } finally {
            client.close();
        }
    },

    async waitForHosts(inputs, ctx) {
        const client = clientFor(inputs);
        const retried = new Set<string>();
        const goal = { target: inputs.targetState, inspect: inputs.inspect !== false, retried };
        try {
            await runRounds(inputs, ctx, async () => {
                const nodes = await listBatch(client, inputs);
                const work: { spec: IronicNodeSpec; action: EnrollAction }[] = [];
                for (const spec of inputs.hosts) {
                    const node = nodes.get(spec.uuid);
                    const next = nextEnrollAction(node, goal);
                    observeNode(ctx, inputs, spec, node, next);
                    if (next.action === "done" || next.action === "failed" || next.action === "wait") continue;
                    if (node && node.provision_state.endsWith("failed")) retried.add(node.uuid);
                    if (node && node.provision_state === "enroll" && node.last_error) retried.add(node.uuid);
                    work.push({ spec, action: next.action });
                }
                await mapBounded(work, inputs.concurrency, ({ spec, action }) =>
                    action === "create" ? createOrAdopt(client, inputs, spec) : changeState(client, spec.uuid, PROVISION_TARGET[action]!),
                );
                return ctx.tracker.settled();
            });
        } finally {
            client.close();
        }
    },

    async observe(inputs, ctx) {
        const client = clientFor(inputs);
        try {
            const nodes = await listBatch(client, inputs);
            // Every failure state is final here: a refresh only looks.
            const goal = { target: inputs.targetState, inspect: inputs.inspect !== false, retried: new Set(inputs.hosts.map((h) => h.uuid)) };
            for (const spec of inputs.hosts) {
                const node = nodes.get(spec.uuid);
                observeNode(ctx, inputs, spec, node, nextEnrollAction(node, goal));
            }
        } finally {
            client.close();
        }
    },

    async remove(inputs, hosts, ctx) {
        const client = clientFor(inputs);
        try {
            await runRounds(inputs, ctx, async () => {
                const nodes = await listBatch(client, inputs);
                const work: { uuid: string; action: string }[] = [];
                for (const spec of hosts) {
                    const node = nodes.get(spec.uuid);
                    const next = nextDeleteAction(node);
                    ctx.tracker.observe(spec.name, { state: next.action === "gone" ? "deleted" : node!.provision_state });
                    if (next.action !== "gone" && next.action !== "wait") work.push({ uuid: spec.uuid, action: next.action });
                }
                await mapBounded(work, inputs.concurrency, async ({ uuid, action }) => {
                    if (action === "delete") await client.request("DELETE", `/v1/nodes/${uuid}`, undefined, [404, 409, 400]);
                    else if (action === "maintenance") await client.request("PUT", `/v1/nodes/${uuid}/maintenance`, { reason: "metal3-scale-lab: deleting a failed node" }, [409]);
                    else await changeState(client, uuid, PROVISION_TARGET[action as "undeploy" | "abort"]!);
                });
                return ctx.tracker.settled();
            });
        } finally {
            client.close();
        }
    },
};

export const ironicNodeBatchProvider = makeBatchProvider(driver);

export interface IronicNodeBatchArgs {
    readonly label: pulumi.Input<string>;
    readonly hosts: pulumi.Input<IronicNodeSpec[]>;
    readonly targetState: pulumi.Input<"available" | "manageable">;
    readonly inspect?: pulumi.Input<boolean>;
    readonly timeoutSeconds: pulumi.Input<number>;
    readonly endpoints: pulumi.Input<pulumi.Input<string>[]>;
    readonly username: pulumi.Input<string>;
    readonly password: pulumi.Input<string>;
    readonly caPem?: pulumi.Input<string>;
    readonly apiVersion: pulumi.Input<string>;
    readonly driverInfoSecrets?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    readonly concurrency?: pulumi.Input<number>;
    readonly pollSeconds?: pulumi.Input<number>;
}

export class IronicNodeBatch extends pulumi.dynamic.Resource {
    public readonly status!: pulumi.Output<BatchStatus>;
    public readonly hosts!: pulumi.Output<IronicNodeSpec[]>;

    constructor(name: string, args: IronicNodeBatchArgs, opts?: pulumi.CustomResourceOptions) {
        const props = {
            inspect: true,
            caPem: "",
            concurrency: 20,
            pollSeconds: 2,
            ...args,
            password: pulumi.secret(args.password),
            driverInfoSecrets: pulumi.secret(args.driverInfoSecrets ?? {}),
            status: undefined,
        };
        super(ironicNodeBatchProvider, name, props, { ...opts, additionalSecretOutputs: ["password", "driverInfoSecrets"] }, "enroll", "IronicNodeBatch");
    }
}

export type IronicNodeBatchOutputs = BatchOutputs<IronicNodeBatchInputs>;
