// The run record's format: the contract between the batch providers that write
// it and the tools that read it (status, report). Described in README ("Run
// record") and /work/notes/issue9-design.md; change all three together.
//
//   runs/<stack>/<runId>/run.json                 RunInfo
//   runs/<stack>/<runId>/events/<batch>.jsonl     one RecordEvent per line
//   runs/<stack>/latest                           symlink to the newest <runId>

export const RECORD_FORMAT = 1;

export type Unit = "hosts" | "clusters";
export type Operation = "create" | "update" | "delete" | "read";

export interface OpEvent {
    readonly t: number;
    readonly kind: "op";
    readonly batch: string;
    readonly op: Operation;
    readonly phase: "start" | "end";
    readonly units: number;
    readonly unit: Unit;
    /** start only: the states that count as done for this operation (e.g. ["available"], ["deleted"]). */
    readonly targets?: readonly string[];
    /** end only: every unit reached its target. */
    readonly ready?: boolean;
    /** end only, when not ready: why the operation stopped. */
    readonly reason?: string;
}

export interface TransitionEvent {
    readonly t: number;
    readonly kind: "transition";
    readonly batch: string;
    readonly unit: Unit;
    readonly name: string;
    readonly from: string | null;
    readonly to: string;
    readonly error?: string;
    /** A transient error the controller retries (not a failure). */
    readonly retrying?: string;
    /** Ironic nodes: the conductor holding the node. */
    readonly conductor?: string;
}

export interface RequestEvent {
    readonly t: number;
    readonly kind: "request";
    /** The batch that sent it; a request several batches share (an Ironic node list) is recorded once, under one of them. */
    readonly batch: string;
    readonly api: "ironic" | "kubernetes" | "fkas";
    /** HTTP method, or WATCH for a Kubernetes watch (ms: until its answer's headers). */
    readonly method: string;
    /** The path class: ids replaced, no query, e.g. /v1/nodes/{node}/states/provision. */
    readonly path: string;
    /** 0: no answer (connection error, timeout). */
    readonly status: number;
    readonly ms: number;
}

export interface FailureEvent {
    readonly t: number;
    readonly kind: "failure";
    readonly batch: string;
    readonly name: string;
    readonly state: string;
    readonly error: string;
}

export type RecordEvent = OpEvent | TransitionEvent | RequestEvent | FailureEvent;

export interface RunInfo {
    readonly format: number;
    readonly runId: string;
    readonly stack: string;
    readonly project: string;
    /** ISO 8601. */
    readonly startedAt: string;
    readonly config: {
        readonly mode: string;
        readonly nodes: number;
        readonly conductors: number;
        readonly sushyContainers: number;
        readonly fakeIpaContainers: number;
        readonly hostsPerSushy: number;
        readonly batchSize: number;
        readonly maxBatchesInFlight: number;
        readonly clusters: number;
        readonly workersPerCluster: number;
        readonly inspectHosts: boolean;
        readonly targetState: string;
        readonly images: Readonly<Record<string, string>>;
    };
    readonly machine: {
        readonly cpus: number;
        readonly cpuModel: string;
        readonly memoryBytes: number;
        readonly platform: string;
        readonly release: string;
        readonly node: string;
    };
}

/** The events file of a batch, relative to the run dir: its label with `/` replaced by `_`. */
export function eventsFile(batch: string): string {
    return `events/${batch.replace(/\//g, "_")}.jsonl`;
}
