// One node list per poll for every IronicNodeBatch waiting on the same Ironic.
// Pulumi runs all dynamic resources of a stack in one provider process: the
// batches in flight join one poller per Ironic (endpoints and credentials) and
// each list serves every batch waiting at the time, each keeping its own nodes.
// Its pace is set by what all of them need. The pollers are process-wide
// (processWide.ts): each batch's provider may be its own copy of this module.
import { nextPollMs } from "./bounded";
import { connectionKey, IronicClient, IronicConnection, IronicNode } from "./ironicApi";
import { processWide } from "./processWide";
import type { ApiRequest } from "./tracker";

/**
 * The poll: never sooner than this (Ironic's own transitions of a fake node take a few hundred ms),
 * and paced so that each list finds about POLL_WANT hosts moved on (fewer when fewer wait): a list
 * per host per transition would cost more than the transitions themselves.
 */
export const POLL_FLOOR_MS = 250;
export const POLL_WANT = 4;
/**
 * Nor sooner than this many times what a list takes to answer, shared among the batches it serves: a
 * loaded Ironic answers slowly and moves nodes slowly alike, so the lists per host stay about the same
 * whatever the load. Shared, because a list of k batches' nodes takes longer for its size, not its load.
 */
export const POLL_LIST_FACTOR = 4;

/** What a batch needs of the next list, as it found things after its last one. */
export interface PollNeed {
    /** Hosts its last list let move on (a request sent, or finished). */
    readonly found: number;
    /** Hosts waiting for Ironic to report a transition. */
    readonly waiting: number;
    /** No list is needed before this (the pace decides) unless a host may be asked again then (a conflict's backoff); -Infinity: at once. */
    readonly dueAt: number;
    /** The longest wait between two lists this batch accepts (its pollSeconds). */
    readonly ceilingMs: number;
}

/** One list as a batch receives it: its own nodes, and when the list was asked for. */
export interface Listed {
    readonly nodes: Map<string, IronicNode>;
    readonly sentAt: number;
}

/** The list filter serving every marker: their longest common prefix (Ironic's description_contains). */
export function listFilter(markers: readonly string[]): string {
    if (markers.length === 0) return "";
    let prefix = markers[0];
    for (const m of markers.slice(1)) {
        let i = 0;
        while (i < prefix.length && i < m.length && prefix[i] === m[i]) i++;
        prefix = prefix.slice(0, i);
    }
    return prefix;
}

/** The nodes of a shared list that belong to the batch marked `marker` (by description, as a batch's own list filters). */
export function nodesOf(nodes: readonly IronicNode[], marker: string): Map<string, IronicNode> {
    return new Map(nodes.filter((n) => (n.description ?? "").includes(marker)).map((n) => [n.uuid, n]));
}

/**
 * The wait after a list until the next one, for every batch waiting on it: about POLL_WANT hosts moved on
 * per list over all of them, never below POLL_FLOOR_MS nor POLL_LIST_FACTOR times a list's latency per
 * batch waiting, never above the shortest ceiling among them (unless that is below the floor).
 */
export function sharedDelay(lastMs: number, needs: readonly PollNeed[], listMs: number): number {
    const floorMs = Math.max(POLL_FLOOR_MS, (POLL_LIST_FACTOR * listMs) / Math.max(1, needs.length));
    const found = needs.reduce((n, x) => n + x.found, 0);
    const waiting = needs.reduce((n, x) => n + x.waiting, 0);
    const ceilingMs = Math.min(...needs.map((x) => x.ceilingMs));
    return nextPollMs(lastMs, found, Math.min(POLL_WANT, waiting), floorMs, Math.max(ceilingMs, floorMs));
}

/** When the next list goes out: `delay` after the last answer, or sooner when a batch needs it sooner. */
export function nextListAt(answeredAt: number, delay: number, needs: readonly PollNeed[]): number {
    return Math.min(answeredAt + delay, ...needs.map((x) => x.dueAt));
}

/** A batch's place at a poller; leave() when the batch stops waiting (done, failed, stopped). */
export interface Subscription {
    /** The next list taken after this call; a batch asks again only once it has dealt with the last one. */
    next(need: PollNeed): Promise<Listed>;
    /** Stops waiting for the list asked for (the batch stops); it may join again. */
    cancel(): void;
    leave(): void;
}

interface Waiter {
    readonly need: PollNeed;
    readonly resolve: (listed: Listed) => void;
    readonly reject: (err: unknown) => void;
}

interface Member {
    readonly marker: string;
    /** The run record hook of the batch (its tracker). */
    readonly onRequest?: (r: ApiRequest) => void;
    waiter?: Waiter;
}

/**
 * The shared poll of one Ironic. A list goes out when its pace says so and some batch waits for one,
 * and serves every batch waiting then. Each request it sends is told ONCE, to the batch that joined
 * first among those the list serves (the others record nothing for it): the run record counts every
 * request once, at the price of one batch carrying the lists it shared.
 */
export class NodePoller {
    // Assigned in the constructor: the `__provider` serializer drops field initializers.
    private members: Member[];
    private timer: ReturnType<typeof setTimeout> | undefined;
    private listing: boolean;
    private delay: number;
    private planned: number;
    private listMs: number;
    private answeredAt: number;
    private payer: Member | undefined;

    constructor(
        private readonly list: (filter: string) => Promise<IronicNode[]>,
        /** Called when the last batch has left and no list is out: the poller is done (again, if a batch joined and left since). */
        private readonly retire: () => void,
    ) {
        this.members = [];
        this.timer = undefined;
        this.listing = false;
        this.delay = 0;
        this.planned = 0;
        this.listMs = 0;
        this.answeredAt = Number.NEGATIVE_INFINITY;
        this.payer = undefined;
    }

    join(marker: string, onRequest?: (r: ApiRequest) => void): Subscription {
        const member: Member = { marker, onRequest };
        this.members.push(member);
        return {
            next: (need) =>
                new Promise<Listed>((resolve, reject) => {
                    if (!this.members.includes(member)) return reject(new Error(`the node poll of ${marker} was left`));
                    member.waiter = { need, resolve, reject };
                    this.schedule();
                }),
            cancel: () => {
                member.waiter = undefined;
                this.schedule();
            },
            leave: () => {
                member.waiter = undefined;
                this.members = this.members.filter((m) => m !== member);
                this.schedule();
            },
        };
    }

    /** The client's request hook: each request told once (see the class comment). */
    tell(r: ApiRequest): void {
        const to = this.payer && this.members.includes(this.payer) ? this.payer : (this.members[0] ?? this.payer);
        to?.onRequest?.(r);
    }

    /** Batches joined (tests, progress). */
    size(): number {
        return this.members.length;
    }

    private schedule(): void {
        if (this.listing) return;
        if (this.timer !== undefined) clearTimeout(this.timer);
        this.timer = undefined;
        if (this.members.length === 0) return this.retire();
        const needs = this.members.flatMap((m) => (m.waiter ? [m.waiter.need] : []));
        // Nobody waits for a list (each is busy with the last one, or has requests in flight): no timer.
        if (needs.length === 0) return;
        this.planned = sharedDelay(this.delay, needs, this.listMs);
        const at = nextListAt(this.answeredAt, this.planned, needs);
        this.timer = setTimeout(() => void this.send(), Math.max(0, at - Date.now()));
    }

    private async send(): Promise<void> {
        this.timer = undefined;
        const served = this.members.filter((m) => m.waiter);
        if (served.length === 0) return;
        const waiters = served.map((m) => [m, m.waiter!] as const);
        for (const m of served) m.waiter = undefined;
        this.delay = this.planned;
        this.payer = served[0];
        this.listing = true;
        const sentAt = Date.now();
        try {
            const nodes = await this.list(listFilter(served.map((m) => m.marker)));
            this.answeredAt = Date.now();
            this.listMs = this.listMs === 0 ? this.answeredAt - sentAt : (this.listMs + this.answeredAt - sentAt) / 2;
            for (const [m, w] of waiters) w.resolve({ nodes: nodesOf(nodes, m.marker), sentAt });
        } catch (err) {
            for (const [, w] of waiters) w.reject(err);
        } finally {
            this.listing = false;
            this.schedule();
        }
    }
}

const REGISTRY = "metal3-scale-lab/ironic-node-pollers/1";

/** A poller listing with a client of its own (closed when it retires), which tells it about each request. */
function newPoller(conn: IronicConnection, retired: (poller: NodePoller) => void): NodePoller {
    let poller: NodePoller | undefined = undefined;
    const client = new IronicClient({ ...conn, onRequest: (r) => poller?.tell(r) });
    poller = new NodePoller(
        (filter) => client.listNodes(filter),
        () => {
            client.close();
            retired(poller!);
        },
    );
    return poller;
}

/** Joins the poller of this Ironic in this process (made on first use, gone when its last batch left). */
export function joinNodePoller(conn: IronicConnection, marker: string, onRequest?: (r: ApiRequest) => void): Subscription {
    const pollers = processWide<NodePoller>(REGISTRY);
    const key = connectionKey(conn);
    const poller = (pollers[key] ??= newPoller(conn, (gone) => {
        if (pollers[key] === gone) delete pollers[key];
    }));
    return poller.join(marker, onRequest);
}
