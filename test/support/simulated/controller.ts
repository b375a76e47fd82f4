/**
 * The plumbing every simulated controller shares (kwok style: one small controller per file, each
 * reading and writing the KubeApiTestServer store in-process, through the same write path as API
 * clients, under its own field manager). Reconciles are level based and idempotent, queued per object
 * (deduplicated, on setImmediate) and triggered by watches; a step that takes time in the real system
 * is a `elapsed(key, step, ms)` gate that re-queues the object when its delay has passed.
 */
import type { KObj } from '../kube/objects';
import { KubeApiError } from '../kube/objects';
import type { KubeStore, StoreEvent } from '../kube/store';

export interface ControllerContext {
    store: KubeStore;
    /** watched namespaces; undefined = all */
    namespaces?: Set<string>;
    /** re-queue delay after a failed or waiting reconcile */
    retryMs: number;
    running: () => boolean;
}

export type Condition = { type: string; status: 'True' | 'False' | 'Unknown'; reason: string; message?: string; observedGeneration?: number; lastTransitionTime?: string };

export abstract class SimController {
    private readonly queue = new Set<string>();
    private flush?: NodeJS.Immediate;
    private readonly timers = new Map<string, NodeJS.Timeout>();
    private readonly gates = new Map<string, number>();
    private readonly unsubscribe: (() => void)[] = [];
    reconciles = 0;

    constructor(
        protected readonly ctx: ControllerContext,
        /** the resource this controller reconciles, e.g. 'machines.cluster.x-k8s.io' */
        readonly resource: string,
        /** managedFields manager name */
        protected readonly manager: string,
    ) {}

    get store(): KubeStore {
        return this.ctx.store;
    }

    start(): void {
        this.watch(this.resource, (ev) => [`${ev.namespace}/${ev.name}`]);
        this.watches();
        for (const o of this.store.peekList(this.resource)) this.enqueue(o.metadata.namespace, o.metadata.name);
    }

    stop(): void {
        for (const u of this.unsubscribe) u();
        this.unsubscribe.length = 0;
        if (this.flush) clearImmediate(this.flush);
        this.flush = undefined;
        for (const t of this.timers.values()) clearTimeout(t);
        this.timers.clear();
        this.queue.clear();
    }

    /** Secondary watches (Owns/Watches in controller-runtime terms). */
    protected watches(): void {}

    /** Reconciles one object; the object may be gone. */
    protected abstract reconcile(namespace: string, name: string): void;

    protected watch(resource: string, map: (ev: StoreEvent) => string[]): void {
        this.unsubscribe.push(
            this.store.subscribe(resource, (ev) => {
                if (this.ctx.namespaces && !this.ctx.namespaces.has(ev.namespace)) return;
                for (const k of map(ev)) this.enqueueKey(k);
            }),
        );
    }

    enqueue(namespace: string, name: string): void {
        this.enqueueKey(`${namespace}/${name}`);
    }

    private enqueueKey(key: string): void {
        if (!this.ctx.running()) return;
        this.queue.add(key);
        this.flush ??= setImmediate(() => {
            this.flush = undefined;
            const keys = [...this.queue];
            this.queue.clear();
            for (const k of keys) this.runOne(k);
        });
    }

    private runOne(key: string): void {
        if (!this.ctx.running()) return;
        const i = key.indexOf('/');
        this.reconciles++;
        try {
            this.reconcile(key.slice(0, i), key.slice(i + 1));
        } catch (e) {
            if (!(e instanceof KubeApiError && (e.code === 409 || e.code === 404 || e.code === 422))) {
                // eslint-disable-next-line no-console
                console.error(`${this.constructor.name}: reconcile of ${key} failed:`, e);
            }
            this.requeueAfter(key, this.ctx.retryMs);
        }
    }

    /** Re-queues `namespace/name` after ms (one pending timer per object). */
    protected requeue(namespace: string, name: string, ms = this.ctx.retryMs): void {
        this.requeueAfter(`${namespace}/${name}`, ms);
    }

    private requeueAfter(key: string, ms: number): void {
        if (this.timers.has(key) || !this.ctx.running()) return;
        this.timers.set(
            key,
            setTimeout(() => {
                this.timers.delete(key);
                this.enqueueKey(key);
            }, ms),
        );
    }

    /**
     * True once `ms` have passed since the step was first asked for (for this object); until then the
     * object is re-queued for that moment. forget() resets the gates of an object.
     */
    protected elapsed(namespace: string, name: string, step: string, ms: number): boolean {
        const k = `${namespace}/${name}#${step}`;
        const now = Date.now();
        let due = this.gates.get(k);
        if (due === undefined) this.gates.set(k, (due = now + ms));
        if (now >= due) return true;
        const key = `${namespace}/${name}`;
        const t = this.timers.get(key);
        if (t) clearTimeout(t);
        this.timers.set(
            key,
            setTimeout(() => {
                this.timers.delete(key);
                this.enqueueKey(key);
            }, due - now),
        );
        return false;
    }

    protected forgetGates(namespace: string, name: string): void {
        const prefix = `${namespace}/${name}#`;
        for (const k of [...this.gates.keys()]) if (k.startsWith(prefix)) this.gates.delete(k);
    }

    // ---- writes -----------------------------------------------------------------------------

    protected update(resource: string, ns: string, name: string, fn: (o: KObj) => void): Readonly<KObj> | undefined {
        return this.store.mutate(resource, ns, name, fn, { fieldManager: this.manager });
    }

    protected updateStatus(resource: string, ns: string, name: string, fn: (status: any, o: KObj) => void): Readonly<KObj> | undefined {
        return this.store.mutate(
            resource,
            ns,
            name,
            (o) => {
                o.status = o.status ?? {};
                fn(o.status, o);
            },
            { fieldManager: this.manager, subresource: 'status' },
        );
    }

    /** Adds a finalizer; returns false when it had to be added (the update re-queues the object). */
    protected ensureFinalizer(resource: string, obj: Readonly<KObj>, finalizer: string): boolean {
        if ((obj.metadata.finalizers ?? []).includes(finalizer)) return true;
        this.update(resource, obj.metadata.namespace, obj.metadata.name, (o) => {
            o.metadata.finalizers = [...(o.metadata.finalizers ?? []), finalizer];
        });
        return false;
    }

    protected removeFinalizer(resource: string, obj: Readonly<KObj>, finalizer: string): void {
        if (!(obj.metadata.finalizers ?? []).includes(finalizer)) return;
        this.update(resource, obj.metadata.namespace, obj.metadata.name, (o) => {
            o.metadata.finalizers = (o.metadata.finalizers ?? []).filter((f: string) => f !== finalizer);
        });
    }

    /** Deletes unless already deleting or gone. */
    protected deleteIfPresent(resource: string, ns: string, name: string): void {
        const o = this.store.peek(resource, ns, name);
        if (!o || o.metadata.deletionTimestamp) return;
        this.store.delete(resource, ns, name, { fieldManager: this.manager });
    }
}

// ---- small helpers shared by the controllers --------------------------------------------------

/** metav1.Condition list update (lastTransitionTime only moves when status changes). */
export function setCondition(status: any, c: Condition, generation?: number): void {
    const list: Condition[] = (status.conditions ??= []);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const i = list.findIndex((x) => x.type === c.type);
    const next: Condition = { ...c, ...(generation !== undefined ? { observedGeneration: generation } : {}), lastTransitionTime: now };
    if (next.message === undefined) delete next.message;
    if (i < 0) list.push(next);
    else {
        if (list[i].status === c.status) next.lastTransitionTime = list[i].lastTransitionTime;
        list[i] = next;
    }
}

export function conditionTrue(obj: Readonly<KObj> | undefined, type: string): boolean {
    return !!obj?.status?.conditions?.some((c: Condition) => c.type === type && c.status === 'True');
}

export function ownerRef(owner: Readonly<KObj>, controller = false): Record<string, unknown> {
    return {
        apiVersion: owner.apiVersion,
        kind: owner.kind,
        name: owner.metadata.name,
        uid: owner.metadata.uid,
        ...(controller ? { controller: true, blockOwnerDeletion: true } : {}),
    };
}

/** The owner of a given kind (any version of the group), as util.GetOwnerByRef / GetOwnerMachine do. */
export function ownerOfKind(obj: Readonly<KObj>, group: string, kind: string): { name: string; uid: string } | undefined {
    const o = (obj.metadata.ownerReferences ?? []).find((r: any) => r.kind === kind && String(r.apiVersion ?? '').split('/')[0] === group);
    return o ? { name: o.name, uid: o.uid } : undefined;
}

/**
 * Resolves a v1beta2 ContractVersionedObjectReference {apiGroup, kind, name} in a namespace to the
 * store resource name and the object. A reference without apiGroup/kind/name (e.g. a v1beta1-style
 * {apiVersion, kind, name}, which the v1beta2 schema does not have) resolves to nothing.
 */
export function resolveRef(store: KubeStore, namespace: string, ref: any): { resource: string; obj?: Readonly<KObj> } | undefined {
    if (!ref || typeof ref.apiGroup !== 'string' || !ref.apiGroup || typeof ref.kind !== 'string' || typeof ref.name !== 'string' || !ref.name) return undefined;
    const res = store.registry.all().find((r) => r.group === ref.apiGroup && r.kind === ref.kind);
    if (!res) return undefined;
    return { resource: res.qualified, obj: store.peek(res.qualified, namespace, ref.name) };
}

/** RFC 1123-safe random suffix as apimachinery's names.SimpleNameGenerator makes it. */
export function randomSuffix(n = 5): string {
    const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
    return s;
}

export const CLUSTER_NAME_LABEL = 'cluster.x-k8s.io/cluster-name';
export const CONTROL_PLANE_LABEL = 'cluster.x-k8s.io/control-plane';
export const CONTROL_PLANE_NAME_LABEL = 'cluster.x-k8s.io/control-plane-name';
export const DEPLOYMENT_NAME_LABEL = 'cluster.x-k8s.io/deployment-name';

export const R = {
    clusters: 'clusters.cluster.x-k8s.io',
    machines: 'machines.cluster.x-k8s.io',
    machineDeployments: 'machinedeployments.cluster.x-k8s.io',
    kcps: 'kubeadmcontrolplanes.controlplane.cluster.x-k8s.io',
    kubeadmConfigs: 'kubeadmconfigs.bootstrap.cluster.x-k8s.io',
    kubeadmConfigTemplates: 'kubeadmconfigtemplates.bootstrap.cluster.x-k8s.io',
    metal3Clusters: 'metal3clusters.infrastructure.cluster.x-k8s.io',
    metal3Machines: 'metal3machines.infrastructure.cluster.x-k8s.io',
    metal3MachineTemplates: 'metal3machinetemplates.infrastructure.cluster.x-k8s.io',
    metal3DataTemplates: 'metal3datatemplates.infrastructure.cluster.x-k8s.io',
    bmh: 'baremetalhosts.metal3.io',
    secrets: 'secrets',
} as const;
