/**
 * SimulatedBmo: an in-process stand-in for metal3's baremetal-operator that
 * drives BareMetalHosts stored in a KubeApiTestServer. It reads and writes the
 * server's store directly (no HTTP), through the same write path as API
 * clients: every status change bumps the resourceVersion and produces a
 * MODIFIED watch event, with managedFields under manager "baremetal-operator".
 *
 * MODELLED (after metal3-io/baremetal-operator):
 * - Finalizer `baremetalhost.metal3.io` added to every host not being deleted
 *   (main-resource update), before anything else happens.
 * - Provisioning states `""` → `registering` → `inspecting` → `preparing` →
 *   `available`, each transition after a configurable delay (with
 *   deterministic jitter derived from `seed`, host name and state). Hosts
 *   without any BMC details go to `unmanaged` with operationalStatus
 *   `discovered`, and continue once BMC details are added. The annotation
 *   `inspect.metal3.io: disabled` skips `inspecting`; the annotation
 *   `baremetalhost.metal3.io/paused` pauses reconciliation.
 * - Status fields: provisioning.{state, ID, bootMode, image}, operationalStatus
 *   (`""` while registering, `OK` once registered, `error`, `delayed`,
 *   `discovered`), errorType/errorMessage/errorCount, poweredOn (on while
 *   inspecting, then follows spec.online once available), goodCredentials /
 *   triedCredentials {credentials: {name, namespace}, credentialsVersion},
 *   operationHistory register/inspect start/end, hardware (after inspection),
 *   hardwareProfile, lastUpdated.
 * - BMC credentials: the Secret named by spec.bmc.credentialsName in the
 *   host's namespace must exist and hold non-empty `username` and `password`.
 *   Otherwise the host stays `registering` with operationalStatus `error`,
 *   errorType `registration error` and BMO's own messages ("The BMC secret
 *   ns/name does not exist", "Missing BMC connection detail 'username' in
 *   credentials", ...). It recovers when the Secret is created or fixed.
 * - Claiming the Secret as BMO's SecretManager does: label
 *   `environment.metal3.io: baremetal`, a (non-controller) ownerReference to
 *   the host and finalizer `baremetalhost.metal3.io/secret`, released when the
 *   host is deleted. With the server's garbage collector on, a Secret owned
 *   only by deleted hosts is then deleted — as in a real cluster.
 * - PROVISIONING_LIMIT (`provisioningLimit`): at most that many hosts in
 *   `inspecting`; others wait in `registering` with operationalStatus
 *   `delayed`, like BMO's capacity check.
 * - BMO_CONCURRENCY (`concurrency`): at most that many state transitions in
 *   flight (each holds a worker for its delay), which bounds throughput.
 * - Deletion: a host with deletionTimestamp goes `powering off before delete`
 *   (unless it was still registering/unmanaged) then `deleting`, each for its
 *   delay, then its Secret finalizer and host finalizer are removed and the
 *   server deletes it. Deletion works from error states too.
 * - Image provisioning (BMO v0.13.2, see ./simulated/bmhProvisioning.ts): an
 *   `available` host with spec.online and a spec.image.url goes
 *   `provisioning` -> `provisioned` (status.provisioning.image = spec.image,
 *   poweredOn true, operationHistory.provision); removing or changing the
 *   image goes `deprovisioning` -> `available` (status.provisioning.image
 *   cleared, powered off). A missing checksum or unknown checksumType is a
 *   `provisioning error` (then deprovisioning; retried only when spec.image
 *   changes). Deleting a provisioned host deprovisions it first.
 * - Spec changes: a new bmc.address / credentialsName / Secret content on a
 *   registered host makes BMO re-register it. Real BMO stays in its state
 *   ("We will not return to the Registering state") — that is the default
 *   `onBmcChange: 'reregister'`; `'restart'` sends the host back to
 *   `registering` and through inspection again.
 * - Failure injection: `failHost(nameOrPredicate, {state, errorType,
 *   errorMessage})` makes the operation of that state fail when it would
 *   complete (or at once when no state is given): operationalStatus `error`,
 *   errorType, errorMessage, errorCount+1, and the host stays there
 *   (`errorRetryMs` > 0 retries with backoff and bumps errorCount each time).
 *
 * SIMPLIFIED / NOT MODELLED:
 * - No Ironic: IDs, hardware details and timings are synthetic. Images are
 *   not written anywhere (only their checksum fields are checked), no
 *   PROVISIONING_LIMIT for (de)provisioning, no customDeploy, no HardwareData/PreprovisioningImage/HostFirmwareSettings objects, no
 *   conditions, no detached/externallyProvisioned/servicing flows, no
 *   webhook validation, no Events.
 * - BMO only watches labelled Secrets; this simulator reacts to every Secret
 *   change in watched namespaces at once.
 * - Reconciles run on setImmediate after each change of a host (deduplicated
 *   per host), not through a rate-limited work queue.
 */
import { KubeApiTestServer, KubeStore, KObj, KubeApiError, StoreEvent, k8sTime } from './kubeApiServer';
import { imageChecksumError, needsProvisioning, provisionedImage, provisioningCancelled } from './simulated/bmhProvisioning';

export const BMH_FINALIZER = 'baremetalhost.metal3.io';
export const SECRET_FINALIZER = 'baremetalhost.metal3.io/secret';
export const PAUSED_ANNOTATION = 'baremetalhost.metal3.io/paused';
export const ENVIRONMENT_LABEL = 'environment.metal3.io';

export type BmhState =
    | ''
    | 'unmanaged'
    | 'registering'
    | 'inspecting'
    | 'preparing'
    | 'available'
    | 'provisioning'
    | 'provisioned'
    | 'deprovisioning'
    | 'powering off before delete'
    | 'deleting';

export type BmhErrorType =
    | 'provisioned registration error'
    | 'registration error'
    | 'inspection error'
    | 'preparation error'
    | 'provisioning error'
    | 'power management error'
    | 'servicing error';

export interface BmoDelays {
    /** registering → next state (credentials validated, node enrolled) */
    registering: number;
    inspecting: number;
    preparing: number;
    /** applying spec.online changes to an available or provisioned host */
    power: number;
    /** provisioning -> provisioned (image written, host booted) */
    provisioning: number;
    /** deprovisioning -> available (cleaning) */
    deprovisioning: number;
    poweringOffBeforeDelete: number;
    deleting: number;
}

export interface SimulatedBmoOptions {
    /** watched namespaces (WATCH_NAMESPACE); default: all */
    namespaces?: string[];
    delays?: Partial<BmoDelays>;
    /** ± fraction applied to every delay (default 0.2) */
    jitter?: number;
    /** jitter seed (default 1) */
    seed?: number;
    /** BMO_CONCURRENCY: state transitions in flight at once (default unbounded) */
    concurrency?: number;
    /** PROVISIONING_LIMIT: hosts inspecting at once (default unbounded; BMO's default is 20) */
    provisioningLimit?: number;
    /** managedFields manager name (default "baremetal-operator") */
    fieldManager?: string;
    /** label/own/finalize BMC secrets like BMO (default true) */
    claimSecrets?: boolean;
    /** retry period for hosts in error (errorCount grows each retry, doubling up to 16x); 0 = never (default) */
    errorRetryMs?: number;
    /** what a changed BMC address/credentials does to a registered host (default 'reregister') */
    onBmcChange?: 'reregister' | 'restart';
    /** start watching immediately (default true) */
    autoStart?: boolean;
}

export interface HostFailure {
    /** state whose operation fails (default: whatever state the host is in) */
    state?: BmhState;
    errorType?: BmhErrorType;
    errorMessage?: string;
    /** restrict a name match to a namespace */
    namespace?: string;
}

export type HostMatcher = string | ((host: Readonly<KObj>) => boolean);

export interface BmoStats {
    reconciles: number;
    statusUpdates: number;
    transitions: number;
    finalizersAdded: number;
    finalizersRemoved: number;
    maxConcurrentTransitions: number;
    maxInspecting: number;
}

const DEFAULT_DELAYS: BmoDelays = {
    registering: 20,
    inspecting: 40,
    preparing: 20,
    power: 10,
    provisioning: 40,
    deprovisioning: 30,
    poweringOffBeforeDelete: 10,
    deleting: 20,
};

const BMH = 'baremetalhosts.metal3.io';
const SECRETS = 'secrets';

interface Track {
    key: string;
    ns: string;
    name: string;
    timer?: NodeJS.Timeout;
    /** the transition in flight */
    step?: string;
    slot: boolean;
    waiting?: () => void;
    retryTimer?: NodeJS.Timeout;
    retryDue?: boolean;
    retries: number;
    /** what the host was last registered with */
    registered?: string;
    /** spec.image (JSON) whose provisioning failed: not retried until spec.image changes */
    failedImage?: string;
    credsKey?: string;
}

interface FailureRule {
    match: HostMatcher;
    failure: HostFailure;
}

function hash01(s: string): number {
    // FNV-1a → [0, 1)
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) {
        h ^= s.charCodeAt(i);
        h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h / 0x100000000;
}

function fakeUuid(seed: string): string {
    const hex = [0, 1, 2, 3].map((i) => Math.floor(hash01(`${seed}:${i}`) * 0xffffffff).toString(16).padStart(8, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const decode = (v: unknown): string => (typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : '');

export class SimulatedBmo {
    readonly store: KubeStore;
    readonly stats: BmoStats = {
        reconciles: 0,
        statusUpdates: 0,
        transitions: 0,
        finalizersAdded: 0,
        finalizersRemoved: 0,
        maxConcurrentTransitions: 0,
        maxInspecting: 0,
    };
    private readonly opts: Required<Omit<SimulatedBmoOptions, 'namespaces' | 'delays'>> & { namespaces?: Set<string> };
    private readonly delays: BmoDelays;
    private readonly tracks = new Map<string, Track>();
    private readonly queue = new Set<string>();
    private flush?: NodeJS.Immediate;
    private unsubscribe: (() => void)[] = [];
    private running = false;
    private active = 0;
    private readonly slotWaiters: Track[] = [];
    private readonly inspecting = new Set<string>();
    /** hosts waiting for PROVISIONING_LIMIT capacity */
    private readonly delayed = new Set<string>();
    private failures: FailureRule[] = [];
    /** hosts currently held in an injected error: key → rule */
    private readonly failed = new Map<string, FailureRule>();
    /** `${ns}/${secretName}` → host keys */
    private readonly credsIndex = new Map<string, Set<string>>();
    private readonly waiters = new Set<() => void>();

    constructor(target: KubeApiTestServer | KubeStore, options: SimulatedBmoOptions = {}) {
        this.store = target instanceof KubeApiTestServer ? target.store : target;
        this.delays = { ...DEFAULT_DELAYS, ...(options.delays ?? {}) };
        this.opts = {
            namespaces: options.namespaces ? new Set(options.namespaces) : undefined,
            jitter: options.jitter ?? 0.2,
            seed: options.seed ?? 1,
            concurrency: options.concurrency ?? Infinity,
            provisioningLimit: options.provisioningLimit ?? Infinity,
            fieldManager: options.fieldManager ?? 'baremetal-operator',
            claimSecrets: options.claimSecrets ?? true,
            errorRetryMs: options.errorRetryMs ?? 0,
            onBmcChange: options.onBmcChange ?? 'reregister',
            autoStart: options.autoStart ?? true,
        };
        if (this.opts.autoStart) this.start();
    }

    /** Starts watching hosts and secrets; existing hosts are reconciled. */
    start(): this {
        if (this.running) return this;
        this.running = true;
        this.unsubscribe.push(this.store.subscribe(BMH, (ev) => this.onHostEvent(ev)));
        this.unsubscribe.push(this.store.subscribe(SECRETS, (ev) => this.onSecretEvent(ev)));
        for (const h of this.store.peekList(BMH)) this.enqueue(h.metadata.namespace, h.metadata.name);
        return this;
    }

    /** Stops all timers and watches. Hosts keep whatever state they reached. */
    stop(): void {
        this.running = false;
        for (const u of this.unsubscribe) u();
        this.unsubscribe = [];
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
        this.inspecting.clear();
        this.delayed.clear();
        for (const w of [...this.waiters]) w();
    }

    /** Makes matching hosts fail (see HostFailure) and stay failed. */
    failHost(match: HostMatcher, failure: HostFailure = {}): void {
        this.failures.push({ match, failure });
        for (const h of this.store.peekList(BMH)) if (this.matchesRule({ match, failure }, h)) this.enqueue(h.metadata.namespace, h.metadata.name);
    }

    /** Removes failure rules for matching hosts; hosts held in error resume. */
    clearFailure(match?: HostMatcher): void {
        this.failures = match === undefined ? [] : this.failures.filter((r) => r.match !== match);
        for (const [key, rule] of [...this.failed]) {
            if (match !== undefined && rule.match !== match) continue;
            this.failed.delete(key);
            const [ns, name] = key.split('/');
            this.writeStatus(ns, name, (st) => {
                st.operationalStatus = 'OK';
                delete st.errorType;
                st.errorMessage = '';
            });
            this.enqueue(ns, name);
        }
    }

    /** The host's status (clone) or undefined. */
    hostStatus(namespace: string, name: string): any {
        return this.store.get(BMH, namespace, name)?.status;
    }

    /**
     * Resolves when `predicate` holds for the hosts (all hosts, or those of a
     * namespace); re-evaluated after host changes. Rejects after timeoutMs.
     */
    waitFor(predicate: (hosts: KObj[]) => boolean, opts: { namespace?: string; timeoutMs?: number } = {}): Promise<void> {
        const timeoutMs = opts.timeoutMs ?? 10_000;
        return new Promise<void>((resolve, reject) => {
            let timer: NodeJS.Timeout | undefined;
            let pending: NodeJS.Immediate | undefined;
            const check = () => {
                pending = undefined;
                try {
                    if (predicate(this.store.peekList(BMH, { namespace: opts.namespace }) as KObj[])) done();
                } catch (e) {
                    done(e as Error);
                }
            };
            const unsub = this.store.subscribe(BMH, () => {
                if (!pending) pending = setImmediate(check);
            }, { namespace: opts.namespace });
            const onStop = () => done(new Error('SimulatedBmo stopped'));
            const done = (err?: Error) => {
                unsub();
                this.waiters.delete(onStop);
                if (timer) clearTimeout(timer);
                if (pending) clearImmediate(pending);
                if (err) reject(err);
                else resolve();
            };
            this.waiters.add(onStop);
            timer = setTimeout(() => done(new Error(`SimulatedBmo.waitFor timed out after ${timeoutMs} ms`)), timeoutMs);
            check();
        });
    }

    /** Waits until the given hosts (or `count` hosts of the namespace) are in `state`. */
    waitForState(namespace: string, hosts: string[] | number, state: BmhState, timeoutMs = 10_000): Promise<void> {
        return this.waitFor(
            (list) => {
                const inState = list.filter((h) => (h.status?.provisioning?.state ?? '') === state);
                if (typeof hosts === 'number') return inState.length >= hosts;
                const names = new Set(inState.map((h) => h.metadata.name));
                return hosts.every((n) => names.has(n));
            },
            { namespace, timeoutMs },
        );
    }

    /** Transitions currently holding a worker. */
    get busy(): number {
        return this.active;
    }

    // ---- event plumbing ------------------------------------------------------------

    private watches(ns: string): boolean {
        return !this.opts.namespaces || this.opts.namespaces.has(ns);
    }

    private onHostEvent(ev: StoreEvent): void {
        if (!this.watches(ev.namespace)) return;
        this.enqueue(ev.namespace, ev.name);
    }

    private onSecretEvent(ev: StoreEvent): void {
        if (!this.watches(ev.namespace)) return;
        const hosts = this.credsIndex.get(`${ev.namespace}/${ev.name}`);
        if (hosts) for (const k of hosts) this.enqueueKey(k);
    }

    private enqueue(ns: string, name: string): void {
        this.enqueueKey(`${ns}/${name}`);
    }

    private enqueueKey(key: string): void {
        if (!this.running) return;
        this.queue.add(key);
        if (!this.flush) {
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
    }

    private track(ns: string, name: string): Track {
        const key = `${ns}/${name}`;
        let t = this.tracks.get(key);
        if (!t) this.tracks.set(key, (t = { key, ns, name, slot: false, retries: 0 }));
        return t;
    }

    // ---- workers (BMO_CONCURRENCY) ------------------------------------------------------

    private delayFor(t: Track, what: string, base: number): number {
        const j = this.opts.jitter;
        if (!j || base <= 0) return Math.max(0, base);
        const r = hash01(`${this.opts.seed}:${t.key}:${what}:${t.retries}`);
        return Math.max(0, Math.round(base * (1 + j * (2 * r - 1))));
    }

    /** Runs `fn` after `delayMs`, holding a worker slot meanwhile. */
    private schedule(t: Track, step: string, delayMs: number, fn: () => void): void {
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

    private cancel(t: Track): void {
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

    private leaveInspecting(t: Track): void {
        if (this.inspecting.delete(t.key)) {
            // capacity freed: wake hosts delayed by PROVISIONING_LIMIT
            for (const k of this.delayed) this.enqueueKey(k);
        }
    }

    // ---- writes -----------------------------------------------------------------------------

    private writeStatus(ns: string, name: string, mutate: (status: any, host: KObj) => void): KObj | undefined {
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

    private setState(t: Track, host: KObj, state: BmhState, extra?: (st: any) => void): void {
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
            const ops: Record<string, string> = { registering: 'register', inspecting: 'inspect', provisioning: 'provision', deprovisioning: 'deprovision' };
            const op = (s: string) => ops[s];
            const endOp = op(from);
            if (endOp && hist[endOp]) hist[endOp].end = now;
            const beginOp = op(state);
            if (beginOp) hist[beginOp] = { start: now, end: null };
            extra?.(st);
        });
        if (state === 'inspecting') {
            this.inspecting.add(t.key);
            this.stats.maxInspecting = Math.max(this.stats.maxInspecting, this.inspecting.size);
        } else if (from === 'inspecting') this.leaveInspecting(t);
        this.stats.transitions++;
    }

    private setError(t: Track, errorType: BmhErrorType, message: string, bump: boolean, extra?: (st: any) => void): void {
        this.writeStatus(t.ns, t.name, (st) => {
            st.operationalStatus = 'error';
            st.errorType = errorType;
            st.errorMessage = message;
            st.errorCount = (st.errorCount ?? 0) + (bump ? 1 : 0);
            extra?.(st);
        });
        this.leaveInspecting(t);
    }

    private scheduleRetry(t: Track): void {
        if (!this.opts.errorRetryMs || t.retryTimer) return;
        const ms = this.opts.errorRetryMs * Math.min(16, 2 ** Math.min(t.retries, 4));
        t.retryTimer = setTimeout(() => {
            t.retryTimer = undefined;
            t.retryDue = true;
            t.retries++;
            this.enqueueKey(t.key);
        }, this.delayFor(t, 'retry', ms));
    }

    // ---- reconcile ------------------------------------------------------------------------------

    private reconcile(key: string): void {
        const slash = key.indexOf('/');
        const ns = key.slice(0, slash);
        const name = key.slice(slash + 1);
        const host = this.store.peek(BMH, ns, name);
        const t = this.track(ns, name);
        this.stats.reconciles++;
        if (!host) {
            this.forget(t);
            return;
        }
        this.indexCredentials(t, host);
        if (host.metadata.annotations?.[PAUSED_ANNOTATION] !== undefined) return;
        if (host.metadata.deletionTimestamp) {
            this.reconcileDelete(t, host);
            return;
        }
        if (!(host.metadata.finalizers ?? []).includes(BMH_FINALIZER)) {
            this.store.mutate(BMH, ns, name, (o) => {
                o.metadata.finalizers = [...(o.metadata.finalizers ?? []), BMH_FINALIZER];
            }, { fieldManager: this.opts.fieldManager });
            this.stats.finalizersAdded++;
            return; // the update re-queues the host
        }
        if (t.step) return; // a transition is in flight
        const st = host.status ?? {};
        const state: BmhState = st.provisioning?.state ?? '';

        // injected failures hold the host
        const rule = this.failures.find((r) => this.matchesRule(r, host));
        if (this.failed.has(key)) {
            if (!rule) {
                this.failed.delete(key);
            } else {
                if (t.retryDue) {
                    t.retryDue = false;
                    this.setError(t, st.errorType, st.errorMessage, true);
                }
                this.scheduleRetry(t);
                return;
            }
        }
        if (rule && rule.failure.state === undefined && state !== '') {
            this.fail(t, host, rule, state);
            return;
        }

        switch (state) {
            case '':
                if (!this.hasBmcDetails(host)) {
                    this.setState(t, host, 'unmanaged', (s) => {
                        s.operationalStatus = 'discovered';
                        s.errorMessage = s.errorMessage ?? '';
                        s.errorCount = s.errorCount ?? 0;
                        s.poweredOn = false;
                    });
                } else {
                    this.setState(t, host, 'registering', (s) => {
                        s.operationalStatus = s.operationalStatus ?? '';
                        s.errorMessage = s.errorMessage ?? '';
                        s.errorCount = s.errorCount ?? 0;
                        s.poweredOn = false;
                        s.hardwareProfile = s.hardwareProfile ?? '';
                        s.provisioning.bootMode = host.spec?.bootMode ?? 'UEFI';
                    });
                }
                return;
            case 'unmanaged':
                if (this.hasBmcDetails(host)) this.setState(t, host, 'registering', (s) => (s.operationalStatus = ''));
                return;
            case 'registering': {
                const creds = this.checkCredentials(t, host);
                if (!creds) return;
                // BMO v0.13 InspectionDisabled(): spec.inspectionMode first, then the legacy annotation.
                const inspectionDisabled = host.spec?.inspectionMode === 'disabled' || host.metadata.annotations?.['inspect.metal3.io'] === 'disabled';
                const next: BmhState = inspectionDisabled ? 'preparing' : 'inspecting';
                if (next === 'inspecting' && this.inspecting.size >= this.opts.provisioningLimit) {
                    this.delayed.add(key);
                    if (st.operationalStatus !== 'delayed') this.writeStatus(ns, name, (s) => (s.operationalStatus = 'delayed'));
                    return;
                }
                this.delayed.delete(key);
                this.schedule(t, 'registering', this.delayFor(t, 'registering', this.delays.registering), () => {
                    const h = this.store.peek(BMH, ns, name);
                    if (!h || h.metadata.deletionTimestamp || (h.status?.provisioning?.state ?? '') !== 'registering') return;
                    if (this.failIfRuled(t, h, 'registering')) return;
                    if (next === 'inspecting' && this.inspecting.size >= this.opts.provisioningLimit) return; // re-queued: will be delayed
                    t.registered = this.registrationKey(h, creds.digest);
                    this.setState(t, h, next, (s) => {
                        s.operationalStatus = 'OK';
                        delete s.errorType;
                        s.errorMessage = '';
                        s.errorCount = 0;
                        s.provisioning.ID = s.provisioning.ID || fakeUuid(h.metadata.uid);
                        s.goodCredentials = { credentials: { name: h.spec.bmc.credentialsName, namespace: ns }, credentialsVersion: creds.version };
                        s.triedCredentials = clone(s.goodCredentials);
                        s.poweredOn = next === 'inspecting';
                    });
                });
                return;
            }
            case 'inspecting':
                this.inspecting.add(t.key);
                this.schedule(t, 'inspecting', this.delayFor(t, 'inspecting', this.delays.inspecting), () => {
                    const h = this.store.peek(BMH, ns, name);
                    if (!h || h.metadata.deletionTimestamp || h.status?.provisioning?.state !== 'inspecting') return;
                    if (this.failIfRuled(t, h, 'inspecting')) return;
                    this.setState(t, h, 'preparing', (s) => {
                        s.hardware = this.hardwareFor(h);
                        s.hardwareProfile = 'unknown';
                        s.poweredOn = false;
                        s.errorCount = 0;
                    });
                });
                return;
            case 'preparing':
                this.schedule(t, 'preparing', this.delayFor(t, 'preparing', this.delays.preparing), () => {
                    const h = this.store.peek(BMH, ns, name);
                    if (!h || h.metadata.deletionTimestamp || h.status?.provisioning?.state !== 'preparing') return;
                    if (this.failIfRuled(t, h, 'preparing')) return;
                    this.setState(t, h, 'available', (s) => {
                        s.operationalStatus = 'OK';
                        s.errorCount = 0;
                    });
                });
                return;
            case 'available': {
                if (this.failIfRuled(t, host, 'available')) return;
                // BMC details changed since registration?
                const creds = this.checkCredentials(t, host);
                if (!creds) return;
                const regKey = this.registrationKey(host, creds.digest);
                if (t.registered === undefined) t.registered = regKey; // simulator (re)started: adopt
                if (regKey !== t.registered) {
                    if (this.opts.onBmcChange === 'restart') {
                        t.registered = undefined;
                        this.setState(t, host, 'registering', (s) => (s.operationalStatus = ''));
                        return;
                    }
                    this.schedule(t, 'reregister', this.delayFor(t, 'registering', this.delays.registering), () => {
                        const h = this.store.peek(BMH, ns, name);
                        if (!h || h.metadata.deletionTimestamp) return;
                        t.registered = regKey;
                        this.writeStatus(ns, name, (s) => {
                            s.operationalStatus = 'OK';
                            delete s.errorType;
                            s.errorMessage = '';
                            s.goodCredentials = { credentials: { name: h.spec.bmc.credentialsName, namespace: ns }, credentialsVersion: creds.version };
                            s.triedCredentials = clone(s.goodCredentials);
                        });
                    });
                    return;
                }
                if (st.operationalStatus === 'error' && st.errorType === 'registration error') {
                    this.writeStatus(ns, name, (s) => {
                        s.operationalStatus = 'OK';
                        delete s.errorType;
                        s.errorMessage = '';
                    });
                    return;
                }
                if (needsProvisioning(host) && t.failedImage !== JSON.stringify(host.spec.image)) {
                    // handleAvailable -> actionManageAvailable: NeedsProvisioning() clears the error and moves on
                    this.setState(t, host, 'provisioning', (s) => {
                        s.operationalStatus = 'OK';
                        delete s.errorType;
                        s.errorMessage = '';
                    });
                    return;
                }
                if (!needsProvisioning(host)) t.failedImage = undefined;
                this.syncPower(t, host);
                return;
            }
            case 'provisioning': {
                // handleProvisioning: an error or a cancelled image sends the host to deprovisioning
                if (st.errorType || provisioningCancelled(host)) {
                    this.setState(t, host, 'deprovisioning');
                    return;
                }
                this.schedule(t, 'provisioning', this.delayFor(t, 'provisioning', this.delays.provisioning), () => {
                    const h = this.store.peek(BMH, ns, name);
                    if (!h || h.metadata.deletionTimestamp || h.status?.provisioning?.state !== 'provisioning') return;
                    if (provisioningCancelled(h)) return; // re-queued: goes deprovisioning
                    if (this.failIfRuled(t, h, 'provisioning')) return;
                    const err = imageChecksumError(h.spec?.image);
                    if (err) {
                        t.failedImage = JSON.stringify(h.spec.image);
                        this.setError(t, 'provisioning error', err, true);
                        return;
                    }
                    // actionProvisioning: the deployed image is recorded in status.provisioning.image
                    this.setState(t, h, 'provisioned', (s) => {
                        s.provisioning.image = provisionedImage(h);
                        s.poweredOn = true;
                        s.operationalStatus = 'OK';
                        s.errorCount = 0;
                    });
                });
                return;
            }
            case 'provisioned':
                // handleProvisioned: removing or changing the image deprovisions; otherwise power follows spec.online
                if (provisioningCancelled(host)) {
                    this.setState(t, host, 'deprovisioning');
                    return;
                }
                this.syncPower(t, host);
                return;
            case 'deprovisioning':
                this.schedule(t, 'deprovisioning', this.delayFor(t, 'deprovisioning', this.delays.deprovisioning), () => {
                    const h = this.store.peek(BMH, ns, name);
                    if (!h || h.metadata.deletionTimestamp || h.status?.provisioning?.state !== 'deprovisioning') return;
                    if (this.failIfRuled(t, h, 'deprovisioning')) return;
                    // actionDeprovisioning clears status.provisioning.image; cleaning leaves the host off
                    this.setState(t, h, 'available', (s) => {
                        s.provisioning.image = { url: '' };
                        s.poweredOn = false;
                        s.operationalStatus = 'OK';
                        delete s.errorType;
                        s.errorMessage = '';
                        s.errorCount = 0;
                    });
                });
                return;
            default:
                return;
        }
    }

    /** manageHostPower: status.poweredOn follows spec.online after the power delay. */
    private syncPower(t: Track, host: KObj): void {
        const { ns, name } = t;
        const online = host.spec?.online === true;
        if ((host.status?.poweredOn ?? false) === online) return;
        this.schedule(t, 'power', this.delayFor(t, 'power', this.delays.power), () => {
            const h = this.store.peek(BMH, ns, name);
            if (!h || h.metadata.deletionTimestamp) return;
            this.writeStatus(ns, name, (s) => (s.poweredOn = h.spec?.online === true));
        });
    }

    private reconcileDelete(t: Track, host: KObj): void {
        if (!(host.metadata.finalizers ?? []).includes(BMH_FINALIZER)) {
            this.forget(t);
            return;
        }
        if (t.step?.startsWith('delete:')) return;
        this.cancel(t);
        if (t.retryTimer) clearTimeout(t.retryTimer);
        t.retryTimer = undefined;
        this.failed.delete(t.key);
        this.delayed.delete(t.key);
        const state: BmhState = host.status?.provisioning?.state ?? '';
        if (state === 'deprovisioning') {
            // handleDeprovisioning with a deletionTimestamp: done -> powering off before delete
            this.schedule(t, 'delete:deprovisioning', this.delayFor(t, 'deprovisioning', this.delays.deprovisioning), () => {
                const h = this.store.peek(BMH, t.ns, t.name);
                if (!h) return;
                this.setState(t, h, 'powering off before delete', (s) => (s.provisioning.image = { url: '' }));
            });
            return;
        }
        if (state !== 'deleting' && state !== 'powering off before delete') {
            // checkInitiateDelete (BMO v0.13.2 host_state_machine.go): provisioned hosts deprovision first
            const next: BmhState = ['', 'registering', 'unmanaged'].includes(state)
                ? 'deleting'
                : ['provisioning', 'provisioned'].includes(state)
                  ? 'deprovisioning'
                  : 'powering off before delete';
            this.setState(t, host, next);
            return;
        }
        if (state === 'powering off before delete') {
            this.schedule(t, 'delete:poweroff', this.delayFor(t, 'poweroff', this.delays.poweringOffBeforeDelete), () => {
                const h = this.store.peek(BMH, t.ns, t.name);
                if (!h) return;
                this.setState(t, h, 'deleting', (s) => (s.poweredOn = false));
            });
            return;
        }
        this.schedule(t, 'delete:deleting', this.delayFor(t, 'deleting', this.delays.deleting), () => {
            const h = this.store.peek(BMH, t.ns, t.name);
            if (!h) return;
            this.releaseSecret(h);
            this.store.mutate(BMH, t.ns, t.name, (o) => {
                o.metadata.finalizers = (o.metadata.finalizers ?? []).filter((f: string) => f !== BMH_FINALIZER);
            }, { fieldManager: this.opts.fieldManager });
            this.stats.finalizersRemoved++;
        });
    }

    private forget(t: Track): void {
        this.cancel(t);
        if (t.retryTimer) clearTimeout(t.retryTimer);
        this.leaveInspecting(t);
        this.delayed.delete(t.key);
        this.failed.delete(t.key);
        if (t.credsKey) this.credsIndex.get(t.credsKey)?.delete(t.key);
        this.tracks.delete(t.key);
    }

    // ---- helpers -----------------------------------------------------------------------------------

    private matchesRule(rule: FailureRule, host: Readonly<KObj>): boolean {
        if (typeof rule.match === 'function') return rule.match(host);
        if (rule.failure.namespace && rule.failure.namespace !== host.metadata.namespace) return false;
        return host.metadata.name === rule.match;
    }

    private failIfRuled(t: Track, host: KObj, state: BmhState): boolean {
        const rule = this.failures.find((r) => (r.failure.state === undefined || r.failure.state === state) && this.matchesRule(r, host));
        if (!rule) return false;
        this.fail(t, host, rule, state);
        return true;
    }

    private fail(t: Track, host: KObj, rule: FailureRule, state: BmhState): void {
        const defaults: Record<string, BmhErrorType> = {
            registering: 'registration error',
            inspecting: 'inspection error',
            preparing: 'preparation error',
            provisioning: 'provisioning error',
            deprovisioning: 'provisioning error',
        };
        const errorType = rule.failure.errorType ?? defaults[state] ?? 'power management error';
        const message = rule.failure.errorMessage ?? `simulated ${errorType} for ${host.metadata.name}`;
        this.failed.set(t.key, rule);
        const st = host.status ?? {};
        if (st.operationalStatus !== 'error' || st.errorType !== errorType || st.errorMessage !== message) this.setError(t, errorType, message, true);
        this.scheduleRetry(t);
    }

    private hasBmcDetails(host: KObj): boolean {
        return !!(host.spec?.bmc?.address || host.spec?.bmc?.credentialsName);
    }

    /** What BMO would push to Ironic: changes trigger a re-registration. */
    private registrationKey(host: KObj, credsDigest: string): string {
        return JSON.stringify([host.spec?.bmc?.address ?? '', host.spec?.bmc?.credentialsName ?? '', credsDigest, host.spec?.bootMACAddress ?? '']);
    }

    private indexCredentials(t: Track, host: KObj): void {
        const name = host.spec?.bmc?.credentialsName;
        const key = name ? `${t.ns}/${name}` : undefined;
        if (key === t.credsKey) return;
        if (t.credsKey) this.credsIndex.get(t.credsKey)?.delete(t.key);
        t.credsKey = key;
        if (key) {
            let s = this.credsIndex.get(key);
            if (!s) this.credsIndex.set(key, (s = new Set()));
            s.add(t.key);
        }
    }

    /** Validates BMC details; on failure records a registration error and returns undefined. */
    private checkCredentials(t: Track, host: KObj): { version: string; digest: string } | undefined {
        const bmc = host.spec?.bmc ?? {};
        let message: string | undefined;
        let secret: KObj | undefined;
        if (!bmc.credentialsName) message = 'The BMC secret reference is empty';
        else {
            secret = this.store.peek(SECRETS, t.ns, bmc.credentialsName);
            if (!secret) message = `The BMC secret ${t.ns}/${bmc.credentialsName} does not exist`;
            else if (!bmc.address) message = "Missing BMC connection detail 'Address'";
            else if (!decode(secret.data?.username)) message = "Missing BMC connection detail 'username' in credentials";
            else if (!decode(secret.data?.password)) message = "Missing BMC connection details 'password' in credentials";
        }
        const st = host.status ?? {};
        if (message) {
            const same = st.operationalStatus === 'error' && st.errorType === 'registration error' && st.errorMessage === message;
            if (!same || t.retryDue) {
                t.retryDue = false;
                this.setError(t, 'registration error', message, true, (s) => {
                    if (bmc.credentialsName) s.triedCredentials = { credentials: { name: bmc.credentialsName, namespace: t.ns }, ...(secret ? { credentialsVersion: secret.metadata.resourceVersion } : {}) };
                });
            }
            // only a missing Secret is retried by BMO; the others wait for a change
            if (message.includes('does not exist')) this.scheduleRetry(t);
            return undefined;
        }
        t.retries = 0;
        if (this.opts.claimSecrets) this.claimSecret(host, secret!);
        const data = secret!.data ?? {};
        return {
            version: this.store.peek(SECRETS, t.ns, bmc.credentialsName)!.metadata.resourceVersion,
            digest: `${hash01(`${data.username}:${data.password}`)}`,
        };
    }

    private claimSecret(host: KObj, secret: KObj): void {
        const md = secret.metadata;
        const owned = (md.ownerReferences ?? []).some((o: any) => o.uid === host.metadata.uid);
        const labelled = md.labels?.[ENVIRONMENT_LABEL] === 'baremetal';
        const finalized = (md.finalizers ?? []).includes(SECRET_FINALIZER) || !!md.deletionTimestamp;
        if (owned && labelled && finalized) return;
        this.store.mutate(SECRETS, md.namespace, md.name, (o) => {
            o.metadata.labels = { ...(o.metadata.labels ?? {}), [ENVIRONMENT_LABEL]: 'baremetal' };
            if (!owned) {
                o.metadata.ownerReferences = [
                    ...(o.metadata.ownerReferences ?? []),
                    { apiVersion: 'metal3.io/v1alpha1', kind: 'BareMetalHost', name: host.metadata.name, uid: host.metadata.uid },
                ];
            }
            if (!o.metadata.deletionTimestamp && !(o.metadata.finalizers ?? []).includes(SECRET_FINALIZER)) {
                o.metadata.finalizers = [...(o.metadata.finalizers ?? []), SECRET_FINALIZER];
            }
        }, { fieldManager: this.opts.fieldManager });
    }

    private releaseSecret(host: KObj): void {
        const name = host.spec?.bmc?.credentialsName;
        if (!name || !this.opts.claimSecrets) return;
        const secret = this.store.peek(SECRETS, host.metadata.namespace, name);
        if (!secret || !(secret.metadata.finalizers ?? []).includes(SECRET_FINALIZER)) return;
        this.store.mutate(SECRETS, host.metadata.namespace, name, (o) => {
            o.metadata.finalizers = (o.metadata.finalizers ?? []).filter((f: string) => f !== SECRET_FINALIZER);
        }, { fieldManager: this.opts.fieldManager });
    }

    private hardwareFor(host: KObj): unknown {
        const r = hash01(`${this.opts.seed}:${host.metadata.uid}`);
        return {
            cpu: { arch: 'x86_64', model: 'Simulated CPU @ 2.40GHz', clockMegahertz: 2400, count: 8 + Math.floor(r * 4) * 8, flags: [] },
            ramMebibytes: 16384 * (1 + Math.floor(r * 4)),
            nics: [{ name: 'eth0', mac: host.spec?.bootMACAddress ?? '00:00:00:00:00:00', ip: '', speedGbps: 1, pxe: true, model: 'sim' }],
            storage: [{ name: '/dev/sda', sizeBytes: 107374182400, rotational: false, type: 'SSD', model: 'sim' }],
            systemVendor: { manufacturer: 'Sushy Emulator', productName: 'fake', serialNumber: '' },
            firmware: { bios: { vendor: 'sim', version: '1.0', date: '' } },
            hostname: host.metadata.name,
        };
    }
}

function clone<T>(v: T): T {
    return JSON.parse(JSON.stringify(v));
}
