/**
 * The simulated BMO's engine: the per-host work queue (reconciles deduplicated per host on
 * setImmediate, as a stand-in for controller-runtime's queue), BMO_CONCURRENCY workers (each transition
 * holds one for its delay), backoff timers, and the status writes every concern shares. It writes the
 * KubeApiTestServer store in-process through the same path as API clients (resourceVersion bumps,
 * MODIFIED events, managedFields under BMO's manager).
 */
import type { KObj } from '../../kube/objects';
import { KubeApiError, k8sTime } from '../../kube/objects';
import type { KubeStore } from '../../kube/store';
import { BUSY_STATES } from './provisioningLimit';
import { BMH, BmhErrorType, BmhState, BmoDelays, BmoStats, DEFAULT_DELAYS, FailureRule, hash01, ResolvedOptions, SimulatedBmoOptions, Track } from './types';

const OPERATIONS: Record<string, string> = { registering: 'register', inspecting: 'inspect', provisioning: 'provision', deprovisioning: 'deprovision' };

export class BmoRuntime {
    readonly stats: BmoStats = {
        reconciles: 0,
        statusUpdates: 0,
        transitions: 0,
        finalizersAdded: 0,
        finalizersRemoved: 0,
        maxConcurrentTransitions: 0,
        maxInspecting: 0,
        maxBusy: 0,
        injectedErrors: 0,
        delays: 0,
    };
    readonly opts: ResolvedOptions;
    readonly delays: BmoDelays;
    readonly tracks = new Map<string, Track>();
    /** hosts busy in Ironic (what PROVISIONING_LIMIT counts): key → their state */
    readonly busy = new Map<string, BmhState>();
    failures: FailureRule[] = [];
    /** `${ns}/${secretName}` → host keys */
    readonly credsIndex = new Map<string, Set<string>>();
    running = false;
    private readonly queue = new Set<string>();
    private flush?: NodeJS.Immediate;
    private active = 0;
    private readonly slotWaiters: Track[] = [];

    constructor(
        readonly store: KubeStore,
        options: SimulatedBmoOptions,
        /** the state machine: reconciles one host key */
        private readonly reconcile: (key: string) => void,
    ) {
        this.delays = { ...DEFAULT_DELAYS, ...(options.delays ?? {}) };
        const te = options.transientErrors;
        this.opts = {
            namespaces: options.namespaces ? new Set(options.namespaces) : undefined,
            jitter: options.jitter ?? 0.2,
            seed: options.seed ?? 1,
            concurrency: options.concurrency ?? Infinity,
            provisioningLimit: options.provisioningLimit ?? Infinity,
            minuteMs: options.minuteMs ?? 10,
            transientErrors: te ? { rate: te.rate, states: te.states ?? ['registering', 'inspecting', 'preparing', 'available'], failures: te.failures ?? 1 } : undefined,
            fieldManager: options.fieldManager ?? 'baremetal-operator',
            claimSecrets: options.claimSecrets ?? true,
            onBmcChange: options.onBmcChange ?? 'reregister',
            autoStart: options.autoStart ?? true,
        };
    }

    watches(ns: string): boolean {
        return !this.opts.namespaces || this.opts.namespaces.has(ns);
    }

    /** Transitions currently holding a worker. */
    get activeTransitions(): number {
        return this.active;
    }

    // ---- queue -----------------------------------------------------------------------------

    enqueue(ns: string, name: string): void {
        this.enqueueKey(`${ns}/${name}`);
    }

    enqueueKey(key: string): void {
        if (!this.running) return;
        this.queue.add(key);
        if (this.flush) return;
        this.flush = setImmediate(() => {
            this.flush = undefined;
            const keys = [...this.queue];
            this.queue.clear();
            for (const k of keys) {
                if (!this.running) return;
                try {
                    this.reconcile(k);
                } catch (e) {
                    if (e instanceof KubeApiError && (e.code === 409 || e.code === 404)) {
                        this.enqueueKey(k); // raced with an API client: try again
                    } else {
                        // eslint-disable-next-line no-console
                        console.error(`SimulatedBmo: reconcile of ${k} failed:`, e);
                    }
                }
            }
        });
    }

    track(ns: string, name: string): Track {
        const key = `${ns}/${name}`;
        let t = this.tracks.get(key);
        if (!t) this.tracks.set(key, (t = { key, ns, name, slot: false, retries: 0, attempts: 0, delays: 0 }));
        return t;
    }

    /** Stops every timer and forgets every host. */
    clear(): void {
        if (this.flush) clearImmediate(this.flush);
        this.flush = undefined;
        this.queue.clear();
        for (const t of this.tracks.values()) {
            if (t.timer) clearTimeout(t.timer);
            if (t.retryTimer) clearTimeout(t.retryTimer);
        }
        this.tracks.clear();
        this.slotWaiters.length = 0;
        this.active = 0;
        this.busy.clear();
    }

    forget(t: Track): void {
        this.cancel(t);
        this.stopRetry(t);
        this.busy.delete(t.key);
        if (t.credsKey) this.credsIndex.get(t.credsKey)?.delete(t.key);
        this.tracks.delete(t.key);
    }

    // ---- workers (BMO_CONCURRENCY) -------------------------------------------------------------

    /** `base` ms with the seeded jitter of this host and step. */
    delayFor(t: Track, what: string, base: number): number {
        const j = this.opts.jitter;
        if (!j || base <= 0) return Math.max(0, base);
        const r = hash01(`${this.opts.seed}:${t.key}:${what}:${t.retries}`);
        return Math.max(0, Math.round(base * (1 + j * (2 * r - 1))));
    }

    /** Runs `fn` after `delayMs`, holding a worker slot meanwhile; the host is re-queued after. */
    schedule(t: Track, step: string, delayMs: number, fn: () => void): void {
        this.cancel(t);
        t.step = step;
        const begin = () => {
            t.waiting = undefined;
            this.active++;
            t.slot = true;
            this.stats.maxConcurrentTransitions = Math.max(this.stats.maxConcurrentTransitions, this.active);
            t.timer = setTimeout(() => {
                t.timer = undefined;
                t.step = undefined;
                this.release(t);
                if (!this.running) return;
                try {
                    fn();
                } catch (e) {
                    if (!(e instanceof KubeApiError && (e.code === 404 || e.code === 409))) {
                        // eslint-disable-next-line no-console
                        console.error(`SimulatedBmo: step ${step} of ${t.key} failed:`, e);
                    }
                }
                this.enqueueKey(t.key);
            }, delayMs);
        };
        if (this.active < this.opts.concurrency) begin();
        else {
            t.waiting = begin;
            this.slotWaiters.push(t);
        }
    }

    private release(t: Track): void {
        if (!t.slot) return;
        t.slot = false;
        this.active--;
        while (this.active < this.opts.concurrency && this.slotWaiters.length > 0) {
            const next = this.slotWaiters.shift()!;
            if (next.waiting) next.waiting();
        }
    }

    cancel(t: Track): void {
        if (t.timer) clearTimeout(t.timer);
        t.timer = undefined;
        t.step = undefined;
        if (t.waiting) {
            t.waiting = undefined;
            const i = this.slotWaiters.indexOf(t);
            if (i >= 0) this.slotWaiters.splice(i, 1);
        }
        this.release(t);
    }

    // ---- backoff timers (no worker held: BMO requeues with RequeueAfter) ------------------------------

    /** Re-queues the host after `ms`; `hold`: leave it alone meanwhile (an error or a delay being waited out). */
    retryAfter(t: Track, ms: number, hold: boolean): void {
        this.stopRetry(t);
        t.holding = hold;
        t.retryTimer = setTimeout(() => {
            t.retryTimer = undefined;
            t.holding = false;
            t.retryDue = true;
            t.retries++;
            this.enqueueKey(t.key);
        }, Math.max(0, Math.round(ms)));
    }

    stopRetry(t: Track): void {
        if (t.retryTimer) clearTimeout(t.retryTimer);
        t.retryTimer = undefined;
        t.holding = false;
    }

    // ---- writes ----------------------------------------------------------------------------------

    writeStatus(ns: string, name: string, mutate: (status: any, host: KObj) => void): KObj | undefined {
        const out = this.store.mutate(
            BMH,
            ns,
            name,
            (o) => {
                o.status = o.status ?? {};
                mutate(o.status, o);
                o.status.lastUpdated = k8sTime();
            },
            { fieldManager: this.opts.fieldManager, subresource: 'status' },
        );
        this.stats.statusUpdates++;
        return out;
    }

    /** Moves the host to `state` (operationHistory as BMO's recordStateBegin/End), in one status write. */
    setState(t: Track, host: KObj, state: BmhState, extra?: (st: any) => void): void {
        const from = host.status?.provisioning?.state ?? '';
        const now = k8sTime();
        this.writeStatus(t.ns, t.name, (st) => {
            st.provisioning = { ID: '', image: { url: '' }, ...(st.provisioning ?? {}), state };
            st.operationHistory = st.operationHistory ?? {
                register: { start: null, end: null },
                inspect: { start: null, end: null },
                provision: { start: null, end: null },
                deprovision: { start: null, end: null },
            };
            const hist = st.operationHistory;
            const endOp = OPERATIONS[from];
            if (endOp && hist[endOp]) hist[endOp].end = now;
            const beginOp = OPERATIONS[state];
            if (beginOp) hist[beginOp] = { start: now, end: null };
            extra?.(st);
        });
        if (state !== from) t.attempts = 0;
        if (BUSY_STATES.includes(state)) this.markBusy(t, state);
        else this.busy.delete(t.key);
        this.stats.transitions++;
    }

    markBusy(t: Track, state: BmhState): void {
        this.busy.set(t.key, state);
        this.stats.maxBusy = Math.max(this.stats.maxBusy, this.busy.size);
        if (state === 'inspecting') {
            let n = 0;
            for (const s of this.busy.values()) if (s === 'inspecting') n++;
            this.stats.maxInspecting = Math.max(this.stats.maxInspecting, n);
        }
    }

    /** BMO's setErrorMessage (baremetalhost_controller.go): operationalStatus error, errorType, message, errorCount+1. */
    setError(t: Track, errorType: BmhErrorType, message: string, bump: boolean, extra?: (st: any) => void): void {
        this.writeStatus(t.ns, t.name, (st) => {
            st.operationalStatus = 'error';
            st.errorType = errorType;
            st.errorMessage = message;
            st.errorCount = (st.errorCount ?? 0) + (bump ? 1 : 0);
            extra?.(st);
        });
        // The Ironic node sits in a failed state (inspect failed, clean failed...): not busy.
        this.busy.delete(t.key);
    }

    /** BMO's clearError: operationalStatus OK, no errorType or message; errorCount is kept until the state succeeds. */
    clearError(t: Track, extra?: (st: any) => void): void {
        this.writeStatus(t.ns, t.name, (st) => {
            clearErrorFields(st);
            extra?.(st);
        });
    }
}

/** clearErrorWithStatus(host, OK) of BMO v0.13.2 baremetalhost_controller.go, on a status being written. */
export function clearErrorFields(st: any): void {
    st.operationalStatus = 'OK';
    delete st.errorType;
    st.errorMessage = '';
}
