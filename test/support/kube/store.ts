/** The object store behind the Kubernetes API test server: reads, writes, namespaces; history and watches in ./watch.ts, GC in ./gc.ts, admission in ./admission.ts. */
import { randomUUID } from 'node:crypto';
import { KObj, StatusCause, KubeApiError, apiError, clone, cloneForWrite, deepEqual, deepFreeze, isPlainObject, k8sTime, BASE64, LABEL_VALUE, labelNameError, qualifiedNameError, subdomainError, randomSuffix } from './objects';
import { ResourceRegistry, ResourceDefinition, ResourceInfo, ResourceRef } from './registry';
import { LabelSelector, FieldSelector } from './selectors';
import { jsonMergePatch, jsonPatch, invalidPatch } from './patches';
import { FieldValidation, conform, strictDecodingError, unknownFieldWarning } from './schema';
import { WatchHistory, WatchHub, HistoryEvent, EventType, Subscriber, viewFor } from './watch';
import { GarbageCollector, PropagationPolicy, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, GC_MANAGER } from './gc';
import { AdmissionChain, AdmissionOperation } from './admission';
import { SEP, Scope, ManagerEntry, managerKey, flattenFields, removeFieldPath, applyMerge, stripNulls, prettyPath, cloneManagers, managersEqual, renderManagedFields } from './fieldManagement';

export interface Rec {
    res: ResourceInfo;
    ns: string;
    name: string;
    obj: KObj;
    managers: ManagerEntry[];
    json?: string;
    listJson?: string;
}

export type { EventType, HistoryEvent, Subscriber } from './watch';

/** What in-process subscribers receive. Objects are frozen: clone before mutating. */
export interface StoreEvent {
    type: EventType;
    resource: ResourceInfo;
    namespace: string;
    name: string;
    object: Readonly<KObj>;
    previous?: Readonly<KObj>;
    resourceVersion: string;
}

export interface WriteOptions {
    /** manager name recorded in managedFields (default "test") */
    fieldManager?: string;
    force?: boolean;
    dryRun?: boolean;
    subresource?: '' | 'status';
    /** what to do with fields the resource's schema does not know; in-process writes default to Strict (a simulator bug fails loudly) */
    fieldValidation?: FieldValidation;
    /** receives the warnings of the write (HTTP: the `Warning` headers) */
    warnings?: string[];
}

export interface ListOptions {
    namespace?: string;
    labelSelector?: string | LabelSelector;
    fieldSelector?: string;
}

export interface KubeStoreOptions {
    /** events kept per resource at most (default 10000) */
    historySize?: number;
    /**
     * Compaction window (real: etcd compacts every 5 min, the watch cache keeps ~75 s): events older than this
     * are forgotten, so a watch resuming from an older resourceVersion, an exact list or a continue token older
     * than it gets 410 Expired. Default 5000 ms.
     */
    historyWindowMs?: number;
    /** the garbage collector processes an owner's dependents this long after the change (default 50 ms) */
    gcDelayMs?: number;
    /** time source of the history window (tests move time forward without waiting); default Date.now */
    clock?: () => number;
    autoCreateNamespaces?: boolean;
    garbageCollection?: boolean;
    namespaces?: string[];
    resources?: ResourceDefinition[];
    /** first resourceVersion handed out is this + 1 */
    initialResourceVersion?: number;
    /** API groups whose CRDs are installed (others' custom resources are not served); default all */
    crdGroups?: readonly string[];
}

export const recKey = (resKey: string, ns: string, name: string) => `${resKey}|${ns}|${name}`;

/**
 * The object store behind the server. All writes — HTTP or in-process —
 * go through it, so they share resourceVersions, managedFields, history and
 * watch events.
 */
export class KubeStore {
    readonly registry: ResourceRegistry;
    private rv: number;
    private readonly objects = new Map<string, Map<string, Map<string, Rec>>>();
    private readonly history: WatchHistory;
    private readonly hub = new WatchHub();
    /** Garbage collector (delayed, background/foreground/orphan). */
    readonly gc: GarbageCollector;
    /** Validating admission webhooks (e.g. BMO's). */
    readonly admission = new AdmissionChain();
    private readonly uidIndex = new Map<string, Rec>();
    private readonly ownerIndex = new Map<string, Set<string>>();
    private readonly nsCounts = new Map<string, number>();
    private readonly pending = new Set<NodeJS.Immediate>();
    private readonly nsSwept = new Set<string>();
    private closed = false;
    autoCreateNamespaces: boolean;

    constructor(opts: KubeStoreOptions = {}) {
        this.registry = new ResourceRegistry(opts.resources ?? [], opts.crdGroups);
        this.rv = opts.initialResourceVersion ?? 1000;
        this.history = new WatchHistory({ windowMs: opts.historyWindowMs ?? 5000, sizePerResource: opts.historySize ?? 10000, initialResourceVersion: this.rv, now: opts.clock ?? Date.now });
        this.autoCreateNamespaces = opts.autoCreateNamespaces ?? false;
        this.gc = new GarbageCollector(
            {
                recByKey: (key) => {
                    const [resKey, ns, name] = key.split('|');
                    return this.objects.get(resKey)?.get(ns)?.get(name);
                },
                byUid: (uid) => this.uidIndex.get(uid),
                dependentsOf: (uid) => [...(this.ownerIndex.get(uid) ?? [])],
                keyOf: (r) => recKey(r.res.key, r.ns, r.name),
                deleteDependent: (r, policy) => this.delete(r.res, r.ns, r.name, { fieldManager: GC_MANAGER, preconditions: { uid: r.obj.metadata.uid }, propagationPolicy: policy }),
                setOwnerReferences: (r, refs) => this.patch(r.res, r.ns, r.name, 'merge', { metadata: { ownerReferences: refs } }, { fieldManager: GC_MANAGER }),
                removeFinalizer: (r, f) => this.mutate(r.res, r.ns, r.name, (o) => (o.metadata.finalizers = (o.metadata.finalizers ?? []).filter((x: string) => x !== f)), { fieldManager: GC_MANAGER }),
            },
            { enabled: opts.garbageCollection ?? true, delayMs: opts.gcDelayMs ?? 50 },
        );
        for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease', ...(opts.namespaces ?? [])]) {
            this.ensureNamespace(ns);
        }
    }

    /** Current resourceVersion (of the last write). */
    get resourceVersion(): string {
        return String(this.rv);
    }

    /** etcd's compacted revision: continue tokens and exact reads older than this get 410. */
    get oldestResourceVersion(): string {
        return String(this.history.compactedRevision());
    }

    /** A watch of this resource from an older resourceVersion gets 410 (its events were forgotten). */
    oldestResourceVersionOf(ref: ResourceRef): number {
        return this.history.oldestFor(this.resource(ref).key);
    }

    get historyLength(): number {
        return this.history.length;
    }

    /** Whether the garbage collector runs (it is a controller: off, nothing is collected). */
    get garbageCollection(): boolean {
        return this.gc.enabled;
    }

    set garbageCollection(on: boolean) {
        this.gc.enabled = on;
    }

    resource(ref: ResourceRef): ResourceInfo {
        return this.registry.resolve(ref);
    }

    /** Forget the whole event history: older resourceVersions now give 410. */
    compact(): void {
        this.history.compact(this.rv);
    }

    ensureNamespace(name: string): KObj {
        const res = this.registry.resolve('namespaces');
        const existing = this.rec(res, '', name);
        if (existing) return clone(existing.obj);
        return this.create(res, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, { fieldManager: 'kube-apiserver' });
    }

    // ---- reads ---------------------------------------------------------------

    get(ref: ResourceRef, namespace: string, name: string): KObj | undefined {
        const res = this.resource(ref);
        const r = this.rec(res, res.namespaced ? namespace : '', name);
        return r ? clone(r.obj) : undefined;
    }

    list(ref: ResourceRef, opts: ListOptions = {}): KObj[] {
        return this.peekList(ref, opts).map((o) => clone(o) as KObj);
    }

    /** Like get() but returns the stored, deeply frozen object (no copy): do not mutate. */
    peek(ref: ResourceRef, namespace: string, name: string): Readonly<KObj> | undefined {
        const res = this.resource(ref);
        return this.rec(res, res.namespaced ? namespace : '', name)?.obj;
    }

    /** Like list() but returns the stored, deeply frozen objects (no copies): do not mutate. */
    peekList(ref: ResourceRef, opts: ListOptions = {}): Readonly<KObj>[] {
        const res = this.resource(ref);
        const labels = typeof opts.labelSelector === 'string' || opts.labelSelector === undefined ? LabelSelector.parse(opts.labelSelector) : opts.labelSelector;
        const fields = FieldSelector.parse(opts.fieldSelector, res);
        return this.select(res, opts.namespace, labels, fields).map((r) => r.obj);
    }

    /** Number of objects of a resource (optionally in one namespace). */
    count(ref: ResourceRef, namespace?: string): number {
        const res = this.resource(ref);
        const byNs = this.objects.get(res.key);
        if (!byNs) return 0;
        if (namespace !== undefined) return byNs.get(namespace)?.size ?? 0;
        let n = 0;
        for (const m of byNs.values()) n += m.size;
        return n;
    }

    /** @internal */
    rec(res: ResourceInfo, ns: string, name: string): Rec | undefined {
        return this.objects.get(res.key)?.get(ns)?.get(name);
    }

    /** @internal sorted records matching the filters */
    select(res: ResourceInfo, namespace: string | undefined, labels?: LabelSelector, fields?: FieldSelector): Rec[] {
        const byNs = this.objects.get(res.key);
        const out: Rec[] = [];
        if (!byNs) return out;
        const maps = namespace !== undefined && res.namespaced ? [byNs.get(namespace)].filter((m): m is Map<string, Rec> => !!m) : [...byNs.values()];
        for (const m of maps) {
            for (const r of m.values()) {
                if (labels && !labels.empty && !labels.matches(r.obj.metadata?.labels)) continue;
                if (fields && !fields.empty && !fields.matches(r.obj)) continue;
                out.push(r);
            }
        }
        out.sort((a, b) => (a.ns === b.ns ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.ns < b.ns ? -1 : 1));
        return out;
    }

    /** @internal state of a resource as of a past resourceVersion, rebuilt from history */
    snapshotAt(res: ResourceInfo, rv: number): Map<string, Rec> | undefined {
        if (rv < this.history.oldestFor(res.key) || rv > this.rv) return undefined;
        const state = new Map<string, Rec>();
        const byNs = this.objects.get(res.key);
        if (byNs) for (const m of byNs.values()) for (const r of m.values()) state.set(`${r.ns}/${r.name}`, r);
        const later = this.history.eventsSince(res.key, rv);
        for (let i = later.length - 1; i >= 0; i--) {
            const ev = later[i];
            const k = `${ev.rec.ns}/${ev.rec.name}`;
            if (ev.prev) state.set(k, ev.prev);
            else state.delete(k);
        }
        return state;
    }

    /** @internal history events of a resource after rv (rv must be >= oldestResourceVersionOf) */
    eventsSinceOf(res: ResourceInfo, rv: number): HistoryEvent[] {
        return this.history.eventsSince(res.key, rv);
    }

    // ---- subscriptions ---------------------------------------------------------

    /**
     * In-process watch: the listener is called synchronously for every change
     * of the resource (all resources when ref is null). Returns unsubscribe.
     */
    subscribe(ref: ResourceRef | null, listener: (ev: StoreEvent) => void, opts: { namespace?: string; labelSelector?: string } = {}): () => void {
        const res = ref === null ? null : this.resource(ref);
        const labels = LabelSelector.parse(opts.labelSelector);
        const sub: Subscriber = {
            resKey: res?.key ?? null,
            namespace: opts.namespace,
            labels,
            deliver: (type, rec, ev) =>
                listener({
                    type,
                    resource: rec.res,
                    namespace: rec.ns,
                    name: rec.name,
                    object: rec.obj,
                    previous: ev.prev?.obj,
                    resourceVersion: String(ev.rv),
                }),
        };
        return this.addSubscriber(sub);
    }

    /** @internal */
    addSubscriber(sub: Subscriber): () => void {
        return this.hub.add(sub);
    }

    /** @internal how a given event looks to a filtered watcher (null: invisible); see ./watch.ts */
    static viewFor = viewFor;

    private emit(ev: HistoryEvent): void {
        this.history.record(ev);
        this.hub.publish(ev);
    }

    // ---- writes ------------------------------------------------------------------

    private checkApiVersionKind(res: ResourceInfo, obj: KObj, required: boolean): void {
        if (!obj.kind) {
            // built-in endpoints default apiVersion/kind from the URL; custom resources (unstructured) need them
            if (required) throw apiError(400, 'BadRequest', `Object 'Kind' is missing in '${JSON.stringify(obj).slice(0, 200)}'`);
            if (!obj.apiVersion) return;
        }
        if (!obj.apiVersion) {
            if (required) throw apiError(400, 'BadRequest', `Object 'apiVersion' is missing in '${JSON.stringify(obj).slice(0, 200)}'`);
            return;
        }
        if (obj.apiVersion !== res.apiVersion) {
            throw apiError(400, 'BadRequest', `the API version in the data (${obj.apiVersion}) does not match the expected API version (${res.apiVersion})`);
        }
        if (obj.kind && obj.kind !== res.kind) {
            throw apiError(400, 'BadRequest', `the kind in the data (${obj.kind}) does not match the expected kind (${res.kind})`);
        }
    }

    private invalid(res: ResourceInfo, name: string, causes: StatusCause[]): KubeApiError {
        const msg = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
        return apiError(422, 'Invalid', `${res.qualifiedKind} ${JSON.stringify(name)} is invalid: ${causes.length > 1 ? `[${msg}]` : msg}`, {
            name,
            group: res.group || undefined,
            kind: res.kind,
            causes,
        });
    }

    notFound(res: ResourceInfo, name: string): KubeApiError {
        return apiError(404, 'NotFound', `${res.qualified} ${JSON.stringify(name)} not found`, { name, group: res.group || undefined, kind: res.plural });
    }

    private conflict(res: ResourceInfo, name: string, why: string): KubeApiError {
        return apiError(409, 'Conflict', `Operation cannot be fulfilled on ${res.qualified} ${JSON.stringify(name)}: ${why}`, {
            name,
            group: res.group || undefined,
            kind: res.plural,
        });
    }

    private checkNamespace(res: ResourceInfo, ns: string, name: string): void {
        if (!res.namespaced) return;
        if (!ns) throw apiError(400, 'BadRequest', 'the namespace of the object is required');
        const nsRes = this.registry.resolve('namespaces');
        let nsRec = this.rec(nsRes, '', ns);
        if (!nsRec && this.autoCreateNamespaces) {
            this.ensureNamespace(ns);
            nsRec = this.rec(nsRes, '', ns);
        }
        if (!nsRec) throw apiError(404, 'NotFound', `namespaces ${JSON.stringify(ns)} not found`, { name: ns, kind: 'namespaces' });
        if (nsRec.obj.metadata.deletionTimestamp) {
            throw apiError(
                403,
                'Forbidden',
                `${res.qualified} ${JSON.stringify(name)} is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
                { name, group: res.group || undefined, kind: res.plural, causes: [{ reason: 'NamespaceTerminating', message: `namespace ${ns} is being terminated`, field: 'metadata.namespace' }] },
            );
        }
    }

    /** Metadata validation shared by all writes. */
    private validate(res: ResourceInfo, obj: KObj, prev: Rec | undefined): void {
        const md = obj.metadata;
        const name = md.name as string;
        const causes: StatusCause[] = [];
        const nameErr = res.plural === 'namespaces' ? labelNameError(name) : subdomainError(name);
        if (nameErr) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(name)}: ${nameErr}`, field: 'metadata.name' });
        for (const [k, v] of Object.entries((md.labels ?? {}) as Record<string, unknown>)) {
            const ke = qualifiedNameError(k);
            if (ke) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(k)}: ${ke}`, field: 'metadata.labels' });
            if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) {
                causes.push({
                    reason: 'FieldValueInvalid',
                    message: `Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
                    field: `metadata.labels`,
                });
            }
        }
        for (const [k, v] of Object.entries((md.annotations ?? {}) as Record<string, unknown>)) {
            const ke = qualifiedNameError(k);
            if (ke) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(k)}: ${ke}`, field: 'metadata.annotations' });
            if (typeof v !== 'string') causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: annotation values must be strings`, field: `metadata.annotations` });
        }
        const fins: unknown[] = md.finalizers ?? [];
        if (!Array.isArray(fins)) causes.push({ reason: 'FieldValueInvalid', message: 'Invalid value: must be a list', field: 'metadata.finalizers' });
        else {
            fins.forEach((f, i) => {
                const fe = typeof f === 'string' ? qualifiedNameError(f) : 'must be a string';
                if (fe) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(f)}: ${fe}`, field: `metadata.finalizers[${i}]` });
            });
            if (prev?.obj.metadata.deletionTimestamp) {
                const old: string[] = prev.obj.metadata.finalizers ?? [];
                const added = fins.filter((f) => !old.includes(f as string));
                if (added.length > 0) {
                    causes.push({ reason: 'FieldValueForbidden', message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`, field: 'metadata.finalizers' });
                }
            }
        }
        if (res.key === '/secrets') {
            for (const [k, v] of Object.entries((obj.data ?? {}) as Record<string, unknown>)) {
                if (typeof v !== 'string' || !BASE64.test(v)) {
                    throw apiError(400, 'BadRequest', `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0 (key ${JSON.stringify(k)})`);
                }
            }
            if (prev && (prev.obj.type ?? 'Opaque') !== (obj.type ?? 'Opaque')) {
                causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(obj.type)}: field is immutable`, field: 'type' });
            }
        }
        if (causes.length > 0) throw this.invalid(res, name, causes);
    }

    /**
     * The structural schema, as the apiserver applies a CRD's: unknown fields pruned (Strict: 400 naming them,
     * Warn: one warning each), nulls pruned, defaults set; with `validate`, types/enums/required checked (422).
     */
    private checkSchema(res: ResourceInfo, obj: KObj, opts: WriteOptions, validate = true): void {
        if (!res.schema) return;
        const out = conform(res.schema, obj, validate);
        const directive = opts.fieldValidation ?? 'Strict';
        if (out.unknown.length > 0) {
            if (directive === 'Strict') throw strictDecodingError(res.kind, res.version, out.unknown);
            if (directive === 'Warn') opts.warnings?.push(...out.unknown.map(unknownFieldWarning));
        }
        if (out.causes.length > 0) throw this.invalid(res, obj.metadata?.name ?? '', out.causes);
    }

    /** Validating admission webhooks, after the object passed validation (main resource only, as BMO's rules). */
    private admit(res: ResourceInfo, operation: AdmissionOperation, obj: KObj, prev: Rec | undefined, opts: WriteOptions): void {
        this.admission.admit({ operation, resource: res, subresource: opts.subresource ?? '', namespace: res.namespaced ? (obj.metadata.namespace ?? '') : '', name: obj.metadata.name, object: obj, oldObject: prev?.obj, dryRun: !!opts.dryRun });
    }

    /** Resource-specific normalisation on every write (before ownership is computed). */
    private normalize(res: ResourceInfo, obj: KObj, mode: 'create' | 'update' | 'applyConfig'): void {
        if (res.key === '/secrets') {
            if (isPlainObject(obj.stringData)) {
                obj.data = { ...(obj.data ?? {}) };
                for (const [k, v] of Object.entries(obj.stringData)) obj.data[k] = Buffer.from(String(v), 'utf8').toString('base64');
            }
            delete obj.stringData;
            if (!obj.type && mode !== 'applyConfig') obj.type = 'Opaque';
        }
        if (res.key === '/namespaces' && mode !== 'applyConfig') {
            obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name };
            if (mode === 'create') {
                obj.spec = { finalizers: ['kubernetes'] };
                obj.status = { phase: 'Active' };
            }
        }
    }

    private newEntry(manager: string, operation: 'Apply' | 'Update', subresource: string, apiVersion: string): ManagerEntry {
        return { manager, operation, subresource, apiVersion, time: k8sTime(), fields: new Set() };
    }

    private scopeFor(res: ResourceInfo, subresource: string): Scope {
        if (subresource === 'status') return 'status';
        return res.statusSubresource ? 'main' : 'all';
    }

    /** Ownership bookkeeping for non-apply writes. */
    private updateManagers(res: ResourceInfo, prev: Rec | undefined, next: KObj, manager: string, subresource: string): ManagerEntry[] {
        const scope = this.scopeFor(res, subresource);
        const ms = prev ? cloneManagers(prev.managers) : [];
        const before = prev ? flattenFields(prev.obj, scope, res.listTypes) : new Map<string, unknown>();
        const after = flattenFields(next, scope, res.listTypes);
        const changed = new Set<string>();
        for (const [p, v] of after) if (!before.has(p) || !deepEqual(before.get(p), v)) changed.add(p);
        const removed = new Set<string>();
        for (const p of before.keys()) if (!after.has(p)) removed.add(p);
        if (changed.size === 0 && removed.size === 0) return ms;
        const key = managerKey({ manager, operation: 'Update', subresource });
        let own = ms.find((m) => managerKey(m) === key);
        for (const m of ms) {
            if (m === own) continue;
            for (const p of changed) if (m.fields.delete(p)) m.rendered = undefined;
            for (const p of removed) if (m.fields.delete(p)) m.rendered = undefined;
        }
        if (changed.size > 0) {
            if (!own) {
                own = this.newEntry(manager, 'Update', subresource, res.apiVersion);
                ms.push(own);
            }
            for (const p of changed) {
                if (!own.fields.has(p)) {
                    own.fields.add(p);
                    own.rendered = undefined;
                }
            }
            own.time = k8sTime();
        }
        if (own) for (const p of removed) if (own.fields.delete(p)) own.rendered = undefined;
        return ms.filter((m) => m.fields.size > 0);
    }

    private bumpGeneration(res: ResourceInfo, prev: Rec | undefined, next: KObj): void {
        if (!res.generation) {
            delete next.metadata.generation;
            return;
        }
        if (!prev) {
            next.metadata.generation = 1;
            return;
        }
        const strip = (o: KObj) => {
            const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
            return rest;
        };
        let gen = prev.obj.metadata.generation ?? 1;
        if (!deepEqual(strip(prev.obj), strip(next))) gen++;
        if (next.metadata.deletionTimestamp && !prev.obj.metadata.deletionTimestamp) gen++;
        next.metadata.generation = gen;
    }

    /** Commits a new version of an object (or finishes a deletion). */
    private commit(res: ResourceInfo, prev: Rec | undefined, draft: KObj, managers: ManagerEntry[], dryRun: boolean, remove = false): { obj: KObj; created: boolean } {
        const md = draft.metadata;
        // namespaces also wait for spec.finalizers (the namespace controller's "kubernetes")
        const pendingFinalizers = (md.finalizers?.length ?? 0) + (res.key === '/namespaces' ? (draft.spec?.finalizers?.length ?? 0) : 0);
        const finishDelete = remove || (!!md.deletionTimestamp && pendingFinalizers === 0);
        if (Array.isArray(md.finalizers) && md.finalizers.length === 0) delete md.finalizers;
        if (Array.isArray(md.ownerReferences) && md.ownerReferences.length === 0) delete md.ownerReferences;
        if (isPlainObject(md.labels) && Object.keys(md.labels).length === 0) delete md.labels;
        if (isPlainObject(md.annotations) && Object.keys(md.annotations).length === 0) delete md.annotations;
        if (prev && !finishDelete) {
            const a = { ...prev.obj, metadata: { ...prev.obj.metadata, resourceVersion: undefined, managedFields: undefined } };
            const b = { ...draft, metadata: { ...draft.metadata, resourceVersion: undefined, managedFields: undefined } };
            if (deepEqual(a, b) && managersEqual(prev.managers, managers)) {
                return { obj: prev.obj, created: false };
            }
        }
        if (dryRun) {
            const out = clone(draft);
            if (managers.length > 0) out.metadata.managedFields = renderManagedFields(managers);
            return { obj: out, created: !prev };
        }
        const rv = ++this.rv;
        // canonical key order: apiVersion, kind, metadata, ...rest
        const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = draft;
        const meta: Record<string, any> = {};
        for (const k of ['name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields']) {
            if (k === 'resourceVersion') meta[k] = String(rv);
            else if (k === 'managedFields') {
                if (managers.length > 0) meta[k] = renderManagedFields(managers);
            } else if (md[k] !== undefined) meta[k] = md[k];
        }
        for (const [k, v] of Object.entries(md)) if (!(k in meta) && v !== undefined && k !== 'managedFields' && k !== 'resourceVersion') meta[k] = v;
        if (!res.namespaced) delete meta.namespace;
        const obj = deepFreeze({ apiVersion: res.apiVersion, kind: res.kind, metadata: meta, ...rest });
        const rec: Rec = { res, ns: res.namespaced ? meta.namespace : '', name: meta.name, obj, managers };
        let byNs = this.objects.get(res.key);
        if (!byNs) this.objects.set(res.key, (byNs = new Map()));
        let m = byNs.get(rec.ns);
        if (!m) byNs.set(rec.ns, (m = new Map()));
        if (prev) this.unindex(prev);
        if (finishDelete) {
            m.delete(rec.name);
            if (m.size === 0) byNs.delete(rec.ns);
            if (rec.ns) this.nsCounts.set(rec.ns, (this.nsCounts.get(rec.ns) ?? 1) - 1);
            this.emit({ rv, type: 'DELETED', rec, prev });
            this.afterDelete(rec);
        } else {
            m.set(rec.name, rec);
            this.index(rec);
            if (!prev && rec.ns) this.nsCounts.set(rec.ns, (this.nsCounts.get(rec.ns) ?? 0) + 1);
            this.emit({ rv, type: prev ? 'MODIFIED' : 'ADDED', rec, prev });
        }
        return { obj, created: !prev };
    }

    private index(rec: Rec): void {
        const uid = rec.obj.metadata.uid;
        this.uidIndex.set(uid, rec);
        for (const o of rec.obj.metadata.ownerReferences ?? []) {
            if (!o?.uid) continue;
            let s = this.ownerIndex.get(o.uid);
            if (!s) this.ownerIndex.set(o.uid, (s = new Set()));
            s.add(recKey(rec.res.key, rec.ns, rec.name));
        }
        if (rec.obj.metadata.ownerReferences) this.gc.referenced(rec);
    }

    private unindex(rec: Rec): void {
        this.uidIndex.delete(rec.obj.metadata.uid);
        for (const o of rec.obj.metadata.ownerReferences ?? []) {
            const s = this.ownerIndex.get(o?.uid);
            if (!s) continue;
            s.delete(recKey(rec.res.key, rec.ns, rec.name));
            if (s.size === 0) this.ownerIndex.delete(o.uid);
        }
    }

    private later(fn: () => void): void {
        if (this.closed) return;
        const h = setImmediate(() => {
            this.pending.delete(h);
            if (!this.closed) fn();
        });
        this.pending.add(h);
    }

    /** Stops background work (garbage collector, namespace controller). */
    close(): void {
        this.closed = true;
        this.gc.close();
        for (const h of this.pending) clearImmediate(h);
        this.pending.clear();
    }

    private afterDelete(rec: Rec): void {
        this.gc.removed(rec);
        if (rec.ns) {
            const nsRec = this.rec(this.registry.resolve('namespaces'), '', rec.ns);
            if (nsRec?.obj.metadata.deletionTimestamp) this.later(() => this.reconcileNamespace(rec.ns));
        }
    }

    private reconcileNamespace(ns: string): void {
        const nsRes = this.registry.resolve('namespaces');
        const nsRec = this.rec(nsRes, '', ns);
        if (!nsRec || !nsRec.obj.metadata.deletionTimestamp) return;
        if ((this.nsCounts.get(ns) ?? 0) > 0) {
            // one sweep is enough: nothing new can be created in a terminating namespace
            if (this.nsSwept.has(nsRec.obj.metadata.uid)) return;
            this.nsSwept.add(nsRec.obj.metadata.uid);
            for (const res of this.registry.all()) {
                if (!res.namespaced) continue;
                for (const r of this.select(res, ns)) {
                    if (!r.obj.metadata.deletionTimestamp) this.delete(res, ns, r.name, { fieldManager: 'namespace-controller' });
                }
            }
            if ((this.nsCounts.get(ns) ?? 0) > 0) return;
        }
        // empty: the namespace controller removes spec.finalizers and the namespace goes away
        this.nsSwept.delete(nsRec.obj.metadata.uid);
        const draft = clone(nsRec.obj);
        draft.spec = { ...(draft.spec ?? {}), finalizers: [] };
        if ((nsRec.obj.metadata.finalizers ?? []).length > 0) this.commit(nsRes, nsRec, draft, nsRec.managers, false);
        else this.commit(nsRes, nsRec, draft, nsRec.managers, false, true);
    }

    /** Create (POST). The body must carry metadata.namespace for namespaced resources. */
    create(ref: ResourceRef, body: KObj, opts: WriteOptions = {}): KObj {
        return clone(this.createInternal(this.resource(ref), body, opts).obj);
    }

    /** @internal */
    createInternal(res: ResourceInfo, body: KObj, opts: WriteOptions, applyManager?: { manager: string; fields?: Set<string> }): { obj: KObj; created: boolean } {
        if (!isPlainObject(body)) throw apiError(400, 'BadRequest', 'the body of the request was in an unknown format');
        this.checkApiVersionKind(res, body, !res.builtin);
        const draft = clone(body);
        draft.apiVersion = res.apiVersion;
        draft.kind = res.kind;
        const md = (draft.metadata = isPlainObject(draft.metadata) ? draft.metadata : {});
        if (!md.name && md.generateName) md.name = `${md.generateName}${randomSuffix()}`;
        const ns = res.namespaced ? (md.namespace ?? '') : '';
        if (!md.name) {
            throw this.invalid(res, '', [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }]);
        }
        if (res.namespaced) md.namespace = ns;
        else delete md.namespace;
        this.checkNamespace(res, ns, md.name);
        if (this.rec(res, ns, md.name)) {
            throw apiError(409, 'AlreadyExists', `${res.qualified} ${JSON.stringify(md.name)} already exists`, {
                name: md.name,
                group: res.group || undefined,
                kind: res.plural,
            });
        }
        for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink', 'generation']) delete md[k];
        md.uid = randomUUID();
        md.creationTimestamp = k8sTime();
        if (res.statusSubresource) delete draft.status;
        this.normalize(res, draft, 'create');
        this.checkSchema(res, draft, opts);
        this.validate(res, draft, undefined);
        this.admit(res, 'CREATE', draft, undefined, opts);
        this.bumpGeneration(res, undefined, draft);
        let managers: ManagerEntry[];
        if (applyManager) {
            const e = this.newEntry(applyManager.manager, 'Apply', '', body.apiVersion ?? res.apiVersion);
            e.fields = applyManager.fields ?? new Set(flattenFields(draft, this.scopeFor(res, ''), res.listTypes).keys());
            managers = e.fields.size > 0 ? [e] : [];
        } else {
            managers = this.updateManagers(res, undefined, draft, opts.fieldManager ?? 'test', '');
        }
        return this.commit(res, undefined, draft, managers, !!opts.dryRun);
    }

    /** Replace (PUT); honours metadata.resourceVersion as a precondition when set. */
    update(ref: ResourceRef, body: KObj, opts: WriteOptions = {}): KObj {
        const res = this.resource(ref);
        if (!isPlainObject(body)) throw apiError(400, 'BadRequest', 'the body of the request was in an unknown format');
        this.checkApiVersionKind(res, body, !res.builtin);
        const ns = res.namespaced ? (body.metadata?.namespace ?? '') : '';
        const name = body.metadata?.name;
        if (!name) throw this.invalid(res, '', [{ reason: 'FieldValueRequired', message: 'Required value: name is required', field: 'metadata.name' }]);
        const prev = this.rec(res, ns, name);
        if (!prev) throw this.notFound(res, name);
        const rv = body.metadata?.resourceVersion;
        if (rv !== undefined && rv !== '' && rv !== prev.obj.metadata.resourceVersion) {
            throw this.conflict(res, name, 'the object has been modified; please apply your changes to the latest version and try again');
        }
        return clone(this.replaceFrom(res, prev, body, opts).obj);
    }

    /** Update status only (PUT .../status). */
    updateStatus(ref: ResourceRef, body: KObj, opts: WriteOptions = {}): KObj {
        return this.update(ref, body, { ...opts, subresource: 'status' });
    }

    /** @internal shared tail of PUT and non-apply PATCH */
    replaceFrom(res: ResourceInfo, prev: Rec, candidate: KObj, opts: WriteOptions, owned = false): { obj: KObj; created: boolean } {
        const sub = opts.subresource ?? '';
        if (sub === 'status' && !res.statusSubresource) throw this.notFound(res, prev.name);
        let draft: KObj;
        if (sub === 'status') {
            draft = cloneForWrite(prev.obj);
            if (candidate.status === undefined) delete draft.status;
            else draft.status = clone(candidate.status);
        } else {
            draft = owned ? candidate : clone(candidate);
            draft.apiVersion = res.apiVersion;
            draft.kind = res.kind;
            draft.metadata = isPlainObject(draft.metadata) ? draft.metadata : {};
            const pm = prev.obj.metadata;
            for (const k of ['name', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation']) {
                if (pm[k] === undefined) delete draft.metadata[k];
                else draft.metadata[k] = clone(pm[k]);
            }
            if (res.statusSubresource) {
                if (prev.obj.status === undefined) delete draft.status;
                else draft.status = clone(prev.obj.status);
            }
            if (res.key === '/namespaces') draft.spec = clone(prev.obj.spec);
            this.normalize(res, draft, 'update');
        }
        this.checkSchema(res, draft, opts);
        this.validate(res, draft, prev);
        this.admit(res, 'UPDATE', draft, prev, opts);
        this.bumpGeneration(res, prev, draft);
        const managers = this.updateManagers(res, prev, draft, opts.fieldManager ?? 'test', sub);
        return this.commit(res, prev, draft, managers, !!opts.dryRun);
    }

    /** Non-apply PATCH. */
    patch(ref: ResourceRef, namespace: string, name: string, type: 'merge' | 'json' | 'strategic', patch: unknown, opts: WriteOptions = {}): KObj {
        return clone(this.patchInternal(this.resource(ref), namespace, name, type, patch, opts).obj);
    }

    /** @internal */
    patchInternal(res: ResourceInfo, namespace: string, name: string, type: 'merge' | 'json' | 'strategic', patch: unknown, opts: WriteOptions): { obj: KObj; created: boolean } {
        const ns = res.namespaced ? namespace : '';
        const prev = this.rec(res, ns, name);
        if (type === 'json' && !Array.isArray(patch)) jsonPatch({}, patch); // throws the decode error
        if (!prev) throw this.notFound(res, name);
        if (type !== 'json' && !isPlainObject(patch)) throw apiError(400, 'BadRequest', 'json: cannot unmarshal non-object into Go value of type map[string]interface {}');
        const patched = type === 'json' ? jsonPatch(cloneForWrite(prev.obj), patch) : jsonMergePatch(cloneForWrite(prev.obj), patch);
        if (!isPlainObject(patched)) throw invalidPatch('patch produced a non-object');
        const wantRv = type === 'json' ? patched.metadata?.resourceVersion : (patch as any)?.metadata?.resourceVersion;
        if (wantRv !== undefined && wantRv !== null && wantRv !== prev.obj.metadata.resourceVersion) {
            throw this.conflict(res, name, 'the object has been modified; please apply your changes to the latest version and try again');
        }
        if (patched.metadata?.name !== undefined && patched.metadata.name !== name) {
            throw apiError(400, 'BadRequest', `the name of the object (${patched.metadata.name}) does not match the name on the URL (${name})`);
        }
        return this.replaceFrom(res, prev, patched, opts, true);
    }

    /**
     * Server-side apply. `config` is the applied configuration (apiVersion,
     * kind, metadata.name required). Creates the object when missing.
     */
    apply(ref: ResourceRef, config: KObj, opts: WriteOptions & { fieldManager: string }): KObj {
        const res = this.resource(ref);
        const ns = res.namespaced ? (config?.metadata?.namespace ?? '') : '';
        return clone(this.applyInternal(res, ns, config?.metadata?.name, config, opts).obj);
    }

    /** @internal */
    applyInternal(res: ResourceInfo, namespace: string, name: string, config: unknown, opts: WriteOptions): { obj: KObj; created: boolean } {
        if (!isPlainObject(config)) throw apiError(400, 'BadRequest', 'error decoding YAML: the applied configuration must be an object');
        const manager = opts.fieldManager;
        if (!manager) throw apiError(400, 'BadRequest', 'PATCH, application/apply-patch+yaml requests require a fieldManager query parameter');
        if (!config.apiVersion || !config.kind) {
            throw apiError(400, 'BadRequest', `invalid object type: ${config.apiVersion ?? ''}, Kind=${config.kind ?? ''}`);
        }
        this.checkApiVersionKind(res, config, true);
        const cfgMeta = isPlainObject(config.metadata) ? config.metadata : {};
        if (cfgMeta.name !== undefined && cfgMeta.name !== name) {
            throw apiError(400, 'BadRequest', `the name of the object (${cfgMeta.name}) does not match the name on the URL (${name})`);
        }
        if (res.namespaced && cfgMeta.namespace !== undefined && cfgMeta.namespace !== namespace) {
            throw apiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
        }
        const ns = res.namespaced ? namespace : '';
        const sub = opts.subresource ?? '';
        const scope = this.scopeFor(res, sub);
        const existing = this.rec(res, ns, name);
        if (cfgMeta.resourceVersion !== undefined && cfgMeta.resourceVersion !== null && cfgMeta.resourceVersion !== existing?.obj.metadata.resourceVersion) {
            if (!existing) throw this.notFound(res, name);
            throw this.conflict(res, name, 'the object has been modified; please apply your changes to the latest version and try again');
        }
        // the applied configuration, restricted to the scope being written
        let cfg: KObj = stripNulls(config);
        cfg.metadata = { ...(cfg.metadata ?? {}), name };
        if (res.namespaced) cfg.metadata.namespace = ns;
        if (scope === 'main') delete cfg.status;
        if (scope === 'status') cfg = { apiVersion: cfg.apiVersion, kind: cfg.kind, metadata: { name, namespace: cfg.metadata.namespace }, ...(cfg.status !== undefined ? { status: cfg.status } : {}) };
        this.normalize(res, cfg, 'applyConfig');
        // pruned before ownership is computed: nobody owns a field the schema drops
        this.checkSchema(res, cfg, opts, false);
        const applied = flattenFields(cfg, scope, res.listTypes);
        const prev = this.rec(res, ns, name);
        if (!prev) {
            if (sub === 'status') throw this.notFound(res, name);
            return this.createInternal(res, { ...cfg, apiVersion: res.apiVersion, kind: res.kind }, opts, { manager, fields: new Set(applied.keys()) });
        }
        const live = flattenFields(prev.obj, scope, res.listTypes);
        const ms = cloneManagers(prev.managers);
        const ownKey = managerKey({ manager, operation: 'Apply', subresource: sub });
        const conflicts: { m: ManagerEntry; path: string }[] = [];
        for (const m of ms) {
            if (managerKey(m) === ownKey) continue;
            for (const q of m.fields) {
                if (applied.has(q)) {
                    if (!deepEqual(applied.get(q), live.get(q))) conflicts.push({ m, path: q });
                    continue;
                }
                // the applier sets an atomic value above a field someone else owns
                const segs = q.split(SEP);
                for (let i = segs.length - 1; i > 0; i--) {
                    const anc = segs.slice(0, i).join(SEP);
                    if (applied.has(anc)) {
                        if (!deepEqual(applied.get(anc), cfgValueAt(prev.obj, anc))) conflicts.push({ m, path: q });
                        break;
                    }
                }
            }
        }
        if (conflicts.length > 0 && !opts.force) throw conflictError(conflicts);
        for (const c of conflicts) {
            c.m.fields.delete(c.path);
            c.m.rendered = undefined;
        }
        let own = ms.find((m) => managerKey(m) === ownKey);
        const previouslyOwned = own ? new Set(own.fields) : new Set<string>();
        if (!own) {
            own = this.newEntry(manager, 'Apply', sub, config.apiVersion as string);
            ms.push(own);
        }
        own.fields = new Set(applied.keys());
        own.rendered = undefined;
        own.apiVersion = config.apiVersion as string;
        own.time = k8sTime();
        // merge
        let draft: KObj;
        if (scope === 'status') {
            draft = cloneForWrite(prev.obj);
            if (cfg.status !== undefined) draft.status = applyMerge(prev.obj.status, cfg.status, ['status'], res.listTypes);
        } else {
            const { apiVersion: _a, kind: _k, ...cfgRest } = cfg;
            draft = applyMerge(cloneForWrite(prev.obj), cfgRest, [], res.listTypes);
        }
        // remove what the applier dropped and nobody else owns
        const appliedPrefixes = new Set<string>();
        for (const p of applied.keys()) {
            const segs = p.split(SEP);
            for (let i = 1; i < segs.length; i++) appliedPrefixes.add(segs.slice(0, i).join(SEP));
        }
        for (const q of previouslyOwned) {
            if (applied.has(q) || appliedPrefixes.has(q)) continue;
            if (ms.some((m) => m !== own && m.fields.has(q))) continue;
            const segs = q.split(SEP);
            let underApplied = false;
            for (let i = segs.length - 1; i > 0 && !underApplied; i--) if (applied.has(segs.slice(0, i).join(SEP))) underApplied = true;
            if (underApplied) continue;
            removeFieldPath(draft, q);
        }
        const pm = prev.obj.metadata;
        for (const k of ['name', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'resourceVersion']) {
            if (pm[k] === undefined) delete draft.metadata[k];
            else draft.metadata[k] = pm[k];
        }
        this.checkSchema(res, draft, opts);
        this.validate(res, draft, prev);
        this.admit(res, 'UPDATE', draft, prev, opts);
        this.bumpGeneration(res, prev, draft);
        return this.commit(
            res,
            prev,
            draft,
            ms.filter((m) => m.fields.size > 0),
            !!opts.dryRun,
        );
    }

    /**
     * DELETE. With finalizers the object gets a deletionTimestamp and is
     * returned (`pending: true`); otherwise it is removed at once.
     */
    delete(
        ref: ResourceRef,
        namespace: string,
        name: string,
        opts: WriteOptions & { preconditions?: { uid?: string; resourceVersion?: string }; propagationPolicy?: PropagationPolicy } = {},
    ): { pending: boolean; object: Readonly<KObj> } {
        const res = this.resource(ref);
        const policy = opts.propagationPolicy ?? 'Background';
        if (!['Background', 'Foreground', 'Orphan'].includes(policy)) {
            throw apiError(400, 'BadRequest', `propagationPolicy: Unsupported value: ${JSON.stringify(policy)}: supported values: "Foreground", "Background", "Orphan"`);
        }
        const ns = res.namespaced ? namespace : '';
        const prev = this.rec(res, ns, name);
        if (!prev) throw this.notFound(res, name);
        const pre = opts.preconditions;
        if (pre?.uid && pre.uid !== prev.obj.metadata.uid) {
            throw this.conflict(res, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${prev.obj.metadata.uid}`);
        }
        if (pre?.resourceVersion && pre.resourceVersion !== prev.obj.metadata.resourceVersion) {
            throw this.conflict(res, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in meta: ${prev.obj.metadata.resourceVersion}`);
        }
        if (prev.obj.metadata.deletionTimestamp) return { pending: true, object: prev.obj };
        const draft = clone(prev.obj);
        // Foreground/Orphan: the collector's finalizer holds the object until it has dealt with its dependents
        const gcFinalizer = !this.gc.enabled || res.key === '/namespaces' ? undefined : policy === 'Foreground' ? FOREGROUND_FINALIZER : policy === 'Orphan' ? ORPHAN_FINALIZER : undefined;
        if (gcFinalizer && !(draft.metadata.finalizers ?? []).includes(gcFinalizer)) draft.metadata.finalizers = [...(draft.metadata.finalizers ?? []), gcFinalizer];
        const hasFinalizers = (draft.metadata.finalizers ?? []).length > 0;
        if (!hasFinalizers && res.key !== '/namespaces') {
            // immediate deletion: one DELETED event carrying the last state
            const r = this.commit(res, prev, draft, prev.managers, !!opts.dryRun, true);
            return { pending: false, object: r.obj };
        }
        draft.metadata.deletionTimestamp = k8sTime();
        draft.metadata.deletionGracePeriodSeconds = 0;
        if (res.key === '/namespaces') {
            draft.status = { ...(draft.status ?? {}), phase: 'Terminating' };
            const r = this.commit(res, prev, draft, prev.managers, !!opts.dryRun);
            if (!opts.dryRun) this.later(() => this.reconcileNamespace(name));
            return { pending: true, object: r.obj };
        }
        this.bumpGeneration(res, prev, draft);
        const r = this.commit(res, prev, draft, prev.managers, !!opts.dryRun);
        const now = gcFinalizer && !opts.dryRun ? this.rec(res, ns, name) : undefined;
        if (now) this.gc.finalizing(now);
        return { pending: true, object: r.obj };
    }

    /**
     * Read-modify-write helper for in-process controllers: `mutate` edits a
     * clone of the current object; the result is written as an update of the
     * main resource or of `/status`. Returns the stored (frozen) result, or
     * undefined when the object is gone.
     */
    mutate(ref: ResourceRef, namespace: string, name: string, mutate: (obj: KObj) => void, opts: WriteOptions = {}): Readonly<KObj> | undefined {
        const res = this.resource(ref);
        const prev = this.rec(res, res.namespaced ? namespace : '', name);
        if (!prev) return undefined;
        const draft = cloneForWrite(prev.obj);
        mutate(draft);
        return this.replaceFrom(res, prev, draft, opts, true).obj;
    }
}

function cfgValueAt(obj: any, p: string): unknown {
    let cur = obj;
    for (const seg of p.split(SEP)) {
        if (!seg.startsWith('f:') || !isPlainObject(cur)) return undefined;
        cur = cur[seg.slice(2)];
    }
    return cur;
}

function conflictError(conflicts: { m: ManagerEntry; path: string }[]): KubeApiError {
    const byManager = new Map<ManagerEntry, string[]>();
    for (const c of conflicts) {
        if (!byManager.has(c.m)) byManager.set(c.m, []);
        byManager.get(c.m)!.push(prettyPath(c.path));
    }
    const who = (m: ManagerEntry, plural: boolean) =>
        `conflict${plural ? 's' : ''} with ${JSON.stringify(m.manager)}${m.operation === 'Update' ? '' : ''}${m.subresource ? ` with subresource ${JSON.stringify(m.subresource)}` : ''} using ${m.apiVersion}`;
    let message: string;
    if (conflicts.length === 1) {
        message = `Apply failed with 1 conflict: ${who(conflicts[0].m, false)}: ${prettyPath(conflicts[0].path)}`;
    } else {
        const parts = [...byManager].map(([m, paths]) => `${who(m, true)}:\n${paths.map((p) => `- ${p}`).join('\n')}`);
        message = `Apply failed with ${conflicts.length} conflicts: ${parts.join('\n')}`;
    }
    return apiError(409, 'Conflict', message, {
        causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: who(c.m, false), field: prettyPath(c.path) })),
    });
}
