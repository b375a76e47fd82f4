// IronicNodeBatch: a batch of hosts enrolled directly in Ironic (mode `ironic`,
// no BMO), driven enroll -> manageable (inspected) -> available. Each host runs
// its own pipeline: it moves on as soon as Ironic reports its transition, never
// held back by the batch's slowest host. Progress is read with ONE node list per
// poll, never a call per host, shared by every batch in flight on the same Ironic
// (nodePoller.ts), and the poll backs off while nothing changes; a recorded run
// also looks up nodes' conductors, one list now and then.
import * as pulumi from "@pulumi/pulumi";
import { backoffMs, mapBounded, sleep } from "./bounded";
import { BatchInputs, BatchOutputs, BatchStatus, HostDriver, makeBatchProvider, WaitContext } from "./batchProvider";
import { IronicClient, IronicConnection, IronicNode, isIronicApiError } from "./ironicApi";
import { DeleteAction, EnrollAction, MAX_RETRIES, nextDeleteAction, nextEnrollAction, PROVISION_TARGET } from "./ironicStates";
import { ironicSlot } from "./ironicSlots";
import { joinNodePoller, Listed, PollNeed, Subscription } from "./nodePoller";
import { DeclaredNodes, expandHosts, IronicNodeDefaults, IronicNodeEntry, withHostsInFull } from "./nodeDefaults";
import { newStuckWatch, STUCK_DEFAULT_SECONDS, stuckFailure, StuckWatch } from "./stuckNodes";

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

/** The inputs as the driver sees them: every host in full (declared, they are entries over `nodeDefaults`: nodeDefaults.ts). */
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
    /** Requests in flight at once to this Ironic, shared by every batch in flight on it (ironicSlots.ts). */
    readonly concurrency: number;
    /** The longest wait between two looks at the batch (the poll backs off to it while nothing changes). */
    readonly pollSeconds: number;
    /** A host whose node stays held this long with no progress (a lost lock, a dead conductor's task) fails, saying what holds it (stuckNodes.ts). */
    readonly stuckSeconds?: number;
}

/** Every node of a batch carries this in its description: the list filter, and proof of ownership. */
export function batchMarker(label: string): string {
    return `[metal3-scale-lab:${label}]`;
}

function connectionOf(inputs: IronicNodeBatchInputs): IronicConnection {
    return { endpoints: inputs.endpoints, username: inputs.username, password: inputs.password, caPem: inputs.caPem, apiVersion: inputs.apiVersion };
}

function clientFor(inputs: IronicNodeBatchInputs, ctx: WaitContext): IronicClient {
    return new IronicClient({ ...connectionOf(inputs), onRequest: (r) => ctx.tracker.request(r) });
}

/** The fields a batch sets on a host's node (its name and uuid aside). */
export function nodeBody(spec: IronicNodeSpec, label: string, driverInfoSecrets: Record<string, string>) {
    return {
        driver: spec.driver,
        ...(spec.interfaces ?? {}),
        driver_info: { ...spec.driverInfo, ...driverInfoSecrets },
        properties: spec.properties ?? {},
        description: batchMarker(label),
    };
}

/** A host Ironic cannot take as declared (not an Ironic answer): failed like a refusal. A plain Error: subclasses do not survive `__provider`. */
function hostRefusal(message: string): Error {
    return Object.assign(new Error(message), { name: "HostRefusal" });
}

/** Creates a node and its boot port; a node that exists already (same name and uuid) is adopted. Returns the node as Ironic answered. */
async function createOrAdopt(client: IronicClient, inputs: IronicNodeBatchInputs, spec: IronicNodeSpec): Promise<IronicNode> {
    const created = await client.request<IronicNode>("POST", "/v1/nodes", { name: spec.name, uuid: spec.uuid, ...nodeBody(spec, inputs.label, inputs.driverInfoSecrets) }, [409]);
    let node = created.data;
    if (created.status === 409) {
        const existing = await client.getNode(spec.uuid);
        if (existing?.name !== spec.name) {
            throw hostRefusal(existing ? `Ironic node ${spec.uuid} exists under the name ${existing.name}` : `the name ${spec.name} is taken by another Ironic node`);
        }
        node = await reapply(client, inputs, spec);
    }
    await ensurePort(client, spec);
    return node;
}

/** The node's boot port; a port with that MAC answers 409 and is kept (a run stopped between a node and its port left none). */
async function ensurePort(client: IronicClient, spec: IronicNodeSpec): Promise<void> {
    await client.request("POST", "/v1/ports", { node_uuid: spec.uuid, address: spec.bootMac, pxe_enabled: true }, [409]);
}

async function reapply(client: IronicClient, inputs: IronicNodeBatchInputs, spec: IronicNodeSpec): Promise<IronicNode> {
    const body = nodeBody(spec, inputs.label, inputs.driverInfoSecrets);
    const patch = Object.entries(body).map(([field, value]) => ({ op: "add", path: `/${field}`, value }));
    return (await client.request<IronicNode>("PATCH", `/v1/nodes/${spec.uuid}`, patch)).data;
}

async function listBatch(client: IronicClient, inputs: IronicNodeBatchInputs): Promise<Map<string, IronicNode>> {
    const nodes = await client.listNodes(batchMarker(inputs.label));
    return new Map(nodes.map((n) => [n.uuid, n]));
}

/**
 * What came of one request about one host. Ironic answers 409 while another request holds
 * the node (NodeLocked), and 500 while the conductor that holds it is unreachable (dead, until
 * its heartbeat times out and the live ones take its nodes over): both pass, so the host backs
 * off. An unreachable conductor fails the host when it lasts (SETBACK_LIMIT); a lock when it does
 * not move (stuckSeconds, stuckNodes.ts), however often the host met it. A 400 (or another 4xx) is a refusal of the
 * request itself ("Driver redfish does not support inspect"): asking again changes nothing, so
 * the host fails with Ironic's message.
 */
type Outcome =
    /** `node`: Ironic's answer carried the node (created, adopted), so the host can move on at once. */
    | { readonly kind: "sent"; readonly node?: IronicNode }
    | { readonly kind: "moved" }
    | { readonly kind: "conflict" | "unavailable"; readonly error: string }
    | { readonly kind: "refused"; readonly error: string };

/** Sends one request and sorts Ironic's refusals; `unchanged` tells a refusal of the node as listed from a node that moved meanwhile. */
async function attempt(what: string, send: () => Promise<unknown>, unchanged?: () => Promise<boolean>): Promise<Outcome> {
    try {
        const answer = await send();
        return { kind: "sent", node: isNode(answer) ? answer : undefined };
    } catch (err) {
        if (err instanceof Error && err.name === "HostRefusal") return { kind: "refused", error: err.message };
        // Connection errors were retried over every endpoint by the client already: they stop the batch.
        if (!isIronicApiError(err)) throw err;
        if (err.status >= 500) return { kind: "unavailable", error: `Ironic answered ${err.status}: ${err.fault}` };
        if (err.status === 409) return { kind: "conflict", error: err.fault };
        if (err.status === 404) return { kind: "moved" };
        // Ironic also answers 400 when the node's state changed since our list (InvalidStateRequested).
        if (unchanged && !(await unchanged())) return { kind: "moved" };
        return { kind: "refused", error: `Ironic refused ${what}: ${err.fault}` };
    }
}

function isNode(x: unknown): x is IronicNode {
    return typeof x === "object" && x !== null && typeof (x as IronicNode).uuid === "string" && typeof (x as IronicNode).provision_state === "string";
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
/**
 * Setbacks in a row (409 or 5xx) after which a host whose conductor stays unreachable (5xx) fails for
 * this run, naming Ironic's last answer: with the backoff above, about 2.5 min: past a dead
 * conductor's takeover with Ironic's default heartbeat_timeout (60 s). Locks are judged by whether
 * they move instead (stuckNodes.ts): a conductor at work may hold a node longer.
 */
export const SETBACK_LIMIT = 10;

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
export interface Conductors {
    readonly of: Record<string, string | null>;
    at: number;
    /** A node's conductor was unreachable since the last look: look again before the next moves are recorded. */
    stale: boolean;
}
/**
 * A conductor joining or leaving moves nodes: a recorded run looks again at most this often while
 * nodes move, and at once after a node's conductor was unreachable (a takeover is under way). Each
 * look is a detail list of the whole batch, so it stays rare: Ironic's create answers name the
 * conductor already.
 */
const CONDUCTOR_REFRESH_MS = 300_000;

/** Whether the nodes `moving` need a look at their conductors: one unknown, a takeover under way, or the last look too old. */
export function conductorsToLook(known: Conductors, moving: readonly string[], now: number): boolean {
    if (moving.length === 0) return false;
    return known.stale || now - known.at >= CONDUCTOR_REFRESH_MS || !moving.every((uuid) => uuid in known.of);
}

export function newConductors(): Conductors {
    return { of: {}, at: Number.NEGATIVE_INFINITY, stale: false };
}

/**
 * For the run record only (nothing when the run is not recorded): before nodes' state changes are
 * observed, ONE detail list when one of them has no known conductor or the last look is stale.
 */
async function lookUpConductors(client: IronicClient, inputs: IronicNodeBatchInputs, ctx: WaitContext, moving: readonly string[], known: Conductors): Promise<void> {
    if (!ctx.tracker.recording() || !conductorsToLook(known, moving, Date.now())) return;
    Object.assign(known.of, await client.conductors(batchMarker(inputs.label)));
    known.at = Date.now();
    known.stale = false;
}

function conductorOf(known: Conductors, node: IronicNode | undefined): string | undefined {
    return (node && known.of[node.uuid]) || undefined;
}

function failed(ctx: WaitContext, host: string): boolean {
    return ctx.tracker.stateOf(host)?.error !== undefined;
}

function settle(ctx: WaitContext, pacing: Pacing, spec: IronicNodeSpec, node: IronicNode | undefined, outcome: Outcome): void {
    if (outcome.kind === "refused") fail(ctx, spec.name, node?.provision_state ?? "absent", outcome.error);
    if (outcome.kind === "sent") delete pacing.conflicts[spec.uuid];
    if (outcome.kind === "conflict" || outcome.kind === "unavailable") {
        const n = (pacing.conflicts[spec.uuid] = (pacing.conflicts[spec.uuid] ?? 0) + 1);
        if (outcome.kind === "unavailable" && n >= SETBACK_LIMIT) {
            fail(ctx, spec.name, node?.provision_state ?? "absent", `the node kept failing through ${n} attempts: ${outcome.error}`);
            return;
        }
        pacing.notBefore[spec.uuid] = Date.now() + backoffMs(n, CONFLICT_BACKOFF_MS.base, CONFLICT_BACKOFF_MS.cap);
    }
}

function stuckLimitOf(inputs: IronicNodeBatchInputs): number {
    return Number(inputs.stuckSeconds ?? STUCK_DEFAULT_SECONDS) * 1000;
}

/** After a 409 outside the node poll (re-applying a host): fails the host once the lock has not moved for the limit. */
async function judgeLock(client: IronicClient, stuck: StuckWatch, limitMs: number, ctx: WaitContext, spec: IronicNodeSpec): Promise<void> {
    const now = Date.now();
    const node = await client.getNode(spec.uuid);
    const error = node && stuckFailure(stuck, node, now, limitMs);
    if (node && error) fail(ctx, spec.name, node.provision_state, error);
}

/** A host's next step, decided from its node as Ironic last reported it. */
interface Move {
    /** What the tracker records for the host; undefined: nothing yet (its node is still to be created). */
    readonly state?: string;
    /** Set when the host failed for this run: the message the user needs. */
    readonly error?: string;
    /** The request that moves the host on; undefined: Ironic is working on it, or it is done. */
    readonly send?: () => Promise<Outcome>;
}

type Decide = (spec: IronicNodeSpec, node: IronicNode | undefined) => Move;

/** A sleep that ring() ends early: a request was answered (its host waits for Ironic again, or an error stops the batch). */
function alarm(): { wait(ms: number): Promise<void>; ring(): void } {
    let wake: (() => void) | undefined;
    return {
        wait: (ms) =>
            new Promise<void>((resolve) => {
                const timer = setTimeout(() => wake?.(), Math.max(0, ms));
                wake = () => {
                    clearTimeout(timer);
                    wake = undefined;
                    resolve();
                };
            }),
        ring: () => wake?.(),
    };
}

/** The earliest time a host backing off from a conflict may be asked again (Infinity: none backs off). */
function nextDue(pacing: Pacing): number {
    const now = Date.now();
    return Math.min(Number.POSITIVE_INFINITY, ...Object.values(pacing.notBefore).filter((t) => t > now));
}

/**
 * The next shared list for this batch, or undefined when the batch must stop first (a request's
 * error, the deadline): then it no longer waits for that list.
 */
async function nextList(sub: Subscription, need: PollNeed, clock: ReturnType<typeof alarm>, stop: () => boolean, ctx: WaitContext): Promise<Listed | undefined> {
    let listed: Listed | undefined;
    let error: { readonly err: unknown } | undefined;
    void sub.next(need).then(
        (l) => void (listed = l),
        (err) => void (error = { err }),
    ).finally(() => clock.ring());
    while (!listed && !error && !stop() && !ctx.deadline.passed()) await clock.wait(ctx.deadline.remaining());
    if (error) throw error.err;
    if (!listed) sub.cancel();
    return listed;
}

/**
 * Drives every host of `hosts` on its own until each is done or failed, or the deadline passes:
 * one node list per poll, shared with the other batches in flight on this Ironic (nodePoller.ts);
 * a host whose node is as `decide` wants sends its request at once (at most `concurrency` in flight)
 * and, when Ironic's answer carries the node (create, adopt), goes straight on to its next request.
 * The poll is paced by what it finds for every batch waiting (nextPollMs) and by how long a list
 * takes, backs off to `pollSeconds` while nothing changes, and this batch asks for none while every
 * unfinished host of its own has a request in flight (nothing for Ironic to report).
 */
async function drive(client: IronicClient, inputs: IronicNodeBatchInputs, ctx: WaitContext, hosts: readonly IronicNodeSpec[], decide: Decide): Promise<void> {
    const pacing = newPacing();
    const known = newConductors();
    const slot = ironicSlot(connectionOf(inputs), Number(inputs.concurrency));
    const ceilingMs = Number(inputs.pollSeconds) * 1000;
    const stuck = newStuckWatch();
    const stuckLimitMs = stuckLimitOf(inputs);
    // Per host uuid (records, not Maps: see tracker.ts): a request in flight; when its last one was answered.
    const busy: Record<string, boolean> = {};
    const answeredAt: Record<string, number> = {};
    const tasks: Promise<void>[] = [];
    const errors: unknown[] = [];
    const clock = alarm();
    let inFlight = 0;

    const record = (spec: IronicNodeSpec, node: IronicNode | undefined, move: Move) => {
        if (move.state === undefined) return;
        const conductor = conductorOf(known, node);
        if (move.error !== undefined) fail(ctx, spec.name, move.state, move.error, conductor);
        else ctx.tracker.observe(spec.name, { state: move.state, conductor });
    };

    const dispatch = (spec: IronicNodeSpec, listed: IronicNode | undefined, first: Move) => {
        busy[spec.uuid] = true;
        inFlight++;
        const task = slot(async () => {
            let [node, move] = [listed, first];
            while (move.send) {
                const last = await move.send();
                settle(ctx, pacing, spec, node, last);
                // Its conductor was unreachable: the live ones are taking its nodes over.
                if (last.kind === "unavailable") known.stale = true;
                if (last.kind !== "sent" || !last.node) return;
                // Ironic answered with the node (created, adopted): no need to wait for the next list.
                node = last.node;
                if (node.conductor !== undefined) {
                    known.of[node.uuid] = node.conductor;
                    // Ironic's answer is a fresh look: no lookup for it until the refresh interval passes.
                    if (!Number.isFinite(known.at)) known.at = Date.now();
                }
                move = decide(spec, node);
                record(spec, node, move);
            }
        })
            .catch((err) => void errors.push(err))
            .finally(() => {
                busy[spec.uuid] = false;
                inFlight--;
                answeredAt[spec.uuid] = Date.now();
                clock.ring();
            });
        tasks.push(task);
    };

    /**
     * A host's move from a list made at `at`: an unfinished host whose node stayed held with no progress
     * for stuckLimitMs fails (a lock, or a task, no conductor will move on); a finished one stays done.
     */
    const judge = (spec: IronicNodeSpec, node: IronicNode | undefined, at: number): Move => {
        const error = node && !ctx.tracker.isDone(spec.name) ? stuckFailure(stuck, node, at, stuckLimitMs) : undefined;
        return node && error ? { state: node.provision_state, error } : decide(spec, node);
    };

    /** Hosts that wait for Ironic to report a transition (no request of ours in flight, not finished). */
    const waiting = () => hosts.filter((spec) => !busy[spec.uuid] && !failed(ctx, spec.name) && !ctx.tracker.isDone(spec.name)).length;
    /** Every unfinished host has a request in flight: a list would show nothing to act on. */
    const allBusy = () => inFlight > 0 && waiting() === 0;

    // The batch's place at the shared poll: left however the loop ends, so no list is made for a batch gone.
    const poll = joinNodePoller(connectionOf(inputs), batchMarker(inputs.label), (r) => ctx.tracker.request(r));
    let need: PollNeed = { found: 0, waiting: hosts.length, dueAt: Number.NEGATIVE_INFINITY, ceilingMs };
    try {
        while (errors.length === 0 && !ctx.deadline.passed()) {
            const listed = await nextList(poll, need, clock, () => errors.length > 0, ctx);
            if (!listed) break;
            const { nodes, sentAt } = listed;
            // A host with a request in flight, or answered after this list was asked for, is judged by a later list.
            const moves = hosts
                .filter((spec) => !busy[spec.uuid] && !failed(ctx, spec.name) && (answeredAt[spec.uuid] ?? 0) <= sentAt)
                .map((spec) => ({ spec, node: nodes.get(spec.uuid), move: judge(spec, nodes.get(spec.uuid), sentAt) }));
            const moving = moves.filter((m) => m.node && m.move.state !== undefined && ctx.tracker.stateOf(m.spec.name)?.state !== m.move.state).map((m) => m.node!.uuid);
            await lookUpConductors(client, inputs, ctx, moving, known);
            // Hosts this list let move on: a request to send, or finished (done or failed). A state
            // passed on the way (verifying, inspecting, cleaning) is recorded but needs nothing of us.
            let found = 0;
            for (const { spec, node, move } of moves) {
                const before = ctx.tracker.stateOf(spec.name);
                record(spec, node, move);
                const sending = move.send !== undefined && due(pacing, spec.uuid);
                if (sending) dispatch(spec, node, move);
                const finished = ctx.tracker.stateOf(spec.name) !== before && (failed(ctx, spec.name) || ctx.tracker.isDone(spec.name));
                if (sending || finished) found++;
            }
            ctx.tracker.report();
            if (ctx.tracker.settled() && inFlight === 0) break;
            need = { found, waiting: waiting(), dueAt: nextDue(pacing), ceilingMs };
            while (errors.length === 0 && !ctx.deadline.passed() && allBusy()) await clock.wait(ctx.deadline.remaining());
        }
    } finally {
        poll.leave();
    }
    await Promise.all(tasks);
    if (errors.length > 0) throw errors[0];
}

/** Enrollment: the failure-first state machine (ironicStates.ts), each failure Ironic lets us leave tried again up to MAX_RETRIES times. */
function enrollMoves(client: IronicClient, inputs: IronicNodeBatchInputs, ctx: WaitContext): Decide {
    const retries: Record<string, number> = {};
    // Nodes this run created whose port request failed (a conductor or the database away): the port comes first.
    const portless: Record<string, boolean> = {};
    const goal = { target: inputs.targetState, inspect: inputs.inspect !== false, retries };
    const create = (spec: IronicNodeSpec) => async () => {
        portless[spec.uuid] = true;
        const node = await createOrAdopt(client, inputs, spec);
        delete portless[spec.uuid];
        return node;
    };
    return (spec, node) => {
        const next = nextEnrollAction(node, goal);
        // A node past the target (adopted, deployed) counts as the target.
        const state = next.action === "done" ? inputs.targetState : node?.provision_state;
        if (node && portless[spec.uuid] && next.action !== "failed") {
            return { state, send: () => attempt("the boot port", async () => {
                await ensurePort(client, spec);
                delete portless[spec.uuid];
            }) };
        }
        if (next.action === "failed") return { state: state ?? "absent", error: next.error ?? "failed" };
        if (next.action === "done" || next.action === "wait") return { state };
        if (!node) return { send: () => attempt("the new node", create(spec)) };
        const send = () => {
            if (next.retrying !== undefined) {
                retries[node.uuid] = (retries[node.uuid] ?? 0) + 1;
                ctx.tracker.note(spec.name, `${node.provision_state}: ${next.retrying} (retry ${retries[node.uuid]} of ${MAX_RETRIES})`);
            }
            return act(client, node, next.action);
        };
        return { state, send };
    };
}

/** Removal: maintenance first where Ironic deletes only in maintenance, then delete; gone counts as deleted. */
function deleteMoves(client: IronicClient): Decide {
    return (_spec, node) => {
        if (!node) return { state: "deleted" };
        const { action } = nextDeleteAction(node);
        if (action === "gone" || action === "wait") return { state: node.provision_state };
        return { state: node.provision_state, send: () => act(client, node, action) };
    };
}

const INTERFACE_FIELD = /^[a-z]+_interface$/;

function interfaceProblems(property: string, where: string, interfaces: Record<string, string> | undefined): pulumi.dynamic.CheckFailure[] {
    return Object.entries(interfaces ?? {})
        .filter(([field, value]) => !INTERFACE_FIELD.test(field) || typeof value !== "string" || value === "")
        .map(([field, value]) => ({ property, reason: `${where}: interfaces.${field} must be an Ironic *_interface field with a name, got ${JSON.stringify(value)}` }));
}

const driver: HostDriver<IronicNodeSpec, IronicNodeBatchInputs> = {
    connectionKeys: ["endpoints", "username", "password", "caPem", "apiVersion", "concurrency", "pollSeconds", "timeoutSeconds", "stuckSeconds"],

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
        if (inputs.stuckSeconds !== undefined && !(Number(inputs.stuckSeconds) > 0)) {
            failures.push({ property: "stuckSeconds", reason: `stuckSeconds must be a positive number of seconds, got ${JSON.stringify(inputs.stuckSeconds)}` });
        }
        // Declared inputs: hosts are entries over nodeDefaults, each checked once where it is declared.
        const { nodeDefaults: defaults, hosts: entries } = inputs as unknown as DeclaredNodes;
        if (defaults !== undefined && (typeof defaults !== "object" || defaults === null || Array.isArray(defaults))) {
            failures.push({ property: "nodeDefaults", reason: `nodeDefaults must be an object (driver, interfaces, driverInfo, properties), got ${JSON.stringify(defaults)}` });
        }
        failures.push(...interfaceProblems("nodeDefaults", "nodeDefaults", defaults?.interfaces));
        for (const [i, h] of expandHosts(inputs as unknown as DeclaredNodes).entries()) {
            if (typeof h !== "object" || h === null) continue; // no name: refused by the shared check
            if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(h.uuid)) failures.push({ property: "hosts", reason: `hosts[${i}] (${h.name}): uuid ${h.uuid} is not a UUID` });
            if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(h.bootMac)) failures.push({ property: "hosts", reason: `hosts[${i}] (${h.name}): bootMac ${h.bootMac} is not a MAC address` });
            if (!h.driver) failures.push({ property: "hosts", reason: `hosts[${i}] (${h.name}): driver is not set, neither on the host nor in nodeDefaults` });
            failures.push(...interfaceProblems("hosts", `hosts[${i}] (${h.name})`, entries?.[i]?.interfaces));
        }
        return failures;
    },

    expand: (declared) => withHostsInFull(declared as unknown as DeclaredNodes) as unknown as IronicNodeBatchInputs,

    /** Re-applies the hosts whose nodes exist; absent ones are created by their pipeline in waitForHosts, which goes straight on to manage them. */
    async apply(inputs, hosts, ctx) {
        const client = clientFor(inputs, ctx);
        try {
            const existing = await listBatch(client, inputs);
            const pacing = newPacing();
            const stuck = newStuckWatch();
            const stuckLimitMs = stuckLimitOf(inputs);
            await mapBounded(hosts.filter((spec) => existing.has(spec.uuid)), inputs.concurrency, async (spec) => {
                const node = existing.get(spec.uuid);
                for (;;) {
                    const outcome = await attempt("the node's update", async () => {
                        const updated = await reapply(client, inputs, spec);
                        await ensurePort(client, spec);
                        return updated;
                    });
                    settle(ctx, pacing, spec, node, outcome);
                    if (outcome.kind === "conflict") await judgeLock(client, stuck, stuckLimitMs, ctx, spec);
                    if ((outcome.kind !== "conflict" && outcome.kind !== "unavailable") || failed(ctx, spec.name) || ctx.deadline.passed()) return;
                    // Locked, or its conductor unreachable: try again soon, never in a tight loop.
                    await sleep(Math.min(Math.max(0, pacing.notBefore[spec.uuid] - Date.now()), ctx.deadline.remaining()));
                }
            });
        } finally {
            client.close();
        }
    },

    async waitForHosts(inputs, ctx) {
        const client = clientFor(inputs, ctx);
        try {
            await drive(client, inputs, ctx, inputs.hosts, enrollMoves(client, inputs, ctx));
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
        try {
            await drive(client, inputs, ctx, hosts, deleteMoves(client));
        } finally {
            client.close();
        }
    },
};

export const ironicNodeBatchProvider = makeBatchProvider(driver);

export interface IronicNodeBatchArgs {
    readonly label: pulumi.Input<string>;
    /** Each host's own fields; a full IronicNodeSpec is one too. */
    readonly hosts: pulumi.Input<IronicNodeEntry[]>;
    /** What every host's node has unless its entry says otherwise (driver, interfaces, common driver_info...): declared once per batch. */
    readonly nodeDefaults?: pulumi.Input<IronicNodeDefaults>;
    readonly targetState: pulumi.Input<"available" | "manageable">;
    readonly inspect?: pulumi.Input<boolean>;
    readonly timeoutSeconds: pulumi.Input<number>;
    readonly endpoints: pulumi.Input<pulumi.Input<string>[]>;
    readonly username: pulumi.Input<string>;
    readonly password: pulumi.Input<string>;
    readonly caPem?: pulumi.Input<string>;
    readonly apiVersion: pulumi.Input<string>;
    readonly driverInfoSecrets?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Requests in flight at once to this Ironic, shared by every batch in flight on it in the provider process (default 20). */
    readonly concurrency?: pulumi.Input<number>;
    readonly pollSeconds?: pulumi.Input<number>;
    /** A node held this long with no progress (a lost lock, a dead conductor's task) fails its host, saying what holds it (default STUCK_DEFAULT_SECONDS). */
    readonly stuckSeconds?: pulumi.Input<number>;
    /** Run dir of this `pulumi up` (components/record/run.ts); "" records nothing. */
    readonly runDir?: pulumi.Input<string>;
}

export class IronicNodeBatch extends pulumi.dynamic.Resource {
    public readonly status!: pulumi.Output<BatchStatus>;
    public readonly hosts!: pulumi.Output<IronicNodeEntry[]>;

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
