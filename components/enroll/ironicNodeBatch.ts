// IronicNodeBatch: a batch of hosts enrolled directly in Ironic (mode `ironic`,
// no BMO), driven enroll -> manageable (inspected) -> available. Progress is
// read with ONE node list per batch per interval, never a call per host; a
// recorded run also looks up nodes' conductors, with one list now and then.
import * as pulumi from "@pulumi/pulumi";
import { backoffMs, mapBounded, sleep } from "./bounded";
import { BatchInputs, BatchOutputs, BatchStatus, HostDriver, makeBatchProvider, WaitContext } from "./batchProvider";
import { IronicClient, IronicNode, isIronicApiError } from "./ironicApi";
import { DeleteAction, EnrollAction, MAX_RETRIES, nextDeleteAction, nextEnrollAction, PROVISION_TARGET } from "./ironicStates";

export interface IronicNodeSpec {
    readonly name: string;
    readonly uuid: string;
    readonly bootMac: string;
    /** Hardware type: `redfish` in the lab (sushy-tools), `fake-hardware` in tests. */
    readonly driver: string;
    /** Hardware interfaces pinned on the node, by Ironic field name (e.g. inspect_interface: "agent"); others are the conductor's defaults. */
    readonly interfaces?: Record<string, string>;
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

function clientFor(inputs: IronicNodeBatchInputs, ctx: WaitContext): IronicClient {
    return new IronicClient({
        endpoints: inputs.endpoints,
        username: inputs.username,
        password: inputs.password,
        caPem: inputs.caPem,
        apiVersion: inputs.apiVersion,
        onRequest: (r) => ctx.tracker.request(r),
    });
}

function nodeBody(inputs: IronicNodeBatchInputs, spec: IronicNodeSpec) {
    return {
        driver: spec.driver,
        ...(spec.interfaces ?? {}),
        driver_info: { ...spec.driverInfo, ...inputs.driverInfoSecrets },
        properties: spec.properties ?? {},
        description: batchMarker(inputs.label),
    };
}

/** A host Ironic cannot take as declared (not an Ironic answer): failed like a refusal. A plain Error: subclasses do not survive `__provider`. */
function hostRefusal(message: string): Error {
    return Object.assign(new Error(message), { name: "HostRefusal" });
}

/** Creates a node and its boot port; a node that exists already (same name and uuid) is adopted. */
async function createOrAdopt(client: IronicClient, inputs: IronicNodeBatchInputs, spec: IronicNodeSpec): Promise<void> {
    const created = await client.request("POST", "/v1/nodes", { name: spec.name, uuid: spec.uuid, ...nodeBody(inputs, spec) }, [409]);
    if (created.status === 409) {
        const existing = await client.getNode(spec.uuid);
        if (existing?.name !== spec.name) {
            throw hostRefusal(existing ? `Ironic node ${spec.uuid} exists under the name ${existing.name}` : `the name ${spec.name} is taken by another Ironic node`);
        }
        await reapply(client, inputs, spec);
    }
    await client.request("POST", "/v1/ports", { node_uuid: spec.uuid, address: spec.bootMac, pxe_enabled: true }, [409]);
}

async function reapply(client: IronicClient, inputs: IronicNodeBatchInputs, spec: IronicNodeSpec): Promise<void> {
    const body = nodeBody(inputs, spec);
    const patch = Object.entries(body).map(([field, value]) => ({ op: "add", path: `/${field}`, value }));
    await client.request("PATCH", `/v1/nodes/${spec.uuid}`, patch);
}

async function listBatch(client: IronicClient, inputs: IronicNodeBatchInputs): Promise<Map<string, IronicNode>> {
    const nodes = await client.listNodes(batchMarker(inputs.label));
    return new Map(nodes.map((n) => [n.uuid, n]));
}

/**
 * What came of one request about one host. Ironic answers 409 while another request holds
 * the node (NodeLocked): that passes, so the host backs off. A 400 (or another 4xx) is a
 * refusal of the request itself ("Driver redfish does not support inspect"): asking again
 * changes nothing, so the host fails with Ironic's message.
 */
type Outcome = { readonly kind: "sent" | "conflict" | "moved" } | { readonly kind: "refused"; readonly error: string };

/** Sends one request and sorts Ironic's refusals; `unchanged` tells a refusal of the node as listed from a node that moved meanwhile. */
async function attempt(what: string, send: () => Promise<unknown>, unchanged?: () => Promise<boolean>): Promise<Outcome> {
    try {
        await send();
        return { kind: "sent" };
    } catch (err) {
        if (err instanceof Error && err.name === "HostRefusal") return { kind: "refused", error: err.message };
        // 5xx and connection errors were retried by the client already: they stop the batch.
        if (!isIronicApiError(err) || err.status >= 500) throw err;
        if (err.status === 409) return { kind: "conflict" };
        if (err.status === 404) return { kind: "moved" };
        // Ironic also answers 400 when the node's state changed since our list (InvalidStateRequested).
        if (unchanged && !(await unchanged())) return { kind: "moved" };
        return { kind: "refused", error: `Ironic refused ${what}: ${err.fault}` };
    }
}

/** One state-changing request for a node as listed. */
function act(client: IronicClient, node: IronicNode, action: EnrollAction | DeleteAction): Promise<Outcome> {
    const path = `/v1/nodes/${node.uuid}`;
    const unchanged = async () => {
        const now = await client.getNode(node.uuid);
        return now !== undefined && now.provision_state === node.provision_state && now.target_provision_state === node.target_provision_state && now.maintenance === node.maintenance;
    };
    switch (action) {
        case "delete":
            return attempt("to delete the node", () => client.request("DELETE", path), unchanged);
        case "maintenance":
            return attempt("maintenance", () => client.request("PUT", `${path}/maintenance`, { reason: "metal3-scale-lab: deleting a failed node" }), unchanged);
        case "unmaintain":
            return attempt("to end maintenance", () => client.request("DELETE", `${path}/maintenance`), unchanged);
        default: {
            const target = PROVISION_TARGET[action];
            if (!target) throw new Error(`no Ironic request for action ${action}`);
            return attempt(`"${target}"`, () => client.request("PUT", `${path}/states/provision`, { target }), unchanged);
        }
    }
}

/** Per-host backoff after a conflict, for one wait (records, not Maps: see tracker.ts). */
interface Pacing {
    readonly conflicts: Record<string, number>;
    readonly notBefore: Record<string, number>;
}
const CONFLICT_BACKOFF_MS = { base: 1_000, cap: 30_000 };

function newPacing(): Pacing {
    return { conflicts: {}, notBefore: {} };
}

function due(pacing: Pacing, uuid: string): boolean {
    return (pacing.notBefore[uuid] ?? 0) <= Date.now();
}

/** A host failed for this run: recorded with its message and printed at once; later rounds leave it alone. */
function fail(ctx: WaitContext, host: string, state: string, error: string, conductor?: string): void {
    ctx.tracker.observe(host, { state, error, conductor });
    ctx.tracker.note(host, `failed in ${state}: ${error}`);
}

/** Which conductor holds each node (uuid -> hostname), as last looked up (a record, not a Map: see tracker.ts). */
interface Conductors {
    readonly of: Record<string, string | null>;
    at: number;
}
/** A conductor joining or leaving moves nodes: a recorded run looks again at most this often while nodes move. */
const CONDUCTOR_REFRESH_MS = 30_000;

function newConductors(): Conductors {
    return { of: {}, at: Number.NEGATIVE_INFINITY };
}

/**
 * For the run record only (nothing when the run is not recorded): before nodes' state changes are
 * observed, ONE detail list when one of them has no known conductor or the last look is stale.
 */
async function lookUpConductors(client: IronicClient, inputs: IronicNodeBatchInputs, ctx: WaitContext, moving: readonly string[], known: Conductors): Promise<void> {
    if (!ctx.tracker.recording() || moving.length === 0) return;
    if (Date.now() - known.at < CONDUCTOR_REFRESH_MS && moving.every((uuid) => uuid in known.of)) return;
    Object.assign(known.of, await client.conductors(batchMarker(inputs.label)));
    known.at = Date.now();
}

function conductorOf(known: Conductors, node: IronicNode | undefined): string | undefined {
    return (node && known.of[node.uuid]) || undefined;
}

function failed(ctx: WaitContext, host: string): boolean {
    return ctx.tracker.stateOf(host)?.error !== undefined;
}

function settle(ctx: WaitContext, pacing: Pacing, spec: IronicNodeSpec, node: IronicNode | undefined, outcome: Outcome): void {
    if (outcome.kind === "refused") fail(ctx, spec.name, node?.provision_state ?? "absent", outcome.error);
    if (outcome.kind === "conflict") {
        const n = (pacing.conflicts[spec.uuid] = (pacing.conflicts[spec.uuid] ?? 0) + 1);
        pacing.notBefore[spec.uuid] = Date.now() + backoffMs(n, CONFLICT_BACKOFF_MS.base, CONFLICT_BACKOFF_MS.cap);
    }
}

async function runRounds(inputs: IronicNodeBatchInputs, ctx: WaitContext, round: () => Promise<boolean>): Promise<void> {
    while (true) {
        const finished = await round();
        ctx.tracker.report();
        if (finished || ctx.deadline.passed()) return;
        await sleep(Math.min(Number(inputs.pollSeconds) * 1000, ctx.deadline.remaining()));
    }
}

const INTERFACE_FIELD = /^[a-z]+_interface$/;

const driver: HostDriver<IronicNodeSpec, IronicNodeBatchInputs> = {
    connectionKeys: ["endpoints", "username", "password", "caPem", "apiVersion", "concurrency", "pollSeconds", "timeoutSeconds"],

    secrets: (inputs) => [inputs.password, ...Object.values(inputs.driverInfoSecrets ?? {})],

    check(inputs) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (!Array.isArray(inputs.endpoints) || inputs.endpoints.length === 0 || inputs.endpoints.some((e) => !/^https?:\/\//.test(e))) {
            failures.push({ property: "endpoints", reason: "endpoints must be a non-empty list of http(s) URLs of Ironic APIs" });
        }
        if (!["available", "manageable"].includes(inputs.targetState)) failures.push({ property: "targetState", reason: `targetState must be available or manageable, got ${inputs.targetState}` });
        if (typeof inputs.inspect !== "boolean") failures.push({ property: "inspect", reason: `inspect must be true or false, got ${inputs.inspect}` });
        if (!/^1\.\d+$/.test(String(inputs.apiVersion))) failures.push({ property: "apiVersion", reason: `apiVersion must look like 1.81, got ${inputs.apiVersion}` });
        if (!(Number(inputs.concurrency) >= 1)) failures.push({ property: "concurrency", reason: "concurrency must be at least 1" });
        if (!(Number(inputs.pollSeconds) > 0)) failures.push({ property: "pollSeconds", reason: "pollSeconds must be positive" });
        for (const [i, h] of inputs.hosts.entries()) {
            if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(h.uuid)) failures.push({ property: "hosts", reason: `hosts[${i}] (${h.name}): uuid ${h.uuid} is not a UUID` });
            if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(h.bootMac)) failures.push({ property: "hosts", reason: `hosts[${i}] (${h.name}): bootMac ${h.bootMac} is not a MAC address` });
            if (!h.driver) failures.push({ property: "hosts", reason: `hosts[${i}] (${h.name}): driver is not set` });
            for (const [field, value] of Object.entries(h.interfaces ?? {})) {
                if (!INTERFACE_FIELD.test(field) || typeof value !== "string" || value === "") {
                    failures.push({ property: "hosts", reason: `hosts[${i}] (${h.name}): interfaces.${field} must be an Ironic *_interface field with a name, got ${JSON.stringify(value)}` });
                }
            }
        }
        return failures;
    },

    async apply(inputs, hosts, ctx) {
        const client = clientFor(inputs, ctx);
        try {
            const existing = await listBatch(client, inputs);
            await mapBounded(hosts, inputs.concurrency, async (spec) => {
                const node = existing.get(spec.uuid);
                for (let conflicts = 1; ; conflicts++) {
                    const outcome = node
                        ? await attempt("the node's update", () => reapply(client, inputs, spec))
                        : await attempt("the new node", () => createOrAdopt(client, inputs, spec));
                    if (outcome.kind !== "conflict" || ctx.deadline.passed()) return settle(ctx, newPacing(), spec, node, outcome);
                    // Locked by another request: try again soon, never in a tight loop.
                    await sleep(Math.min(backoffMs(conflicts, CONFLICT_BACKOFF_MS.base, CONFLICT_BACKOFF_MS.cap), ctx.deadline.remaining()));
                }
            });
        } finally {
            client.close();
        }
    },

    async waitForHosts(inputs, ctx) {
        const client = clientFor(inputs, ctx);
        const retries: Record<string, number> = {};
        const pacing = newPacing();
        const known = newConductors();
        const goal = { target: inputs.targetState, inspect: inputs.inspect !== false, retries };
        try {
            await runRounds(inputs, ctx, async () => {
                const nodes = await listBatch(client, inputs);
                // final for this run (failed); the next `pulumi up` tries again
                const decided = inputs.hosts
                    .filter((spec) => !failed(ctx, spec.name))
                    .map((spec) => {
                        const node = nodes.get(spec.uuid);
                        const next = nextEnrollAction(node, goal);
                        // A node past the target (adopted, deployed) counts as the target.
                        return { spec, node, next, state: next.action === "done" ? inputs.targetState : (node?.provision_state ?? "absent") };
                    });
                const moving = decided.filter((d) => d.node && ctx.tracker.stateOf(d.spec.name)?.state !== d.state).map((d) => d.node!.uuid);
                await lookUpConductors(client, inputs, ctx, moving, known);
                const work: { spec: IronicNodeSpec; node?: IronicNode; action: EnrollAction }[] = [];
                for (const { spec, node, next, state } of decided) {
                    const conductor = conductorOf(known, node);
                    if (next.action === "failed") {
                        fail(ctx, spec.name, state, next.error ?? "failed", conductor);
                        continue;
                    }
                    ctx.tracker.observe(spec.name, { state, conductor });
                    if (next.action === "done" || next.action === "wait" || !due(pacing, spec.uuid)) continue;
                    if (node && next.retrying !== undefined) {
                        retries[node.uuid] = (retries[node.uuid] ?? 0) + 1;
                        ctx.tracker.note(spec.name, `${node.provision_state}: ${next.retrying} (retry ${retries[node.uuid]} of ${MAX_RETRIES})`);
                    }
                    work.push({ spec, node, action: next.action });
                }
                await mapBounded(work, inputs.concurrency, async ({ spec, node, action }) => {
                    const outcome = node ? await act(client, node, action) : await attempt("the new node", () => createOrAdopt(client, inputs, spec));
                    settle(ctx, pacing, spec, node, outcome);
                });
                return ctx.tracker.settled();
            });
        } finally {
            client.close();
        }
    },

    async observe(inputs, ctx) {
        const client = clientFor(inputs, ctx);
        try {
            const nodes = await listBatch(client, inputs);
            // Every failure state is final here: a refresh only looks.
            const retries = Object.fromEntries(inputs.hosts.map((h) => [h.uuid, MAX_RETRIES]));
            const goal = { target: inputs.targetState, inspect: inputs.inspect !== false, retries };
            for (const spec of inputs.hosts) {
                const node = nodes.get(spec.uuid);
                const next = nextEnrollAction(node, goal);
                const state = node?.provision_state ?? "absent";
                if (next.action === "failed") ctx.tracker.observe(spec.name, { state, error: next.error });
                else ctx.tracker.observe(spec.name, { state: next.action === "done" ? inputs.targetState : state });
            }
        } finally {
            client.close();
        }
    },

    async remove(inputs, hosts, ctx) {
        const client = clientFor(inputs, ctx);
        const pacing = newPacing();
        const known = newConductors();
        try {
            await runRounds(inputs, ctx, async () => {
                const nodes = await listBatch(client, inputs);
                const live = hosts.filter((spec) => !failed(ctx, spec.name));
                const moving = live.filter((spec) => nodes.has(spec.uuid) && ctx.tracker.stateOf(spec.name)?.state !== nodes.get(spec.uuid)!.provision_state).map((spec) => spec.uuid);
                await lookUpConductors(client, inputs, ctx, moving, known);
                const work: { spec: IronicNodeSpec; node: IronicNode; action: DeleteAction }[] = [];
                for (const spec of live) {
                    const node = nodes.get(spec.uuid);
                    const { action } = nextDeleteAction(node);
                    ctx.tracker.observe(spec.name, { state: node ? node.provision_state : "deleted", conductor: conductorOf(known, node) });
                    if (node && action !== "gone" && action !== "wait" && due(pacing, spec.uuid)) work.push({ spec, node, action });
                }
                await mapBounded(work, inputs.concurrency, async ({ spec, node, action }) => settle(ctx, pacing, spec, node, await act(client, node, action)));
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
    /** Run dir of this `pulumi up` (components/record/run.ts); "" records nothing. */
    readonly runDir?: pulumi.Input<string>;
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
            runDir: args.runDir ?? "",
            password: pulumi.secret(args.password),
            driverInfoSecrets: pulumi.secret(args.driverInfoSecrets ?? {}),
            status: undefined,
        };
        super(ironicNodeBatchProvider, name, props, { ...opts, additionalSecretOutputs: ["password", "driverInfoSecrets"] }, "enroll", "IronicNodeBatch");
    }
}

export type IronicNodeBatchOutputs = BatchOutputs<IronicNodeBatchInputs>;
