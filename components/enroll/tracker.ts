// Follows every host of a batch: its current state, its transitions (with
// timestamps) and the progress a user sees while `pulumi up` waits; passes
// transitions and the clients' requests on to observers (the run record).
import { formatDuration } from "./bounded";

export interface HostObservation {
    readonly state: string;
    /** Set when the host is in error: the message the user needs. */
    readonly error?: string;
    /** A transient error its controller is retrying (e.g. BMO's backoff): shown in progress and record, not a failure. */
    readonly retrying?: string;
    /** Ironic nodes: the conductor holding the node when this was seen (not a change by itself). */
    readonly conductor?: string;
}

export interface HostTransition {
    readonly batch: string;
    readonly host: string;
    readonly from: string | undefined;
    readonly to: string;
    readonly error?: string;
    readonly retrying?: string;
    readonly conductor?: string;
    /** Epoch milliseconds. */
    readonly at: number;
}

/** One HTTP request a client sent (each attempt counts), as its hook reports it. */
export interface ApiRequest {
    readonly api: "ironic" | "kubernetes" | "fkas";
    readonly method: string;
    /** Path as sent (may carry ids and a query: classed before it is recorded). */
    readonly path: string;
    /** HTTP status; 0 when no answer came (connection error, timeout). */
    readonly status: number;
    readonly ms: number;
    /** Epoch milliseconds of the answer. */
    readonly at: number;
}

export interface HostFailure {
    readonly name: string;
    readonly state: string;
    readonly error: string;
}

/** Something that wants to hear about every state change and request (a run record, ...). */
export interface BatchObserver {
    onTransition(t: HostTransition): void;
    onRequest?(r: ApiRequest): void;
}

export interface TrackerOptions {
    /** Longest silence while waiting; progress is printed at least this often. */
    readonly heartbeatMs?: number;
    /** Shortest gap between two progress lines when states change quickly. */
    readonly minIntervalMs?: number;
    readonly log?: (line: string) => void;
    readonly now?: () => number;
    readonly observers?: readonly BatchObserver[];
    /** What the tracked items are called in progress and failure lines (default "hosts"; e.g. "clusters"). */
    readonly unit?: string;
}

export class HostTracker {
    // Fields are assigned in the constructor, not initialized in place: the serializer that
    // writes `__provider` keeps a class's constructor but drops its field initializers.
    private readonly states: Map<string, HostObservation>;
    private readonly started: number;
    private lastPrint: number;
    private lastLine: string;
    private readonly heartbeatMs: number;
    private readonly minIntervalMs: number;
    private readonly log: (line: string) => void;
    private readonly now: () => number;
    private readonly observers: readonly BatchObserver[];
    private readonly unit: string;

    constructor(
        readonly label: string,
        readonly hosts: readonly string[],
        /** States that count as done for this wait (e.g. ["available"] or ["deleted"]). */
        readonly targets: readonly string[],
        options: TrackerOptions = {},
    ) {
        this.heartbeatMs = Math.min(options.heartbeatMs ?? 30_000, 30_000);
        this.minIntervalMs = options.minIntervalMs ?? 5_000;
        // console.log of a dynamic provider reaches the user's `pulumi up` output (pulumi/pulumi#18253).
        this.log = options.log ?? ((line) => console.log(line));
        this.now = options.now ?? Date.now;
        this.observers = options.observers ?? [];
        this.unit = options.unit ?? "hosts";
        this.started = this.now();
        this.states = new Map();
        this.lastPrint = Number.NEGATIVE_INFINITY;
        this.lastLine = "";
    }

    observe(host: string, observation: HostObservation): void {
        const before = this.states.get(host);
        if (before && before.state === observation.state && before.error === observation.error && before.retrying === observation.retrying) return;
        this.states.set(host, observation);
        const t: HostTransition = { batch: this.label, host, from: before?.state, to: observation.state, error: observation.error, retrying: observation.retrying, conductor: observation.conductor, at: this.now() };
        for (const o of this.observers) o.onTransition(t);
        if (observation.retrying && observation.retrying !== before?.retrying) this.note(host, `${observation.state}: ${observation.retrying}`);
    }

    /** Whether anyone records transitions and requests (drivers skip work only a record needs). */
    recording(): boolean {
        return this.observers.length > 0;
    }

    /** A client's request hook: passes each request on to the observers. */
    request(r: ApiRequest): void {
        for (const o of this.observers) o.onRequest?.(r);
    }

    /** Prints one line about one host at once (a failure, a retry): not rate-limited like report(). */
    note(host: string, message: string): void {
        this.log(`[${this.label}] ${host}: ${message}`);
    }

    stateOf(host: string): HostObservation | undefined {
        return this.states.get(host);
    }

    isDone(host: string): boolean {
        const s = this.states.get(host);
        return s !== undefined && !s.error && this.targets.includes(s.state);
    }

    /** Hosts neither done nor failed. */
    pending(): string[] {
        return this.hosts.filter((h) => !this.isDone(h) && !this.states.get(h)?.error);
    }

    failures(): HostFailure[] {
        return this.hosts.flatMap((name) => {
            const s = this.states.get(name);
            return s?.error ? [{ name, state: s.state, error: s.error }] : [];
        });
    }

    /** True when every host is done or failed: waiting longer changes nothing by itself. */
    settled(): boolean {
        return this.pending().length === 0;
    }

    counts(): Record<string, number> {
        const counts: Record<string, number> = {};
        for (const h of this.hosts) {
            const s = this.states.get(h);
            const key = s ? (s.error ? `${s.state} (error)` : s.retrying && !this.isDone(h) ? `${s.state} (retrying)` : s.state) : "unseen";
            counts[key] = (counts[key] ?? 0) + 1;
        }
        return counts;
    }

    /** Prints a progress line when counts changed (at most every minIntervalMs) or the heartbeat is due. */
    report(force = false): void {
        const now = this.now();
        const counts = Object.entries(this.counts())
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([state, n]) => `${state} ${n}`)
            .join(", ");
        const line = `[${this.label}] ${this.hosts.length} ${this.unit}: ${counts}`;
        const changed = line !== this.lastLine;
        const due = force || now - this.lastPrint >= this.heartbeatMs || (changed && now - this.lastPrint >= this.minIntervalMs);
        if (!due) return;
        this.lastPrint = now;
        this.lastLine = line;
        this.log(`${line} (${formatDuration(now - this.started)} elapsed)`);
    }

    /** Every host not done: the failed ones with their message, then the pending ones ("still waiting"). */
    failing(): HostFailure[] {
        return [
            ...this.failures(),
            ...this.pending().map((name) => {
                const s = this.states.get(name);
                return { name, state: s?.state ?? "unseen", error: s?.retrying ? `still waiting (retrying: ${s.retrying})` : "still waiting" };
            }),
        ];
    }

    /** When the batch cannot be left as is: every failing host with its state and message, first `limit`. */
    describeFailures(reason: string, limit = 20): string {
        const failing = this.failing();
        const lines = failing.slice(0, limit).map((f) => `  - ${f.name}: ${f.state}: ${f.error}`);
        if (failing.length > limit) lines.push(`  ... and ${failing.length - limit} more`);
        return `${this.label}: ${reason}: ${failing.length} of ${this.hosts.length} ${this.unit} not ${this.targets.join("/")}:\n${lines.join("\n")}`;
    }
}
