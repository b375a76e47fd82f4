/**
 * The garbage collector of the Kubernetes API test server, after
 * kube-controller-manager's: work items are processed `delayMs` after they are
 * queued (a real collector lags its informers), always against the LATEST
 * state of the object, with the real classification of owner references:
 * - solid (the owner exists and is not being deleted in the foreground): the
 *   dependent stays; dangling references (owner gone, or a new object of the
 *   same name with another uid) and references to foreground-deleting owners
 *   are removed from it;
 * - no solid owner: the dependent is deleted (Foreground when one of its
 *   owners waits for dependents and it has dependents itself, else Background).
 * Owners deleted with propagationPolicy Foreground carry the
 * `foregroundDeletion` finalizer until no dependent with blockOwnerDeletion is
 * left; with Orphan, the `orphan` finalizer until every dependent lost its
 * reference to them.
 */
import type { KObj } from './objects';
import type { Rec } from './store';

export type PropagationPolicy = 'Background' | 'Foreground' | 'Orphan';
export const FOREGROUND_FINALIZER = 'foregroundDeletion';
export const ORPHAN_FINALIZER = 'orphan';
export const GC_MANAGER = 'generic-garbage-collector';

/** What the collector needs of the store (writes go through the store like any client's). */
export interface GcAccess {
    recByKey(key: string): Rec | undefined;
    byUid(uid: string): Rec | undefined;
    /** keys of the objects that reference this uid as an owner */
    dependentsOf(uid: string): string[];
    keyOf(rec: Rec): string;
    deleteDependent(rec: Rec, policy: PropagationPolicy): void;
    setOwnerReferences(rec: Rec, refs: unknown[]): void;
    removeFinalizer(rec: Rec, finalizer: string): void;
}

export interface GarbageCollectorOptions {
    enabled: boolean;
    /** how long after the triggering change an item is processed (default 50 ms) */
    delayMs: number;
}

const isForegroundDeleting = (o: Readonly<KObj>) => !!o.metadata.deletionTimestamp && (o.metadata.finalizers ?? []).includes(FOREGROUND_FINALIZER);

export class GarbageCollector {
    enabled: boolean;
    delayMs: number;
    /** Objects deleted and references removed by the collector so far. */
    readonly stats = { deleted: 0, referencesRemoved: 0 };
    private readonly queued = new Map<string, NodeJS.Timeout | null>();
    private held = false;
    private closed = false;

    constructor(
        private readonly access: GcAccess,
        opts: GarbageCollectorOptions,
    ) {
        this.enabled = opts.enabled;
        this.delayMs = opts.delayMs;
    }

    /** Items waiting to be processed. */
    get pending(): number {
        return this.queued.size;
    }

    /** Stops processing (items queue up) until release(): a collector lagging behind. */
    hold(): void {
        this.held = true;
    }

    /** Processes everything queued (after the usual delay) and resumes. */
    release(): void {
        this.held = false;
        for (const [key, t] of this.queued) if (t === null) this.arm(key);
    }

    close(): void {
        this.closed = true;
        for (const t of this.queued.values()) if (t) clearTimeout(t);
        this.queued.clear();
    }

    /** An object was removed: its dependents are looked at, and its foreground-deleting owners. */
    removed(rec: Rec): void {
        if (!this.enabled) return;
        for (const k of this.access.dependentsOf(rec.obj.metadata.uid)) this.enqueue(`dep|${k}`);
        for (const o of rec.obj.metadata.ownerReferences ?? []) {
            const owner = o?.uid ? this.access.byUid(o.uid) : undefined;
            if (owner && owner.obj.metadata.deletionTimestamp) this.enqueue(`owner|${this.access.keyOf(owner)}`);
        }
    }

    /** An object was written that references owners: those that do not exist make it a candidate (the "virtual node" check). */
    referenced(rec: Rec): void {
        if (!this.enabled) return;
        const refs: any[] = rec.obj.metadata.ownerReferences ?? [];
        if (refs.some((o) => o?.uid && !this.access.byUid(o.uid))) this.enqueue(`dep|${this.access.keyOf(rec)}`);
    }

    /** An owner got the foregroundDeletion or orphan finalizer with its deletionTimestamp. */
    finalizing(rec: Rec): void {
        if (!this.enabled) return;
        const key = this.access.keyOf(rec);
        this.enqueue(`owner|${key}`);
        if (isForegroundDeleting(rec.obj)) for (const k of this.access.dependentsOf(rec.obj.metadata.uid)) this.enqueue(`dep|${k}`);
    }

    private enqueue(item: string): void {
        if (this.closed || this.queued.has(item)) return;
        this.queued.set(item, null);
        if (!this.held) this.arm(item);
    }

    private arm(item: string): void {
        const t = setTimeout(() => {
            this.queued.delete(item);
            if (this.closed || !this.enabled) return;
            try {
                if (item.startsWith('dep|')) this.attemptToDelete(item.slice(4));
                else this.processOwner(item.slice(6));
            } catch {
                // raced with another writer: a later change queues the item again
            }
        }, this.delayMs);
        this.queued.set(item, t);
    }

    private attemptToDelete(key: string): void {
        const rec = this.access.recByKey(key);
        if (!rec) return;
        const refs: any[] = rec.obj.metadata.ownerReferences ?? [];
        if (refs.length === 0) return;
        const solid: any[] = [];
        const gone: any[] = [];
        let waiting = false;
        for (const ref of refs) {
            const owner = ref?.uid ? this.access.byUid(ref.uid) : undefined;
            if (!owner) gone.push(ref);
            else if (isForegroundDeleting(owner.obj)) {
                gone.push(ref);
                waiting = true;
            } else solid.push(ref);
        }
        if (solid.length > 0) {
            if (gone.length === 0) return;
            this.access.setOwnerReferences(rec, solid);
            this.stats.referencesRemoved += gone.length;
            return;
        }
        if (rec.obj.metadata.deletionTimestamp) return;
        const hasDependents = this.access.dependentsOf(rec.obj.metadata.uid).length > 0;
        this.access.deleteDependent(rec, waiting && hasDependents ? 'Foreground' : 'Background');
        this.stats.deleted++;
    }

    private processOwner(key: string): void {
        const rec = this.access.recByKey(key);
        if (!rec || !rec.obj.metadata.deletionTimestamp) return;
        const uid = rec.obj.metadata.uid;
        const fins: string[] = rec.obj.metadata.finalizers ?? [];
        const deps = this.access.dependentsOf(uid).map((k) => this.access.recByKey(k)).filter((r): r is Rec => !!r);
        if (fins.includes(ORPHAN_FINALIZER)) {
            for (const d of deps) {
                const refs: any[] = d.obj.metadata.ownerReferences ?? [];
                this.access.setOwnerReferences(d, refs.filter((r) => r?.uid !== uid));
                this.stats.referencesRemoved++;
            }
            this.access.removeFinalizer(rec, ORPHAN_FINALIZER);
            return;
        }
        if (fins.includes(FOREGROUND_FINALIZER)) {
            const blocking = deps.filter((d) => (d.obj.metadata.ownerReferences ?? []).some((r: any) => r?.uid === uid && r.blockOwnerDeletion === true));
            if (blocking.length === 0) this.access.removeFinalizer(rec, FOREGROUND_FINALIZER);
            else for (const d of blocking) if (!d.obj.metadata.deletionTimestamp) this.enqueue(`dep|${this.access.keyOf(d)}`);
        }
    }
}
