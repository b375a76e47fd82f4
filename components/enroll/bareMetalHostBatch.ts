// BareMetalHostBatch: a batch of hosts enrolled through the Bare Metal
// Operator (modes `bmo` and `capi`): per host a BMC credentials Secret and a
// BareMetalHost, applied with server-side apply under one field manager, then
// followed with ONE list + ONE watch per batch until every host is in the
// target state. Budget: 2 requests per host to enroll, ~2 per batch to wait,
// ~4 per batch to delete (deletecollection by label selector).
import * as pulumi from "@pulumi/pulumi";
import { mapBounded } from "./bounded";
import { BatchInputs, BatchOutputs, BatchStatus, HostDriver, makeBatchProvider, WaitContext } from "./batchProvider";
import type { HostObservation } from "./tracker";
import { apiOutageRetry, KubeBatchArgs, kubeBatchCheck, kubeBatchProps, MANAGED_BY } from "./kubeBatchArgs";
import { followCollection, isKubeApiError, KubeClient, redactText } from "./kubeClient";
import type { KubeApiError, KubeObject } from "./kubeClient";

export interface BmhSpec {
    /** BareMetalHost name (DNS-1123, at most 63 characters: it is also a label value). */
    readonly name: string;
    readonly bootMac: string;
    /** e.g. redfish+http://192.168.111.1:8001/redfish/v1/Systems/<uuid> */
    readonly bmcAddress: string;
    readonly bootMode: "legacy" | "UEFI" | "UEFISecureBoot";
    readonly online: boolean;
    readonly disableCertificateVerification?: boolean;
    /** `disabled` skips inspection; absent means BMO's default, agent inspection (BMO v0.13 spec.inspectionMode). */
    readonly inspectionMode?: "agent" | "disabled";
}

export interface BareMetalHostBatchInputs extends BatchInputs<BmhSpec> {
    /** Stack name (a label on every object). */
    readonly stack: string;
    /** Batch index within the stack (a label on every object). */
    readonly batch: number;
    readonly namespace: string;
    /** Kubeconfig YAML of the management cluster (secret). */
    readonly kubeconfig: string;
    readonly bmcUsername: string;
    /** BMC password (secret), stored in each host's `<host>-bmc-secret`. */
    readonly bmcPassword: string;
    /** Server-side apply field manager. */
    readonly fieldManager: string;
    /** `.status.provisioning.state` every host must reach; later lifecycle states count too (see doneStates). */
    readonly targetState: string;
    /** Requests in flight at once. */
    readonly concurrency: number;
    /** Each watch request ends after this long and is resumed from its last resourceVersion. */
    readonly watchTimeoutSeconds: number;
    /** A host in error fails once BMO's errorCount reaches this (below it BMO is retrying); default BMH_ERROR_POLICY. */
    readonly maxErrorCount?: number;
    /** ...or once one error has lasted this long without BMO clearing it (0: any error fails); default BMH_ERROR_POLICY. */
    readonly errorGraceSeconds?: number;
}

export type BareMetalHostBatchOutputs = BatchOutputs<BareMetalHostBatchInputs>;

// Module-level values are captured by value into `__provider`: plain arrays and objects only.
const BMH_API = "/apis/metal3.io/v1alpha1";
export const LABELS = {
    stack: "metal3-scale-lab/stack",
    batch: "metal3-scale-lab/batch",
    batchIndex: "metal3-scale-lab/batch-index",
    host: "metal3-scale-lab/host",
    managedBy: "app.kubernetes.io/managed-by",
} as const;
/** BMH lifecycle in order: reaching a state means every earlier one was passed. */
const LIFECYCLE: readonly string[] = ["registering", "inspecting", "preparing", "available", "provisioning", "provisioned"];
/** States a target may name: the lifecycle plus the two terminal states outside it. */
const TARGETS: readonly string[] = [...LIFECYCLE, "externally provisioned", "unmanaged"];
const BOOT_MODES: readonly string[] = ["legacy", "UEFI", "UEFISecureBoot"];
/** BMO v0.13 spec.inspectionMode enum (apis/metal3.io/v1alpha1/baremetalhost_types.go: Enum=disabled;agent). */
const INSPECTION_MODES: readonly string[] = ["agent", "disabled"];
/** Kubernetes answers that concern one object (the others stop the whole batch: auth, missing CRD/namespace...). */
const PER_HOST_STATUS: readonly number[] = [400, 409, 422];

/** A validating webhook's denial (BMO's `baremetalhost.metal3.io`) concerns one object; any other 403 (RBAC) stops the batch. */
export function isAdmissionDenial(err: unknown): err is KubeApiError {
    return isKubeApiError(err) && err.status === 403 && /admission webhook "[^"]*" denied the request/.test(err.message);
}

/**
 * States that count as `target` reached. A host that went past `available`
 * (provisioning, provisioned, or deprovisioning back to available) was
 * available and has been claimed, e.g. by CAPI in mode `capi`: on a resumed
 * or re-run batch it is adopted as done instead of waited for forever.
 */
export function doneStates(target: string): string[] {
    const i = LIFECYCLE.indexOf(target);
    if (i < 0) return [target];
    const later = LIFECYCLE.slice(i);
    if (i <= LIFECYCLE.indexOf("available")) later.push("deprovisioning");
    if (i <= LIFECYCLE.indexOf("provisioned")) later.push("externally provisioned");
    return later;
}

/** A valid label value (<= 63 chars of [A-Za-z0-9_.-], alphanumeric at both ends) derived from any text. */
export function labelValue(text: string): string {
    let v = String(text).replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
    if (v.length > 63) {
        // FNV-1a: keeps distinct long texts distinct after truncation.
        let h = 0x811c9dc5;
        for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
        v = `${v.slice(0, 54).replace(/[^A-Za-z0-9]+$/, "")}-${h.toString(16).padStart(8, "0")}`;
    }
    return v || "none";
}

export function batchLabels(inputs: Pick<BareMetalHostBatchInputs, "stack" | "label" | "batch">): Record<string, string> {
    return {
        [LABELS.stack]: labelValue(inputs.stack),
        [LABELS.batch]: labelValue(inputs.label),
        [LABELS.batchIndex]: String(inputs.batch),
        [LABELS.managedBy]: MANAGED_BY,
    };
}

/** Selects every object of the batch, or only the named hosts'. */
export function batchSelector(inputs: Pick<BareMetalHostBatchInputs, "stack" | "label">, hostNames?: readonly string[]): string {
    const parts = [`${LABELS.stack}=${labelValue(inputs.stack)}`, `${LABELS.batch}=${labelValue(inputs.label)}`];
    if (hostNames) parts.push(`${LABELS.host} in (${hostNames.join(",")})`);
    return parts.join(",");
}

export function secretName(host: string): string {
    return `${host}-bmc-secret`;
}

export function secretManifest(inputs: BareMetalHostBatchInputs, spec: BmhSpec) {
    return {
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
            name: secretName(spec.name),
            namespace: inputs.namespace,
            labels: { ...batchLabels(inputs), [LABELS.host]: spec.name, "environment.metal3.io": "baremetal" },
        },
        type: "Opaque",
        stringData: { username: inputs.bmcUsername, password: inputs.bmcPassword },
    };
}

export function bmhManifest(inputs: BareMetalHostBatchInputs, spec: BmhSpec) {
    return {
        apiVersion: "metal3.io/v1alpha1",
        kind: "BareMetalHost",
        metadata: { name: spec.name, namespace: inputs.namespace, labels: { ...batchLabels(inputs), [LABELS.host]: spec.name } },
        spec: {
            bmc: { address: spec.bmcAddress, credentialsName: secretName(spec.name), disableCertificateVerification: spec.disableCertificateVerification ?? false },
            bootMACAddress: spec.bootMac,
            bootMode: spec.bootMode,
            online: spec.online,
            ...(spec.inspectionMode ? { inspectionMode: spec.inspectionMode } : {}),
        },
    };
}

interface Bmh extends KubeObject {
    readonly status?: {
        readonly provisioning?: { readonly state?: string };
        readonly operationalStatus?: string;
        readonly errorType?: string;
        readonly errorMessage?: string;
        readonly errorCount?: number;
    };
}

/**
 * When a BareMetalHost in error (`operationalStatus: error`) counts as failed. BMO retries errors
 * itself (BMO v0.13.2 internal/controller/metal3.io/action_result.go calculateBackoff): after the n-th
 * error in a state it waits 2^n minutes minus up to half (1–2 min, 2–4, 4–8...), restarts the
 * operation with the error cleared and resets errorCount to 0 once the state succeeds. So an error is
 * transient until errorCount reaches `maxErrorCount` (4: past BMO's own retryCount of 3,
 * host_state_machine.go; about 7–14 min of retries), or until one error lasts `errorGraceSeconds`
 * without BMO clearing it (600 s: more than the 8 min BMO waits at most before retrying an error
 * counted 3, so BMO is not retrying it; it waits for a fix, e.g. of the BMC Secret). The state decides
 * first: a host already in the target state is done, an error there (a power management error on an
 * `available` host) is shown only.
 */
export const BMH_ERROR_POLICY = { maxErrorCount: 4, errorGraceSeconds: 600 };

export interface BmhErrorPolicy {
    readonly maxErrorCount: number;
    readonly errorGraceMs: number;
}

/** The batch's error policy: its inputs, or BMH_ERROR_POLICY's defaults. */
export function errorPolicy(inputs: Pick<BareMetalHostBatchInputs, "maxErrorCount" | "errorGraceSeconds">): BmhErrorPolicy {
    const given = (v: unknown): v is number => v !== undefined && v !== null && Number.isFinite(Number(v));
    return {
        maxErrorCount: given(inputs.maxErrorCount) ? Number(inputs.maxErrorCount) : BMH_ERROR_POLICY.maxErrorCount,
        errorGraceMs: (given(inputs.errorGraceSeconds) ? Number(inputs.errorGraceSeconds) : BMH_ERROR_POLICY.errorGraceSeconds) * 1000,
    };
}

/**
 * What the tracker is told about a BareMetalHost while waiting for `target`, under `policy`, its
 * current error having lasted `errorForMs`. BMO's message is shown whether the error fails the host
 * (`error`) or is being retried (`retrying`), cleared of `secrets` (it may quote the BMC's answer).
 */
export function observeBmh(bmh: Bmh, target: string, secrets: readonly string[] = [], policy: BmhErrorPolicy = errorPolicy({}), errorForMs = 0): HostObservation {
    const status = bmh.status ?? {};
    const deleting = !!bmh.metadata.deletionTimestamp;
    const state = status.provisioning?.state || (deleting ? "deleting" : "new");
    // Later lifecycle states count as the target (the tracker compares states exactly).
    const done = !deleting && doneStates(target).includes(state);
    const shown = done ? target : state;
    if (status.operationalStatus !== "error") return { state: shown };
    const message = redactText(`${status.errorType || "error"}: ${status.errorMessage || "(no message)"}`, secrets);
    const count = Number(status.errorCount) || 0;
    if (!done && (deleting || count >= policy.maxErrorCount || errorForMs >= policy.errorGraceMs)) return { state: shown, error: message };
    return { state: shown, retrying: `${message} (errorCount ${count}; BMO retries)` };
}

/** How long each host has been in error without a break: the clock of the policy's grace period. */
export function errorClock(now: () => number = Date.now): (bmh: Bmh) => number {
    const since: Record<string, number> = {};
    return (bmh) => {
        const name = bmh.metadata.name;
        if (bmh.status?.operationalStatus !== "error") {
            delete since[name];
            return 0;
        }
        since[name] ??= now();
        return now() - since[name];
    };
}

function paths(namespace: string) {
    const ns = encodeURIComponent(namespace);
    return {
        secrets: `/api/v1/namespaces/${ns}/secrets`,
        bmhs: `${BMH_API}/namespaces/${ns}/baremetalhosts`,
    };
}

async function connect(inputs: BareMetalHostBatchInputs, ctx: WaitContext): Promise<KubeClient> {
    return KubeClient.connect({
        kubeconfig: inputs.kubeconfig,
        maxInFlight: Number(inputs.concurrency) || 10,
        redact: [inputs.bmcPassword],
        ...apiOutageRetry(ctx),
        onRequest: (r) => ctx.tracker.request(r),
        // Shown in the progress under the object's name (a host, or its Secret): the API server accepted the write but says something about it.
        onWarning: (warning, method, path) => ctx.tracker.note(decodeURIComponent(path.split("/").pop() ?? path), `Kubernetes ${method} warning: ${warning}`),
    });
}

/**
 * Server-side apply of one object, never forced: a field another manager set to another value
 * (kubectl edit, a controller) is a 409 naming the field and the manager, not silently taken back.
 * `fieldValidation=Strict`: a field the installed CRD does not know (a typo, or a field newer than
 * the pinned BMO/CAPI release) is a 400 naming it, instead of being pruned with only a warning.
 */
export async function applyObject(client: KubeClient, collection: string, name: string, manifest: unknown, fieldManager: string): Promise<KubeObject | undefined> {
    const { data } = await client.request<KubeObject | undefined>("PATCH", `${collection}/${encodeURIComponent(name)}`, {
        query: { fieldManager, fieldValidation: "Strict" },
        body: manifest,
        contentType: "application/apply-patch+yaml",
    });
    return data;
}

interface OwnerRef {
    readonly apiVersion?: string;
    readonly kind?: string;
    readonly name?: string;
    readonly uid?: string;
}

/**
 * A host's Secret's owner references with the reference to an earlier BareMetalHost of the same name
 * replaced by one to `bmh`; undefined when none is stale. BMO owns the Secret by the host it claimed it
 * for: once that host was deleted and re-created, the Secret still names the old uid, and a lagging
 * garbage collector deletes the re-applied Secret unless it has a live owner by then.
 */
export function refreshedOwnerRefs(secret: KubeObject | undefined, bmh: KubeObject | undefined): OwnerRef[] | undefined {
    const name = bmh?.metadata?.name;
    const uid = (bmh?.metadata as { uid?: string } | undefined)?.uid;
    if (!name || !uid) return undefined;
    const refs = ((secret?.metadata as { ownerReferences?: OwnerRef[] } | undefined)?.ownerReferences ?? []).filter((r) => r && typeof r === "object");
    const isHost = (r: OwnerRef) => r.kind === "BareMetalHost" && String(r.apiVersion ?? "").startsWith("metal3.io/") && r.name === name;
    if (!refs.some((r) => isHost(r) && r.uid !== uid)) return undefined;
    // The reference BMO itself writes (controllerutil.SetOwnerReference: no controller flag).
    return [...refs.filter((r) => !isHost(r)), { apiVersion: "metal3.io/v1alpha1", kind: "BareMetalHost", name, uid }];
}

/** Points a re-applied host's Secret at its new BareMetalHost (1 request, only after a re-create); re-applies it if it was collected meanwhile. */
async function claimForNewHost(client: KubeClient, inputs: BareMetalHostBatchInputs, spec: BmhSpec, secret: KubeObject | undefined, bmh: KubeObject | undefined, fieldManager: string): Promise<void> {
    const refs = refreshedOwnerRefs(secret, bmh);
    if (!refs) return;
    const p = paths(inputs.namespace);
    const { status } = await client.request("PATCH", `${p.secrets}/${encodeURIComponent(secretName(spec.name))}`, {
        query: { fieldManager },
        body: { metadata: { ownerReferences: refs } },
        contentType: "application/merge-patch+json",
        okStatuses: [404],
    });
    if (status === 404) await applyObject(client, p.secrets, secretName(spec.name), secretManifest(inputs, spec), fieldManager);
}

/**
 * Applies each host's Secret then BareMetalHost (2 requests per host; a
 * re-created host one more, see refreshedOwnerRefs). An error about one
 * object (400, 409, 422, an admission webhook's 403 denial) marks that host
 * failed and the others go on; any other error (auth, missing namespace or
 * CRD) stops the batch.
 */
async function applyHosts(client: KubeClient, inputs: BareMetalHostBatchInputs, hosts: readonly BmhSpec[], ctx: WaitContext): Promise<void> {
    const p = paths(inputs.namespace);
    const fieldManager = inputs.fieldManager || MANAGED_BY;
    let stop: unknown;
    const ticker = setInterval(() => ctx.tracker.report(), 1000);
    try {
        // Each worker runs a host's two requests in sequence: `concurrency` requests in flight.
        await mapBounded(hosts, Math.max(1, Number(inputs.concurrency) || 10), async (spec) => {
            // Past the deadline the rest stay unapplied ("still waiting"): the next up resumes them.
            if (stop !== undefined || ctx.deadline.passed()) return;
            try {
                const secret = await applyObject(client, p.secrets, secretName(spec.name), secretManifest(inputs, spec), fieldManager);
                const bmh = await applyObject(client, p.bmhs, spec.name, bmhManifest(inputs, spec), fieldManager);
                await claimForNewHost(client, inputs, spec, secret, bmh, fieldManager);
                if (!ctx.tracker.stateOf(spec.name)) ctx.tracker.observe(spec.name, { state: "applied" });
            } catch (err) {
                if ((isKubeApiError(err) && PER_HOST_STATUS.includes(err.status)) || isAdmissionDenial(err)) {
                    ctx.tracker.observe(spec.name, { state: "not applied", error: err.message });
                } else {
                    stop ??= err;
                }
            }
        });
    } finally {
        clearInterval(ticker);
    }
    if (stop !== undefined) throw stop;
}

const driver: HostDriver<BmhSpec, BareMetalHostBatchInputs> = {
    // How to wait, not what to create: changing them does not re-run a finished batch.
    connectionKeys: ["kubeconfig", "concurrency", "timeoutSeconds", "watchTimeoutSeconds", "maxErrorCount", "errorGraceSeconds"],

    secrets: (inputs) => [inputs.bmcPassword],

    check(inputs) {
        const failures = kubeBatchCheck(inputs);
        if (typeof inputs.bmcUsername !== "string" || inputs.bmcUsername === "") failures.push({ property: "bmcUsername", reason: "bmcUsername must be a non-empty string" });
        if (typeof inputs.bmcPassword !== "string" || inputs.bmcPassword === "") failures.push({ property: "bmcPassword", reason: "bmcPassword must be a non-empty string" });
        if (inputs.maxErrorCount !== undefined && !(Number.isInteger(Number(inputs.maxErrorCount)) && Number(inputs.maxErrorCount) >= 1)) {
            failures.push({ property: "maxErrorCount", reason: `maxErrorCount must be an integer >= 1 (BMO's errorCount at which a host fails), got ${inputs.maxErrorCount}` });
        }
        if (inputs.errorGraceSeconds !== undefined && !(Number(inputs.errorGraceSeconds) >= 0)) {
            failures.push({ property: "errorGraceSeconds", reason: `errorGraceSeconds must be a number >= 0, got ${inputs.errorGraceSeconds}` });
        }
        if (!TARGETS.includes(inputs.targetState)) failures.push({ property: "targetState", reason: `targetState must be one of ${TARGETS.join(", ")}; got ${inputs.targetState}` });
        for (const [i, h] of inputs.hosts.entries()) {
            if (!h || typeof h.name !== "string") continue; // reported by the shared check
            const what = `hosts[${i}] (${h.name})`;
            if (h.name.length > 63 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(h.name)) failures.push({ property: "hosts", reason: `${what}: name must be a lowercase DNS-1123 name of at most 63 characters` });
            if (typeof h.bootMac !== "string" || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(h.bootMac)) failures.push({ property: "hosts", reason: `${what}: bootMac ${h.bootMac} is not a MAC address` });
            if (typeof h.bmcAddress !== "string" || !/^[a-z][a-z0-9+.-]*:\/\/[^\s/]+/i.test(h.bmcAddress)) failures.push({ property: "hosts", reason: `${what}: bmcAddress ${h.bmcAddress} is not a BMC URL (e.g. redfish+http://host:port/redfish/v1/Systems/<uuid>)` });
            if (!BOOT_MODES.includes(h.bootMode)) failures.push({ property: "hosts", reason: `${what}: bootMode must be one of ${BOOT_MODES.join(", ")}; got ${h.bootMode}` });
            if (typeof h.online !== "boolean") failures.push({ property: "hosts", reason: `${what}: online must be true or false` });
            if (h.inspectionMode !== undefined && !INSPECTION_MODES.includes(h.inspectionMode)) {
                failures.push({ property: "hosts", reason: `${what}: inspectionMode must be one of ${INSPECTION_MODES.join(", ")}; got ${h.inspectionMode}` });
            }
            if (h.disableCertificateVerification !== undefined && typeof h.disableCertificateVerification !== "boolean") {
                failures.push({ property: "hosts", reason: `${what}: disableCertificateVerification must be true or false` });
            }
        }
        return failures;
    },

    async apply(inputs, hosts, ctx) {
        const client = await connect(inputs, ctx);
        try {
            await applyHosts(client, inputs, hosts, ctx);
        } finally {
            client.close();
        }
    },

    async waitForHosts(inputs, ctx) {
        const client = await connect(inputs, ctx);
        const p = paths(inputs.namespace);
        const wanted: string[] = inputs.hosts.map((h) => h.name);
        const specs: Record<string, BmhSpec> = Object.fromEntries(inputs.hosts.map((h) => [h.name, h]));
        const ours = (name: unknown): name is string => typeof name === "string" && Object.prototype.hasOwnProperty.call(specs, name);
        const reapplied: string[] = [];
        const failedApply = (name: string) => ctx.tracker.stateOf(name)?.state === "not applied";
        // The error policy's clock: hosts in error are looked at again each tick, their grace period may run out.
        const policy = errorPolicy(inputs);
        const erroredFor = errorClock();
        const inError: Record<string, Bmh> = {};
        const see = (bmh: Bmh) => {
            const ms = erroredFor(bmh);
            if (bmh.status?.operationalStatus === "error") inError[bmh.metadata.name] = bmh;
            else delete inError[bmh.metadata.name];
            ctx.tracker.observe(bmh.metadata.name, observeBmh(bmh, inputs.targetState, [inputs.bmcPassword], policy, ms));
        };
        // Hosts absent from the list although they should exist (deleted behind our back, or unchanged
        // hosts of an update that someone removed): applied once more, from the next tick.
        let missing: BmhSpec[] = [];
        try {
            await followCollection<Bmh>(client, {
                path: p.bmhs,
                labelSelector: batchSelector(inputs),
                watchTimeoutSeconds: Number(inputs.watchTimeoutSeconds) || 300,
                onList(items) {
                    const seen: Record<string, boolean> = {};
                    for (const bmh of items) {
                        if (!ours(bmh.metadata.name)) continue;
                        seen[bmh.metadata.name] = true;
                        // A host whose apply was refused (e.g. a conflict) keeps that failure: its object is not what we declared.
                        if (!failedApply(bmh.metadata.name)) see(bmh);
                    }
                    missing = wanted.filter((n) => !seen[n] && !failedApply(n) && !reapplied.includes(n)).map((n) => specs[n]);
                },
                onEvent(type, bmh) {
                    const name = bmh.metadata?.name;
                    if (!ours(name) || failedApply(name)) return;
                    if (type === "DELETED") {
                        delete inError[name];
                        ctx.tracker.observe(name, { state: "deleted", error: "the BareMetalHost was deleted while the batch waited for it" });
                    } else see(bmh);
                },
                finished: () => ctx.tracker.settled(),
                remaining: () => ctx.deadline.remaining(),
                tick: () => {
                    for (const bmh of Object.values(inError)) see(bmh);
                    if (missing.length > 0) {
                        const again = missing;
                        missing = [];
                        reapplied.push(...again.map((h) => h.name));
                        applyHosts(client, inputs, again, ctx).catch((err) => {
                            for (const h of again) ctx.tracker.observe(h.name, { state: "not applied", error: err instanceof Error ? err.message : String(err) });
                        });
                    }
                    ctx.tracker.report();
                },
            });
        } finally {
            client.close();
        }
    },

    async observe(inputs, ctx) {
        const client = await connect(inputs, ctx);
        try {
            const { data } = await client.request<{ items?: Bmh[] }>("GET", paths(inputs.namespace).bmhs, { query: { labelSelector: batchSelector(inputs) } });
            const present: Record<string, Bmh> = {};
            for (const bmh of data.items ?? []) present[bmh.metadata.name] = bmh;
            for (const h of inputs.hosts) {
                const bmh = present[h.name];
                ctx.tracker.observe(h.name, bmh ? observeBmh(bmh, inputs.targetState, [inputs.bmcPassword], errorPolicy(inputs)) : { state: "absent" });
            }
        } finally {
            client.close();
        }
    },

    async remove(inputs, hosts, ctx) {
        const client = await connect(inputs, ctx);
        const p = paths(inputs.namespace);
        const names = hosts.map((h) => h.name);
        const all = names.length >= inputs.hosts.length && inputs.hosts.every((h) => names.includes(h.name));
        // The whole batch by its labels, or only the named hosts (in chunks, to keep selectors short).
        const selectors = all ? [batchSelector(inputs)] : chunks(names, 50).map((c) => batchSelector(inputs, c));
        try {
            for (const selector of selectors) {
                await client.request("DELETE", p.bmhs, { query: { labelSelector: selector }, okStatuses: [404] });
            }
            // BMO holds each host with a finalizer until it has deprovisioned it: wait until they are gone,
            // following the whole batch with one list + watch (other hosts' events are ignored).
            await followCollection<Bmh>(client, {
                path: p.bmhs,
                labelSelector: batchSelector(inputs),
                watchTimeoutSeconds: Number(inputs.watchTimeoutSeconds) || 300,
                onList(items, status) {
                    const present: Record<string, Bmh> = {};
                    if (status < 300) for (const bmh of items) present[bmh.metadata.name] = bmh;
                    for (const n of names) {
                        const bmh = present[n];
                        if (!bmh) ctx.tracker.observe(n, { state: "deleted" });
                        else ctx.tracker.observe(n, { state: bmh.metadata.deletionTimestamp ? bmh.status?.provisioning?.state || "deleting" : "not deleted yet" });
                    }
                },
                onEvent(type, bmh) {
                    const name = bmh.metadata?.name;
                    if (typeof name !== "string" || !names.includes(name)) return;
                    if (type === "DELETED") ctx.tracker.observe(name, { state: "deleted" });
                    else ctx.tracker.observe(name, { state: bmh.metadata.deletionTimestamp ? bmh.status?.provisioning?.state || "deleting" : "not deleted yet" });
                },
                finished: () => ctx.tracker.settled(),
                remaining: () => ctx.deadline.remaining(),
                tick: () => ctx.tracker.report(),
            });
            // Secrets last: BMO may need the credentials to power a host off before it lets it go.
            if (ctx.tracker.settled()) {
                for (const selector of selectors) {
                    await client.request("DELETE", p.secrets, { query: { labelSelector: selector }, okStatuses: [404] });
                }
            }
        } finally {
            client.close();
        }
    },
};

function chunks<T>(items: readonly T[], size: number): T[][] {
    const out: T[][] = [];
    for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
    return out;
}

export const bareMetalHostBatchProvider = makeBatchProvider(driver);

export interface BareMetalHostBatchArgs extends KubeBatchArgs {
    readonly namespace: pulumi.Input<string>;
    readonly hosts: pulumi.Input<pulumi.Input<BmhSpec>[]>;
    readonly bmcUsername: pulumi.Input<string>;
    readonly bmcPassword: pulumi.Input<string>;
    /** Default "available". */
    readonly targetState?: pulumi.Input<string>;
    /** BMO's errorCount at which a host in error fails; default BMH_ERROR_POLICY.maxErrorCount (4). */
    readonly maxErrorCount?: pulumi.Input<number>;
    /** How long one error may last before the host fails; default BMH_ERROR_POLICY.errorGraceSeconds (600). */
    readonly errorGraceSeconds?: pulumi.Input<number>;
    readonly timeoutSeconds: pulumi.Input<number>;
}

export class BareMetalHostBatch extends pulumi.dynamic.Resource {
    public readonly status!: pulumi.Output<BatchStatus>;
    public readonly hosts!: pulumi.Output<BmhSpec[]>;
    public readonly label!: pulumi.Output<string>;

    constructor(name: string, args: BareMetalHostBatchArgs, opts?: pulumi.CustomResourceOptions) {
        const props = {
            ...args,
            ...kubeBatchProps(args, "bmh-batch"),
            targetState: args.targetState ?? "available",
            bmcPassword: pulumi.secret(args.bmcPassword),
        };
        super(bareMetalHostBatchProvider, name, props, { ...opts, additionalSecretOutputs: ["kubeconfig", "bmcPassword"] }, "enroll", "BareMetalHostBatch");
    }
}
