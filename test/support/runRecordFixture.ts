// Writes a realistic run record (the README "Run record" format) of a simulated run, and returns
// what was simulated (`truth`) so tests compute the expected figures from it, not from the
// report's own code. Seeded: the same options give the same files. Nothing here is a fixed number
// a test compares against; change the options and every expectation follows.
import * as fs from "fs";
import * as path from "path";

export interface FixtureOptions {
    readonly root: string;
    readonly stack?: string;
    readonly runId?: string;
    readonly seed?: number;
    /** Epoch ms of the first event. */
    readonly start?: number;
    readonly nodes: number;
    readonly batchSize: number;
    readonly conductors: number;
    /** Hosts that fail (spread over the batches by the seed). */
    readonly failures?: number;
    /** Workload clusters (capi mode): one cluster batch after the hosts. */
    readonly clusters?: number;
    /** Drop every event later than this many ms after the start, as a killed `pulumi up` would; the last line is cut mid-JSON. */
    readonly interruptAfterMs?: number;
    /** Point runs/<stack>/latest at this run (default true). */
    readonly latest?: boolean;
    /** Scales every host step (a slower lab). */
    readonly slowdown?: number;
    /** Write `targets` on op start lines (default true; false: as a writer without them). */
    readonly recordTargets?: boolean;
}

export interface TruthUnit {
    readonly batch: string;
    readonly unit: "hosts" | "clusters";
    readonly name: string;
    readonly opStart: number;
    readonly conductor?: string;
    /** Set when the unit reached its target before the record ends. */
    readonly reachedAt?: number;
    /** Set when the unit failed before the record ends. */
    readonly failure?: { readonly state: string; readonly error: string; readonly at: number };
    /** Its last state in the record. */
    readonly lastState: string;
}

export interface TruthRequest {
    readonly api: string;
    readonly method: string;
    readonly path: string;
    readonly status: number;
    readonly ms: number;
    readonly t: number;
}

export interface TruthOp {
    readonly batch: string;
    readonly unit: "hosts" | "clusters";
    readonly units: number;
    readonly start: number;
    /** Undefined when the record stops before it ends. */
    readonly end?: number;
    readonly targets: readonly string[];
}

export interface GeneratedRun {
    readonly dir: string;
    readonly root: string;
    readonly stack: string;
    readonly runId: string;
    readonly config: Record<string, unknown>;
    readonly truth: { readonly units: readonly TruthUnit[]; readonly requests: readonly TruthRequest[]; readonly ops: readonly TruthOp[]; readonly lastEventAt: number };
}

/** mulberry32: a small seeded PRNG, so fixtures are reproducible. */
function prng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

type Line = Record<string, unknown> & { t: number };

// Ironic's provision states on the way to available with agent inspection (fake-ipa answers).
const HOST_STEPS: readonly { readonly to: string; readonly minMs: number; readonly maxMs: number }[] = [
    { to: "enroll", minMs: 50, maxMs: 400 },
    { to: "verifying", minMs: 300, maxMs: 1500 },
    { to: "manageable", minMs: 800, maxMs: 3000 },
    { to: "inspecting", minMs: 200, maxMs: 800 },
    { to: "inspect wait", minMs: 1000, maxMs: 3000 },
    { to: "manageable", minMs: 20_000, maxMs: 30_000 },
    { to: "cleaning", minMs: 300, maxMs: 900 },
    { to: "available", minMs: 2000, maxMs: 6000 },
];
const HOST_FAILURES: readonly { readonly after: string; readonly to: string; readonly error: string }[] = [
    { after: "inspect wait", to: "inspect failed", error: "Timeout reached while inspecting the node. Please check if the node boots into the agent." },
    { after: "verifying", to: "enroll", error: "Failed to get power state for node: Redfish exception occurred. Error: connection refused" },
];
const CLUSTER_STEPS: readonly { readonly to: string; readonly minMs: number; readonly maxMs: number }[] = [
    { to: "host provisioning", minMs: 100, maxMs: 500 },
    { to: "machine Provisioning", minMs: 20_000, maxMs: 40_000 },
    { to: "machine Running", minMs: 3000, maxMs: 8000 },
    { to: "control plane", minMs: 2000, maxMs: 5000 },
    { to: "ready", minMs: 1000, maxMs: 3000 },
];

export function writeRunFixture(o: FixtureOptions): GeneratedRun {
    const rand = prng(o.seed ?? 1);
    const between = (min: number, max: number) => Math.round(min + rand() * (max - min));
    const stack = o.stack ?? "lab";
    const runId = o.runId ?? "20260115T100000Z";
    const t0 = o.start ?? Date.UTC(2026, 0, 15, 10, 0, 0);
    const slow = o.slowdown ?? 1;
    const conductors = Array.from({ length: o.conductors }, (_, i) => `conductor-${i}`);
    // One conductor is slower (a busier database connection, say), so the spread shows.
    const conductorFactor = (c: string) => 1 + 0.3 * (conductors.indexOf(c) === conductors.length - 1 ? 1 : 0);
    const batches = Math.ceil(o.nodes / o.batchSize);
    const failing = new Set<number>();
    while (failing.size < Math.min(o.failures ?? 0, o.nodes)) failing.add(Math.floor(rand() * o.nodes));

    const files = new Map<string, Line[]>();
    const emit = (batch: string, line: Line) => {
        const file = `${batch.replace(/\//g, "_")}.jsonl`;
        files.set(file, [...(files.get(file) ?? []), line]);
    };
    const units: TruthUnit[] = [];
    const requests: TruthRequest[] = [];
    const ops: TruthOp[] = [];
    const request = (batch: string, api: string, method: string, p: string, t: number, status = 200) => {
        const ms = status === 0 ? 30_000 : between(2, 40) + (rand() < 0.05 ? between(100, 900) : 0);
        requests.push({ api, method, path: p, status, ms, t });
        emit(batch, { t, kind: "request", batch, api, method, path: p, status, ms });
    };

    const targets = (states: string[]) => (o.recordTargets === false ? {} : { targets: states });

    let clock = t0 + 1500;
    for (let b = 0; b < batches; b++) {
        const batch = `${stack}/ironic-batch-${String(b).padStart(3, "0")}`;
        const hosts = Array.from({ length: Math.min(o.batchSize, o.nodes - b * o.batchSize) }, (_, i) => b * o.batchSize + i);
        const opStart = clock;
        emit(batch, { t: opStart, kind: "op", batch, op: "create", phase: "start", units: hosts.length, unit: "hosts", ...targets(["available"]) });
        let end = opStart;
        const failedHere: { name: string; state: string; error: string }[] = [];
        for (const [i, h] of hosts.entries()) {
            const name = `${stack}-host-${String(h).padStart(5, "0")}`;
            const conductor = conductors[Math.floor(rand() * conductors.length)];
            const fail = failing.has(h) ? HOST_FAILURES[Math.floor(rand() * HOST_FAILURES.length)] : undefined;
            let t = opStart + i * 40;
            request(batch, "ironic", "POST", "/v1/nodes", t, 201);
            let from: string | null = null;
            let failure: TruthUnit["failure"];
            let reachedAt: number | undefined;
            for (const step of HOST_STEPS) {
                t += Math.round(between(step.minMs, step.maxMs) * slow * conductorFactor(conductor));
                emit(batch, { t, kind: "transition", batch, unit: "hosts", name, from, to: step.to, conductor });
                from = step.to;
                if (step.to === "manageable" || step.to === "enroll") {
                    // A locked node answers 409 first (another conductor works on it), then the retry passes.
                    if (rand() < 0.15) request(batch, "ironic", "PUT", "/v1/nodes/{node}/states/provision", t + 5, 409);
                    request(batch, "ironic", "PUT", "/v1/nodes/{node}/states/provision", t + 10, 202);
                }
                if (fail && step.to === fail.after) {
                    t += between(500, 2000);
                    emit(batch, { t, kind: "transition", batch, unit: "hosts", name, from, to: fail.to, error: fail.error, conductor });
                    failure = { state: fail.to, error: fail.error, at: t };
                    failedHere.push({ name, state: fail.to, error: fail.error });
                    break;
                }
            }
            if (!failure) reachedAt = t;
            end = Math.max(end, t);
            units.push({ batch, unit: "hosts", name, opStart, conductor, reachedAt, failure, lastState: failure ? failure.state : "available" });
        }
        // The batch polls its nodes every 2 s; one poll in 40 gets no answer.
        for (let t = opStart + 2000; t < end; t += 2000) request(batch, "ironic", "GET", "/v1/nodes", t, rand() < 0.025 ? 0 : 200);
        end += 150;
        for (const f of failedHere) emit(batch, { t: end, kind: "failure", batch, ...f });
        emit(batch, { t: end + 1, kind: "op", batch, op: "create", phase: "end", units: hosts.length, unit: "hosts", ready: failedHere.length === 0, ...(failedHere.length ? { reason: "hosts failed" } : {}) });
        ops.push({ batch, unit: "hosts", units: hosts.length, start: opStart, end: end + 1, targets: ["available"] });
        clock = end + 1 + between(200, 800);
    }

    if ((o.clusters ?? 0) > 0) {
        const batch = `${stack}/cluster-batch-000`;
        const opStart = clock;
        emit(batch, { t: opStart, kind: "op", batch, op: "create", phase: "start", units: o.clusters, unit: "clusters", ...targets(["ready"]) });
        let end = opStart;
        for (let c = 0; c < o.clusters!; c++) {
            const name = `${stack}-cluster-${String(c).padStart(3, "0")}`;
            let t = opStart + c * 100;
            request(batch, "fkas", "POST", "/register", t, 200);
            request(batch, "kubernetes", "PATCH", "/apis/cluster.x-k8s.io/v1beta2/namespaces/{namespace}/clusters/{name}", t + 20, 201);
            let from: string | null = null;
            for (const step of CLUSTER_STEPS) {
                t += Math.round(between(step.minMs, step.maxMs) * slow);
                emit(batch, { t, kind: "transition", batch, unit: "clusters", name, from, to: step.to });
                from = step.to;
            }
            end = Math.max(end, t);
            units.push({ batch, unit: "clusters", name, opStart, reachedAt: t, lastState: "ready" });
        }
        end += 100;
        emit(batch, { t: end, kind: "op", batch, op: "create", phase: "end", units: o.clusters, unit: "clusters", ready: true });
        ops.push({ batch, unit: "clusters", units: o.clusters!, start: opStart, end, targets: ["ready"] });
    }

    // A killed run: nothing after the cut, and the line being written is cut short.
    const cut = o.interruptAfterMs === undefined ? Infinity : t0 + o.interruptAfterMs;
    let lastEventAt = 0;
    const dir = path.join(o.root, stack, runId);
    fs.mkdirSync(path.join(dir, "events"), { recursive: true });
    let cutFile: string | undefined;
    for (const [file, lines] of files) {
        const kept = lines.filter((l) => l.t <= cut).sort((a, b) => a.t - b.t);
        if (kept.length === 0) continue;
        lastEventAt = Math.max(lastEventAt, kept.at(-1)!.t);
        let text = kept.map((l) => JSON.stringify(l) + "\n").join("");
        if (kept.length < lines.length && cutFile === undefined) {
            cutFile = file;
            text += JSON.stringify(lines.filter((l) => l.t > cut).sort((a, b) => a.t - b.t)[0]).slice(0, 37);
        }
        fs.writeFileSync(path.join(dir, "events", file), text, { mode: 0o600 });
    }
    const truncate = (u: TruthUnit): TruthUnit => {
        if (u.opStart > cut) return u; // dropped below
        const reachedAt = u.reachedAt !== undefined && u.reachedAt <= cut ? u.reachedAt : undefined;
        const failure = u.failure && u.failure.at <= cut ? u.failure : undefined;
        const seen = (files.get(`${u.batch.replace(/\//g, "_")}.jsonl`) ?? []).filter((l) => l.kind === "transition" && l.name === u.name && l.t <= cut);
        return { ...u, reachedAt, failure, lastState: seen.length ? String(seen.at(-1)!.to) : "unseen" };
    };
    const config = {
        mode: (o.clusters ?? 0) > 0 ? "capi" : "ironic",
        nodes: o.nodes,
        conductors: o.conductors,
        sushyContainers: Math.ceil(o.nodes / 100),
        fakeIpaContainers: Math.ceil(o.nodes / 100),
        hostsPerSushy: 100,
        batchSize: o.batchSize,
        maxBatchesInFlight: 1,
        clusters: o.clusters ?? 0,
        workersPerCluster: 0,
        inspectHosts: true,
        targetState: "available",
        images: { ironic: "quay.io/metal3-io/ironic:v35.0.2", sushyTools: "quay.io/metal3-io/sushy-tools:v38.0.0" },
    };
    const meta = {
        format: 1,
        runId,
        stack,
        project: "metal3-scale-lab",
        startedAt: new Date(t0).toISOString(),
        config,
        machine: { cpus: 2, cpuModel: "Simulated CPU", memoryBytes: 24 * 2 ** 30, platform: "linux", release: "6.1.0", node: process.version },
    };
    fs.writeFileSync(path.join(dir, "run.json"), JSON.stringify(meta, null, 2) + "\n", { mode: 0o600 });
    if (o.latest !== false) {
        const link = path.join(o.root, stack, "latest");
        fs.rmSync(link, { force: true });
        fs.symlinkSync(runId, link);
    }
    return {
        dir,
        root: o.root,
        stack,
        runId,
        config,
        truth: {
            units: units.filter((u) => u.opStart <= cut).map(truncate),
            requests: requests.filter((r) => r.t <= cut),
            ops: ops.filter((op) => op.start <= cut).map((op) => (op.end !== undefined && op.end > cut ? { ...op, end: undefined } : op)),
            lastEventAt,
        },
    };
}
