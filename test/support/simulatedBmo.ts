/**
 * SimulatedBmo: an in-process stand-in for metal3's baremetal-operator (v0.13.2) that drives
 * BareMetalHosts stored in a KubeApiTestServer. It reads and writes the server's store directly (no
 * HTTP), through the same write path as API clients: every status change bumps the resourceVersion and
 * produces a MODIFIED watch event, with managedFields under manager "baremetal-operator".
 *
 * One file per concern, kwok style, under ./simulated/bmo/ (each cites the upstream source it follows):
 * - runtime.ts: work queue, BMO_CONCURRENCY workers (`concurrency`), backoff timers, status writes.
 * - stateMachine.ts: finalizer `baremetalhost.metal3.io` first, the paused annotation, deletion, then
 *   the state's handler: `""` → `registering` → `inspecting` → `preparing` → `available`, each after a
 *   configurable delay (deterministic jitter from `seed`, host and state).
 * - registration.ts: no BMC details → `unmanaged`/`discovered`; the credentials Secret checked with
 *   BMO's messages (registration error, a missing Secret retried every 10 BMO-seconds, the others on
 *   change), claimed like BMO's SecretManager (label, ownerReference, finalizer), re-registration on a
 *   changed BMC address/Secret (`onBmcChange`: stay in state as BMO does, or `restart`).
 * - inspection.ts: inspection (skipped by spec.inspectionMode / annotation `disabled`), preparation,
 *   synthetic hardware details.
 * - power.ts: status.poweredOn follows spec.online; a failed change is a power management error on a
 *   host that keeps its state (e.g. `available`).
 * - provisioning.ts (+ ../simulated/bmhProvisioning.ts): image provisioning and deprovisioning.
 * - provisioningLimit.ts: PROVISIONING_LIMIT (`provisioningLimit`) counts hosts inspecting, preparing,
 *   provisioning and deprovisioning; moves into inspecting/provisioning/deprovisioning wait for it with
 *   operationalStatus `delayed` and are re-checked after BMO's backoff (1–2 BMO-minutes).
 * - deletion.ts: deprovisioning / powering off before delete / deleting, then finalizers released.
 * - errors.ts: errors as BMO records them (operationalStatus `error`, errorType, errorMessage,
 *   errorCount+1; the state stays) and retries them (backoff 2^errorCount BMO-minutes minus up to half,
 *   the error cleared when the operation restarts, errorCount 0 when the state succeeds). Injected per
 *   host (`failHost`, for `times` attempts or until `clearFailure`) or at random for a seeded share of
 *   hosts (`transientErrors`). `minuteMs` is BMO's minute at the simulator's pace.
 *
 * SIMPLIFIED / NOT MODELLED: no Ironic (IDs, hardware and timings are synthetic; images are not
 * written, only their checksum fields are checked); no customDeploy, HardwareData,
 * PreprovisioningImage, HostFirmwareSettings, conditions, detached/externallyProvisioned/servicing
 * flows, webhook validation or Events. BMO only watches labelled Secrets; this simulator reacts to
 * every Secret change of a host's credentials. Reconciles run on setImmediate after each change of a
 * host (deduplicated per host), not through a rate-limited work queue; status-only updates do not
 * trigger an early retry of a host waiting out its backoff.
 */
import { KubeApiTestServer, KubeStore, KObj, StoreEvent } from './kubeApiServer';
import { BmoRuntime } from './simulated/bmo/runtime';
import { reconcileHost } from './simulated/bmo/stateMachine';
import { BMH, BmhState, BmoStats, FailureRule, HostFailure, HostMatcher, SECRETS, SimulatedBmoOptions } from './simulated/bmo/types';
import { matchesRule } from './simulated/bmo/errors';

export {
    BMH_FINALIZER,
    SECRET_FINALIZER,
    PAUSED_ANNOTATION,
    ENVIRONMENT_LABEL,
    BmhState,
    BmhErrorType,
    BmoDelays,
    BmoStats,
    HostFailure,
    HostMatcher,
    SimulatedBmoOptions,
    TransientErrors,
} from './simulated/bmo/types';
export { bmoBackoff } from './simulated/bmo/errors';
export { BUSY_STATES, GATED_STATES } from './simulated/bmo/provisioningLimit';

export class SimulatedBmo {
    readonly store: KubeStore;
    private readonly rt: BmoRuntime;
    private unsubscribe: (() => void)[] = [];
    private readonly waiters = new Set<() => void>();

    constructor(target: KubeApiTestServer | KubeStore, options: SimulatedBmoOptions = {}) {
        this.store = target instanceof KubeApiTestServer ? target.store : target;
        this.rt = new BmoRuntime(this.store, options, (key) => reconcileHost(this.rt, key));
        if (this.rt.opts.autoStart) this.start();
    }

    get stats(): BmoStats {
        return this.rt.stats;
    }

    /** Transitions currently holding a worker. */
    get busy(): number {
        return this.rt.activeTransitions;
    }

    /** Starts watching hosts and secrets; existing hosts are reconciled. */
    start(): this {
        if (this.rt.running) return this;
        this.rt.running = true;
        this.unsubscribe.push(this.store.subscribe(BMH, (ev) => this.onHostEvent(ev)));
        this.unsubscribe.push(this.store.subscribe(SECRETS, (ev) => this.onSecretEvent(ev)));
        for (const h of this.store.peekList(BMH)) this.rt.enqueue(h.metadata.namespace, h.metadata.name);
        return this;
    }

    /** Stops all timers and watches. Hosts keep whatever state they reached. */
    stop(): void {
        this.rt.running = false;
        for (const u of this.unsubscribe) u();
        this.unsubscribe = [];
        this.rt.clear();
        for (const w of [...this.waiters]) w();
    }

    /** Makes matching hosts fail (see HostFailure): BMO records the error and retries it with its backoff. */
    failHost(match: HostMatcher, failure: HostFailure = {}): void {
        const rule: FailureRule = { match, failure };
        this.rt.failures.push(rule);
        for (const h of this.store.peekList(BMH)) if (matchesRule(rule, h)) this.rt.enqueue(h.metadata.namespace, h.metadata.name);
    }

    /** Removes failure rules (all, or those of `match`); hosts in an error they caused are retried at once. */
    clearFailure(match?: HostMatcher): void {
        const removed = this.rt.failures.filter((r) => match === undefined || r.match === match);
        this.rt.failures = this.rt.failures.filter((r) => !removed.includes(r));
        for (const t of this.rt.tracks.values()) {
            if (!t.failedBy || !removed.includes(t.failedBy)) continue;
            t.failedBy = undefined;
            t.attempts = 0;
            this.rt.stopRetry(t);
            if (this.store.peek(BMH, t.ns, t.name)?.status?.operationalStatus === 'error') this.rt.clearError(t);
            this.rt.enqueueKey(t.key);
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

    private onHostEvent(ev: StoreEvent): void {
        if (this.rt.watches(ev.namespace)) this.rt.enqueue(ev.namespace, ev.name);
    }

    private onSecretEvent(ev: StoreEvent): void {
        if (!this.rt.watches(ev.namespace)) return;
        const hosts = this.rt.credsIndex.get(`${ev.namespace}/${ev.name}`);
        if (hosts) for (const k of hosts) this.rt.enqueueKey(k);
    }
}
