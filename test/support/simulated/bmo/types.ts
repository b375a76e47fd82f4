/**
 * Shared vocabulary of the simulated BMO (see ../../simulatedBmo.ts): BareMetalHost states and error
 * types as BMO v0.13.2 spells them (apis/metal3.io/v1alpha1/baremetalhost_types.go), the options, and
 * the per-host bookkeeping every concern file reads.
 */
import type { KObj } from '../../kube/objects';

export const BMH = 'baremetalhosts.metal3.io';
export const SECRETS = 'secrets';
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

export const DEFAULT_DELAYS: BmoDelays = {
    registering: 20,
    inspecting: 40,
    preparing: 20,
    power: 10,
    provisioning: 40,
    deprovisioning: 30,
    poweringOffBeforeDelete: 10,
    deleting: 20,
};

/**
 * Transient errors injected at random (seeded): the operation of a listed state fails `failures` times
 * in a row for a `rate` share of hosts, then succeeds, each failure retried after BMO's backoff.
 */
export interface TransientErrors {
    /** share of hosts (0..1) whose operation in each listed state fails; picked by seed, host and state */
    rate: number;
    /** states whose operation may fail (`available`/`provisioned`: the power change); default registering, inspecting, preparing, available */
    states?: BmhState[];
    /** failed attempts before the operation succeeds (default 1) */
    failures?: number;
}

export interface SimulatedBmoOptions {
    /** watched namespaces (WATCH_NAMESPACE); default: all */
    namespaces?: string[];
    delays?: Partial<BmoDelays>;
    /** ± fraction applied to every delay (default 0.2) */
    jitter?: number;
    /** seed of the jitter, the backoffs and the transient errors (default 1) */
    seed?: number;
    /** BMO_CONCURRENCY: state transitions in flight at once (default unbounded) */
    concurrency?: number;
    /** PROVISIONING_LIMIT: hosts busy in Ironic at once (default unbounded; BMO's default is 20) */
    provisioningLimit?: number;
    /** BMO's minute at the simulator's pace: the unit of its error backoff and delayed re-check (default 10 ms) */
    minuteMs?: number;
    /** random transient errors (default none) */
    transientErrors?: TransientErrors;
    /** managedFields manager name (default "baremetal-operator") */
    fieldManager?: string;
    /** label/own/finalize BMC secrets like BMO (default true) */
    claimSecrets?: boolean;
    /** what a changed BMC address/credentials does to a registered host (default 'reregister') */
    onBmcChange?: 'reregister' | 'restart';
    /** start watching immediately (default true) */
    autoStart?: boolean;
}

export type ResolvedOptions = Required<Omit<SimulatedBmoOptions, 'namespaces' | 'delays' | 'transientErrors'>> & {
    namespaces?: Set<string>;
    transientErrors?: Required<TransientErrors>;
};

export interface HostFailure {
    /** state whose operation fails (default: whatever state the host is in, at once) */
    state?: BmhState;
    errorType?: BmhErrorType;
    errorMessage?: string;
    /** restrict a name match to a namespace */
    namespace?: string;
    /** failed attempts before the operation succeeds again (default: every attempt, until clearFailure) */
    times?: number;
}

export type HostMatcher = string | ((host: Readonly<KObj>) => boolean);

export interface FailureRule {
    match: HostMatcher;
    failure: HostFailure;
}

export interface BmoStats {
    reconciles: number;
    statusUpdates: number;
    transitions: number;
    finalizersAdded: number;
    finalizersRemoved: number;
    maxConcurrentTransitions: number;
    maxInspecting: number;
    /** most hosts busy in Ironic at once (what PROVISIONING_LIMIT bounds) */
    maxBusy: number;
    /** operations failed by an injected error (rules and transient) */
    injectedErrors: number;
    /** times a host was delayed by PROVISIONING_LIMIT */
    delays: number;
}

/** What the simulator remembers about one host between reconciles. */
export interface Track {
    key: string;
    ns: string;
    name: string;
    /** the timer of the transition in flight */
    timer?: NodeJS.Timeout;
    /** the transition in flight */
    step?: string;
    slot: boolean;
    waiting?: () => void;
    /** backoff timer (a failed operation, a delayed host, a missing Secret) */
    retryTimer?: NodeJS.Timeout;
    /** while the backoff runs the host is left alone (error or delayed); a missing Secret does not hold */
    holding?: boolean;
    /** the backoff passed (read by the credentials check: a missing Secret is reported again) */
    retryDue?: boolean;
    /** varies the jitter of repeated operations */
    retries: number;
    /** failed attempts of the current state's operation (injected errors); reset when the state changes */
    attempts: number;
    /** the failHost rule behind the host's current error, if any */
    failedBy?: FailureRule;
    /** delays by PROVISIONING_LIMIT so far (varies the re-check backoff) */
    delays: number;
    /** registration done, the move to inspecting waits for capacity */
    registeredWaiting?: boolean;
    /** what the host was last registered with */
    registered?: string;
    /** spec.image (JSON) whose provisioning failed: not retried until spec.image changes */
    failedImage?: string;
    credsKey?: string;
}

export function hash01(s: string): number {
    // FNV-1a → [0, 1)
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) {
        h ^= s.charCodeAt(i);
        h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h / 0x100000000;
}

export function fakeUuid(seed: string): string {
    const hex = [0, 1, 2, 3].map((i) => Math.floor(hash01(`${seed}:${i}`) * 0xffffffff).toString(16).padStart(8, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function clone<T>(v: T): T {
    return JSON.parse(JSON.stringify(v));
}
