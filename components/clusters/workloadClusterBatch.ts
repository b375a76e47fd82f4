// WorkloadClusterBatch: a batch of 1-node (or 1 + workers) workload clusters
// on FKAS, built on the shared batch core (the core's "hosts" are clusters
// here). Per cluster: register with FKAS (one at a time: FKAS's maps have no
// lock), then server-side apply the objects of CAPM3's clusterctl template;
// then ONE list + ONE watch per kind per batch (Machines, BareMetalHosts,
// KubeadmControlPlanes) until every cluster's Machines are Running, its hosts
// `provisioned`, its control plane ready and FKAS serves its API server.
// Budget per cluster: 5 applies (+4 with workers) and ~0.5 requests for the
// batch's lists, watches and deletes.
//
// FKAS keeps clusters in memory. A refresh marks clusters whose API server no
// longer answers; the next up registers them again, in the order of their
// recorded ports (FKAS hands ports out in order from 20000, so a restarted FKAS
// given the same order gives the same ports) and touches their hosts so
// FKAS's sidecar sends /updateNode again. A cluster FKAS now puts on another
// port fails with the reason: CAPI copies the endpoint into the Cluster once.
import * as pulumi from "@pulumi/pulumi";
import { applyObject, batchLabels, batchSelector, LABELS, labelValue } from "../enroll/bareMetalHostBatch";
import { BatchInputs, BatchOutputs, BatchStatus, HostDriver, makeBatchProvider, WaitContext } from "../enroll/batchProvider";
import { mapBounded } from "../enroll/bounded";
import { apiOutageRetry, KubeBatchArgs, kubeBatchCheck, kubeBatchProps, MANAGED_BY } from "../enroll/kubeBatchArgs";
import { followCollection, isKubeApiError, KubeClient } from "../enroll/kubeClient";
import type { KubeObject } from "../enroll/kubeClient";
import type { HostObservation } from "../enroll/tracker";
import { FkasClient, isFkasError, probeEndpoint, ProbeResult } from "./fkasClient";
import { batchKinds, CLUSTER_NAME_LABEL, clusterHosts, clusterManifests, ClusterSettings, ClusterSpec, collectionPath, Endpoint, KINDS, NodeImage } from "./render";

export interface WorkloadClusterBatchInputs extends BatchInputs<ClusterSpec> {
    readonly stack: string;
    readonly batch: number;
    /** Namespace of the clusters and of their hosts. */
    readonly namespace: string;
    /** Kubeconfig YAML of the management cluster (secret). */
    readonly kubeconfig: string;
    /** http://<host>:<port> of the one FKAS instance. */
    readonly fkasUrl: string;
    readonly kubernetesVersion: string;
    readonly image: NodeImage;
    readonly fieldManager: string;
    /** "Running": Machines Running, hosts provisioned, control plane ready, API server served. */
    readonly targetState: string;
    /** Requests in flight at once. */
    readonly concurrency: number;
    readonly watchTimeoutSeconds: number;
}

export type WorkloadClusterBatchOutputs = BatchOutputs<WorkloadClusterBatchInputs>;

// Module-level values are captured by value into `__provider`: plain arrays and objects only.
export const CLUSTER_LABEL = "metal3-scale-lab/cluster";
/** Annotation set on a host after its cluster was registered again, so FKAS's sidecar reconciles it (and sends /updateNode). */
export const REGISTERED_ANNOTATION = "metal3-scale-lab/fkas-registered";
export const TARGET = "Running";
const PER_CLUSTER_STATUS: readonly number[] = [400, 409, 422];
const CHECKSUM_TYPES: readonly string[] = ["md5", "sha256", "sha512"];
const FORMATS: readonly string[] = ["raw", "qcow2", "vdi", "vmdk"];

interface Machine extends KubeObject {
    readonly status?: { readonly phase?: string; readonly failureMessage?: string; readonly deprecated?: { v1beta1?: { failureMessage?: string } } };
}
interface Bmh extends KubeObject {
    readonly status?: { provisioning?: { state?: string }; operationalStatus?: string; errorType?: string; errorMessage?: string };
}
interface Kcp extends KubeObject {
    readonly spec?: { replicas?: number };
    readonly status?: { readyReplicas?: number };
}
interface Metal3Cluster extends KubeObject {
    readonly spec?: { controlPlaneEndpoint?: { host?: string; port?: number } };
}

/** What is known about one cluster's objects while waiting. */
export interface ClusterView {
    readonly machines: readonly Machine[];
    readonly hosts: Readonly<Record<string, Bmh | undefined>>;
    readonly kcp?: Kcp;
    /** Whether FKAS serves the API server (TCP probe); undefined = not probed yet. */
    readonly served?: boolean;
}

/** Machine phases in order (CAPI api/core/v1beta2/machine_phase_types.go). */
const MACHINE_PHASES: readonly string[] = ["Pending", "Provisioning", "Provisioned", "Running"];

/**
 * One cluster's state for the tracker: its first unmet condition in the
 * order things happen (hosts provisioned, Machines Running, control plane
 * ready, API server served), or an error from a host or a Machine.
 */
export function clusterState(c: ClusterSpec, view: ClusterView): HostObservation {
    const hostNames = clusterHosts(c);
    for (const name of hostNames) {
        const s = view.hosts[name]?.status;
        if (s?.operationalStatus === "error") {
            return { state: `host ${s.provisioning?.state || "error"}`, error: `${name}: ${s.errorType || "error"}: ${s.errorMessage || "(no message)"}` };
        }
    }
    for (const m of view.machines) {
        if (m.status?.phase === "Failed") {
            const why = m.status.failureMessage || m.status.deprecated?.v1beta1?.failureMessage || "(no message)";
            return { state: "machine Failed", error: `Machine ${m.metadata.name} failed: ${why}` };
        }
    }
    const hostStates = hostNames.map((n) => view.hosts[n]?.status?.provisioning?.state || (view.hosts[n] ? "new" : "absent"));
    const unprovisioned = hostStates.find((s) => s !== "provisioned");
    if (unprovisioned !== undefined) return { state: `host ${unprovisioned}` };
    if (view.machines.length < hostNames.length) return { state: view.machines.length === 0 ? "machine none" : `machine ${view.machines.length} of ${hostNames.length}` };
    const phases = view.machines.map((m) => m.status?.phase || "Pending");
    const behind = phases.filter((p) => p !== "Running").sort((a, b) => MACHINE_PHASES.indexOf(a) - MACHINE_PHASES.indexOf(b))[0];
    if (behind !== undefined) return { state: `machine ${behind}` };
    const kcp = view.kcp;
    if (!kcp || Number(kcp.status?.readyReplicas ?? 0) < Number(kcp.spec?.replicas ?? 1)) return { state: "control plane not ready" };
    if (view.served === undefined) return { state: "API server not probed" };
    if (!view.served) return { state: "API server not served" };
    return { state: TARGET };
}

/** The endpoint a Metal3Cluster records, if complete. */
export function endpointOf(m3c: Metal3Cluster | undefined): Endpoint | undefined {
    const e = m3c?.spec?.controlPlaneEndpoint;
    return e && typeof e.host === "string" && e.host !== "" && Number.isInteger(e.port) && Number(e.port) > 0 ? { host: e.host, port: Number(e.port) } : undefined;
}

/**
 * Which clusters to register with FKAS and in which order: the new ones
 * (never registered) after the lost ones (recorded endpoint no longer
 * served), those by recorded port so that a restarted FKAS, handing ports out
 * in order, gives each the port it had.
 */
export function registrationOrder(clusters: readonly ClusterSpec[], recorded: Readonly<Record<string, Endpoint | undefined>>, probes: Readonly<Record<string, ProbeResult | undefined>>): ClusterSpec[] {
    const lost = clusters.filter((c) => recorded[c.name] && probes[c.name] === "refused").sort((a, b) => recorded[a.name]!.port - recorded[b.name]!.port);
    const fresh = clusters.filter((c) => !recorded[c.name]);
    return [...lost, ...fresh];
}

function settings(inputs: WorkloadClusterBatchInputs): ClusterSettings {
    return {
        namespace: inputs.namespace,
        kubernetesVersion: inputs.kubernetesVersion,
        image: inputs.image,
        labels: batchLabels(inputs),
        hostLabel: LABELS.host,
        clusterLabel: CLUSTER_LABEL,
    };
}

/** Selects objects of these clusters by one label (`<key> in (...)`), in chunks that keep URLs short. */
function inSelectors(key: string, values: readonly string[], chunk = 50): string[] {
    const out: string[] = [];
    for (let i = 0; i < values.length; i += chunk) out.push(`${key} in (${values.slice(i, i + chunk).map(labelValue).join(",")})`);
    return out;
}

async function connect(inputs: WorkloadClusterBatchInputs, ctx: WaitContext): Promise<KubeClient> {
    return KubeClient.connect({ kubeconfig: inputs.kubeconfig, maxInFlight: Number(inputs.concurrency) || 10, ...apiOutageRetry(ctx), onRequest: (r) => ctx.tracker.request(r) });
}

async function listMetal3Clusters(client: KubeClient, inputs: WorkloadClusterBatchInputs): Promise<Record<string, Endpoint | undefined>> {
    const { list } = await client.list<Metal3Cluster>(collectionPath(KINDS.metal3Cluster, inputs.namespace), { labelSelector: batchSelector(inputs) }, [404]);
    return Object.fromEntries(list.items.map((m) => [m.metadata.name, endpointOf(m)]));
}

/** TCP probe of each cluster's recorded endpoint (none recorded: undefined). */
async function probeAll(endpoints: Readonly<Record<string, Endpoint | undefined>>, names: readonly string[]): Promise<Record<string, ProbeResult | undefined>> {
    const out: Record<string, ProbeResult | undefined> = {};
    await mapBounded(names, 20, async (name) => {
        const e = endpoints[name];
        out[name] = e === undefined ? undefined : await probeEndpoint(e);
    });
    return out;
}

/** Registers what needs it, then applies every cluster's objects; per-cluster problems mark that cluster failed. */
async function applyClusters(client: KubeClient, inputs: WorkloadClusterBatchInputs, clusters: readonly ClusterSpec[], ctx: WaitContext): Promise<void> {
    const recorded = await listMetal3Clusters(client, inputs);
    const probes = await probeAll(recorded, clusters.map((c) => c.name));
    const endpoints: Record<string, Endpoint> = {};
    for (const c of clusters) {
        const e = recorded[c.name];
        if (probes[c.name] === "open") endpoints[c.name] = e!;
        // Registering a cluster FKAS still serves would reset it there: only a refused port counts as lost.
        else if (probes[c.name] === "unreachable") ctx.tracker.observe(c.name, { state: "API server unreachable", error: `no answer from ${e!.host}:${e!.port} (not refused): is FKAS's host reachable from here?` });
    }
    const touch: ClusterSpec[] = [];
    const fkas = new FkasClient({ url: inputs.fkasUrl, backoffBaseMs: 250, remainingMs: () => ctx.deadline.remaining(), onRequest: (r) => ctx.tracker.request(r) });
    try {
        // One at a time: FKAS's registration maps have no lock.
        for (const c of registrationOrder(clusters, recorded, probes)) {
            if (ctx.deadline.passed()) break;
            let endpoint: Endpoint;
            try {
                endpoint = await fkas.register(c.name, inputs.namespace);
            } catch (err) {
                // FKAS down for longer than the retries: stop; the next up resumes.
                if (!isFkasError(err) || err.transient) throw err;
                ctx.tracker.observe(c.name, { state: "not registered", error: err.message });
                continue;
            }
            const before = recorded[c.name];
            if (before && (before.host !== endpoint.host || before.port !== endpoint.port)) {
                ctx.tracker.observe(c.name, {
                    state: "API server lost",
                    error: `FKAS no longer serves ${before.host}:${before.port} and registered the cluster again at ${endpoint.host}:${endpoint.port}; CAPI keeps the first endpoint, so delete and recreate this cluster`,
                });
                continue;
            }
            endpoints[c.name] = endpoint;
            if (before) touch.push(c);
            ctx.tracker.observe(c.name, { state: "registered" });
        }
    } finally {
        fkas.close();
    }

    const s = settings(inputs);
    const fieldManager = inputs.fieldManager || MANAGED_BY;
    let stop: unknown;
    await mapBounded(clusters, Math.max(1, Number(inputs.concurrency) || 10), async (c) => {
        const endpoint = endpoints[c.name];
        if (!endpoint || stop !== undefined || ctx.deadline.passed()) return;
        try {
            for (const m of clusterManifests(s, c, endpoint)) await applyObject(client, collectionPath(m.kind, inputs.namespace), m.name, m.body, fieldManager);
            if (touch.includes(c)) {
                // A host event makes FKAS's sidecar look at the host again and send /updateNode to the new FKAS.
                const at = new Date().toISOString();
                for (const host of clusterHosts(c)) {
                    await client.request("PATCH", `${collectionPath(KINDS.bareMetalHost, inputs.namespace)}/${encodeURIComponent(host)}`, {
                        query: { fieldManager },
                        body: { metadata: { annotations: { [REGISTERED_ANNOTATION]: at } } },
                        contentType: "application/merge-patch+json",
                        okStatuses: [404],
                    });
                }
            }
            ctx.tracker.observe(c.name, { state: "applied" });
        } catch (err) {
            if (isKubeApiError(err) && PER_CLUSTER_STATUS.includes(err.status)) ctx.tracker.observe(c.name, { state: "not applied", error: err.message });
            else stop ??= err;
        }
    });
    if (stop !== undefined) throw stop;
}

/** Follows Machines, hosts and control planes of the batch (one list + watch each) until every cluster settles. */
async function waitForClusters(client: KubeClient, inputs: WorkloadClusterBatchInputs, ctx: WaitContext): Promise<void> {
    const clusters = inputs.hosts;
    const byName: Record<string, ClusterSpec> = Object.fromEntries(clusters.map((c) => [c.name, c]));
    const clusterOfHost: Record<string, string> = {};
    for (const c of clusters) for (const h of clusterHosts(c)) clusterOfHost[h] = c.name;
    const machines: Record<string, Record<string, Machine>> = Object.fromEntries(clusters.map((c) => [c.name, {}]));
    const hosts: Record<string, Bmh | undefined> = {};
    const kcps: Record<string, Kcp | undefined> = {};
    const served: Record<string, boolean | undefined> = {};
    const endpoints = await listMetal3Clusters(client, inputs);
    // Failures recorded before the wait (not registered, not applied, lost) stay as they are.
    const frozen = clusters.filter((c) => ctx.tracker.stateOf(c.name)?.error !== undefined).map((c) => c.name);

    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const update = (name: string) => {
        const c = byName[name];
        if (!c || frozen.includes(name)) return;
        ctx.tracker.observe(name, clusterState(c, { machines: Object.values(machines[name]), hosts, kcp: kcps[name], served: served[name] }));
        if (ctx.tracker.settled()) settle();
    };
    const updateAll = () => clusters.forEach((c) => update(c.name));
    updateAll();

    // The API servers of clusters otherwise done are probed (TCP, not the Kubernetes API) at most every 2 s.
    let probing = false;
    let lastProbe = 0;
    const probe = () => {
        if (probing || Date.now() - lastProbe < 2000) return;
        const due = clusters.filter((c) => ["API server not probed", "API server not served"].includes(ctx.tracker.stateOf(c.name)?.state ?? ""));
        if (due.length === 0) return;
        probing = true;
        lastProbe = Date.now();
        const missing = due.some((c) => !endpoints[c.name]);
        (missing ? listMetal3Clusters(client, inputs).then((e) => Object.assign(endpoints, e)) : Promise.resolve(endpoints))
            .then(() => probeAll(endpoints, due.map((c) => c.name)))
            .then((result) => {
                for (const [name, r] of Object.entries(result)) served[name] = r === "open";
                due.forEach((c) => update(c.name));
            })
            .catch(() => undefined)
            .finally(() => (probing = false));
    };

    const ns = inputs.namespace;
    const common = {
        watchTimeoutSeconds: Number(inputs.watchTimeoutSeconds) || 300,
        finished: () => ctx.tracker.settled(),
        remaining: () => ctx.deadline.remaining(),
        until: settled,
    };
    const follow = <T extends KubeObject>(path: string, labelSelector: string, keyOf: (o: T) => string | undefined, put: (o: T, gone: boolean) => void, tick?: () => void) =>
        followCollection<T>(client, {
            ...common,
            path,
            labelSelector,
            onList(items) {
                for (const o of items) put(o, false);
                updateAll();
            },
            onEvent(type, o) {
                put(o, type === "DELETED");
                const name = keyOf(o);
                if (name) update(name);
            },
            tick,
        });
    const clusterNames = clusters.map((c) => c.name);
    const hostNames = Object.keys(clusterOfHost);
    await Promise.all([
        follow<Machine>(
            collectionPath(KINDS.machine, ns),
            inSelectors(CLUSTER_NAME_LABEL, clusterNames, clusterNames.length)[0],
            (m) => m.metadata.labels?.[CLUSTER_NAME_LABEL],
            (m, gone) => {
                const c = m.metadata.labels?.[CLUSTER_NAME_LABEL];
                if (!c || !machines[c]) return;
                if (gone) delete machines[c][m.metadata.name];
                else machines[c][m.metadata.name] = m;
            },
            () => {
                probe();
                ctx.tracker.report();
            },
        ),
        follow<Bmh>(
            collectionPath(KINDS.bareMetalHost, ns),
            inSelectors(LABELS.host, hostNames, hostNames.length)[0],
            (h) => clusterOfHost[h.metadata.name],
            (h, gone) => {
                if (h.metadata.name in clusterOfHost) hosts[h.metadata.name] = gone ? undefined : h;
            },
        ),
        follow<Kcp>(
            collectionPath(KINDS.kubeadmControlPlane, ns),
            batchSelector(inputs),
            (k) => k.metadata.name,
            (k, gone) => {
                if (k.metadata.name in byName) kcps[k.metadata.name] = gone ? undefined : k;
            },
        ),
    ]);
}

/** Deletes the Clusters (CAPI tears down what they own and CAPM3 releases the hosts), waits for hosts `available`, then removes the templates. */
async function removeClusters(client: KubeClient, inputs: WorkloadClusterBatchInputs, clusters: readonly ClusterSpec[], ctx: WaitContext): Promise<void> {
    const ns = inputs.namespace;
    const names = clusters.map((c) => c.name);
    const all = names.length >= inputs.hosts.length && inputs.hosts.every((c) => names.includes(c.name));
    const selectors = all ? [batchSelector(inputs)] : inSelectors(CLUSTER_LABEL, names).map((s) => `${batchSelector(inputs)},${s}`);
    for (const selector of selectors) await client.request("DELETE", collectionPath(KINDS.cluster, ns), { query: { labelSelector: selector }, okStatuses: [404] });

    const present: Record<string, KubeObject | undefined> = {};
    const hosts: Record<string, Bmh | undefined> = {};
    const clusterOfHost: Record<string, string> = {};
    for (const c of clusters) for (const h of clusterHosts(c)) clusterOfHost[h] = c.name;
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const update = (name: string) => {
        const c = clusters.find((x) => x.name === name);
        if (!c) return;
        const cluster = present[name];
        if (cluster) ctx.tracker.observe(name, { state: cluster.metadata.deletionTimestamp ? "deleting" : "not deleted yet" });
        else {
            // Hosts gone altogether (their batch deleted first) count as released.
            const busy = clusterHosts(c).map((h) => hosts[h]?.status?.provisioning?.state).find((s) => s !== undefined && s !== "available");
            ctx.tracker.observe(name, { state: busy ? `host ${busy}` : "deleted" });
        }
        if (ctx.tracker.settled()) settle();
    };
    const updateAll = () => clusters.forEach((c) => update(c.name));
    const common = { watchTimeoutSeconds: Number(inputs.watchTimeoutSeconds) || 300, finished: () => ctx.tracker.settled(), remaining: () => ctx.deadline.remaining(), until: settled };
    const hostNames = Object.keys(clusterOfHost);
    await Promise.all([
        followCollection<KubeObject>(client, {
            ...common,
            path: collectionPath(KINDS.cluster, ns),
            labelSelector: batchSelector(inputs),
            onList(items) {
                for (const n of names) present[n] = undefined;
                for (const o of items) if (names.includes(o.metadata.name)) present[o.metadata.name] = o;
                updateAll();
            },
            onEvent(type, o) {
                if (!names.includes(o.metadata.name)) return;
                present[o.metadata.name] = type === "DELETED" ? undefined : o;
                update(o.metadata.name);
            },
            tick: () => ctx.tracker.report(),
        }),
        followCollection<Bmh>(client, {
            ...common,
            path: collectionPath(KINDS.bareMetalHost, ns),
            labelSelector: inSelectors(LABELS.host, hostNames, hostNames.length)[0],
            onList(items) {
                for (const h of items) if (h.metadata.name in clusterOfHost) hosts[h.metadata.name] = h;
                updateAll();
            },
            onEvent(type, h) {
                if (!(h.metadata.name in clusterOfHost)) return;
                hosts[h.metadata.name] = type === "DELETED" ? undefined : h;
                update(clusterOfHost[h.metadata.name]);
            },
        }),
    ]);
    if (!ctx.tracker.settled()) return;
    // Templates and anything CAPI did not own (it deletes control plane and infrastructure cluster itself).
    for (const kind of batchKinds(clusters.some((c) => c.workerHosts.length > 0)).filter((k) => k !== KINDS.cluster)) {
        for (const selector of selectors) await client.request("DELETE", collectionPath(kind, ns), { query: { labelSelector: selector }, okStatuses: [404] });
    }
}

const driver: HostDriver<ClusterSpec, WorkloadClusterBatchInputs> = {
    unit: "clusters",
    connectionKeys: ["kubeconfig", "fkasUrl", "concurrency", "timeoutSeconds", "watchTimeoutSeconds"],

    check(inputs) {
        const failures = kubeBatchCheck(inputs);
        const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
        if (typeof inputs.fkasUrl !== "string" || !/^http:\/\/[^\s/]+(:\d+)?\/?$/.test(inputs.fkasUrl)) failures.push({ property: "fkasUrl", reason: `fkasUrl must be http://<host>:<port> of FKAS, got ${JSON.stringify(inputs.fkasUrl)}` });
        if (typeof inputs.kubernetesVersion !== "string" || !/^v\d+\.\d+\.\d+$/.test(inputs.kubernetesVersion)) {
            failures.push({ property: "kubernetesVersion", reason: `kubernetesVersion must look like v1.34.1, got ${JSON.stringify(inputs.kubernetesVersion)}` });
        }
        const image = inputs.image ?? ({} as NodeImage);
        if (typeof image.url !== "string" || !/^https?:\/\/\S+$/.test(image.url)) failures.push({ property: "image", reason: `image.url must be an http(s) URL, got ${JSON.stringify(image.url)}` });
        if (typeof image.checksum !== "string" || image.checksum === "") failures.push({ property: "image", reason: "image.checksum must be a checksum or a URL to one" });
        if (!CHECKSUM_TYPES.includes(image.checksumType)) failures.push({ property: "image", reason: `image.checksumType must be one of ${CHECKSUM_TYPES.join(", ")}; got ${image.checksumType}` });
        if (!FORMATS.includes(image.format)) failures.push({ property: "image", reason: `image.format must be one of ${FORMATS.join(", ")}; got ${image.format}` });
        if (inputs.targetState !== TARGET) failures.push({ property: "targetState", reason: `targetState must be ${TARGET}, got ${inputs.targetState}` });
        const taken: Record<string, string> = {};
        for (const [i, c] of inputs.hosts.entries()) {
            if (!c || typeof c.name !== "string") continue; // reported by the shared check
            const what = `hosts[${i}] (cluster ${c.name})`;
            // Cluster names end up in label values and in `<name>-controlplane-template`.
            if (c.name.length > 40 || !dns1123Label.test(c.name)) failures.push({ property: "hosts", reason: `${what}: name must be a DNS-1123 label of at most 40 characters` });
            if (!Array.isArray(c.workerHosts)) failures.push({ property: "hosts", reason: `${what}: workerHosts must be a list of host names` });
            for (const h of [c.controlPlaneHost, ...(Array.isArray(c.workerHosts) ? c.workerHosts : [])]) {
                if (typeof h !== "string" || h === "") failures.push({ property: "hosts", reason: `${what}: every host must be a BareMetalHost name` });
                else if (taken[h]) failures.push({ property: "hosts", reason: `${what}: host ${h} is also reserved for cluster ${taken[h]}` });
                else taken[h] = c.name;
            }
        }
        return failures;
    },

    async apply(inputs, clusters, ctx) {
        const client = await connect(inputs, ctx);
        const ticker = setInterval(() => ctx.tracker.report(), 1000);
        try {
            await applyClusters(client, inputs, clusters, ctx);
        } finally {
            clearInterval(ticker);
            client.close();
        }
    },

    async waitForHosts(inputs, ctx) {
        const client = await connect(inputs, ctx);
        try {
            await waitForClusters(client, inputs, ctx);
        } finally {
            client.close();
        }
    },

    async observe(inputs, ctx) {
        const client = await connect(inputs, ctx);
        const ns = inputs.namespace;
        try {
            const clusterNames = inputs.hosts.map((c) => c.name);
            const hostNames = inputs.hosts.flatMap(clusterHosts);
            const endpoints = await listMetal3Clusters(client, inputs);
            const [machines, bmhs, kcps] = await Promise.all([
                client.list<Machine>(collectionPath(KINDS.machine, ns), { labelSelector: inSelectors(CLUSTER_NAME_LABEL, clusterNames, clusterNames.length)[0] }, [404]),
                client.list<Bmh>(collectionPath(KINDS.bareMetalHost, ns), { labelSelector: inSelectors(LABELS.host, hostNames, hostNames.length)[0] }, [404]),
                client.list<Kcp>(collectionPath(KINDS.kubeadmControlPlane, ns), { labelSelector: batchSelector(inputs) }, [404]),
            ]);
            const probes = await probeAll(endpoints, clusterNames);
            const hosts: Record<string, Bmh> = Object.fromEntries(bmhs.list.items.map((h) => [h.metadata.name, h]));
            for (const c of inputs.hosts) {
                const e = endpoints[c.name];
                if (!(c.name in endpoints)) {
                    ctx.tracker.observe(c.name, { state: "absent" });
                    continue;
                }
                const view = {
                    machines: machines.list.items.filter((m) => m.metadata.labels?.[CLUSTER_NAME_LABEL] === c.name),
                    hosts,
                    kcp: kcps.list.items.find((k) => k.metadata.name === c.name),
                    served: probes[c.name] === undefined ? undefined : probes[c.name] === "open",
                };
                // Its control-plane host provisioned (FKAS's sidecar has sent /updateNode) but nothing at the endpoint:
                // FKAS lost the cluster (a restart), whatever CAPI reports yet; the next up registers it again.
                if (e && probes[c.name] !== "open" && hosts[c.controlPlaneHost]?.status?.provisioning?.state === "provisioned") {
                    ctx.tracker.observe(c.name, { state: "API server gone", error: `nothing answers at ${e.host}:${e.port} (FKAS restarted?): the next up registers the cluster again` });
                } else ctx.tracker.observe(c.name, clusterState(c, view));
            }
        } finally {
            client.close();
        }
    },

    async remove(inputs, clusters, ctx) {
        const client = await connect(inputs, ctx);
        try {
            await removeClusters(client, inputs, clusters, ctx);
        } finally {
            client.close();
        }
    },
};

export const workloadClusterBatchProvider = makeBatchProvider(driver);

export interface WorkloadClusterBatchArgs extends KubeBatchArgs {
    readonly namespace: pulumi.Input<string>;
    readonly clusters: pulumi.Input<pulumi.Input<ClusterSpec>[]>;
    readonly fkasUrl: pulumi.Input<string>;
    readonly kubernetesVersion: pulumi.Input<string>;
    readonly image: pulumi.Input<NodeImage>;
    readonly timeoutSeconds: pulumi.Input<number>;
}

export class WorkloadClusterBatch extends pulumi.dynamic.Resource {
    public readonly status!: pulumi.Output<BatchStatus>;
    /** The clusters (the batch core calls its items `hosts`). */
    public readonly hosts!: pulumi.Output<ClusterSpec[]>;
    public readonly label!: pulumi.Output<string>;

    constructor(name: string, args: WorkloadClusterBatchArgs, opts?: pulumi.CustomResourceOptions) {
        const { clusters, ...rest } = args;
        const props = { ...rest, ...kubeBatchProps(args, "cluster-batch"), hosts: clusters, targetState: TARGET };
        super(workloadClusterBatchProvider, name, props, { ...opts, additionalSecretOutputs: ["kubeconfig"] }, "clusters", "WorkloadClusterBatch");
    }
}
