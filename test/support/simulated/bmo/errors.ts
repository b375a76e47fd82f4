/**
 * Errors as BMO v0.13.2 records and retries them (metal3-io/baremetal-operator@v0.13.2):
 * - internal/controller/metal3.io/baremetalhost_controller.go recordActionFailure/setErrorMessage: a
 *   failed operation sets operationalStatus `error`, errorType, errorMessage and errorCount+1; the state
 *   does not change. clearError (when the retried operation starts again: "restartOnFailure", the
 *   provisioner answers Dirty) sets operationalStatus OK and empties the message; errorCount is reset to 0
 *   only when the state's operation succeeds (host_state_machine.go handleRegistering, handleInspecting,
 *   handlePreparing, ...; manageHostPower for power changes).
 * - internal/controller/metal3.io/action_result.go actionFailed/calculateBackoff: the failed host is
 *   re-queued after 2^errorCount minutes minus up to half of it (1–2 min, 2–4 min, ...), errorCount
 *   capped at 9 (~8 h).
 * - Credentials (credentialsErrorResult): a missing Secret is retried every hostErrorRetryDelay (10 s),
 *   errorCount+1 each time; an incomplete Secret or BMC address is not retried until it changes.
 * Here failures are injected: per host by rule (failHost, optionally for `times` attempts) or at random
 * for a share of hosts (options.transientErrors); times scale with options.minuteMs.
 */
import type { KObj } from '../../kube/objects';
import type { BmoRuntime } from './runtime';
import { BmhErrorType, BmhState, FailureRule, hash01, Track } from './types';

/** BMO's hostErrorRetryDelay (10 s) in minutes. */
export const MISSING_SECRET_RETRY_MINUTES = 10 / 60;

/** calculateBackoff(errorCount) in ms, `minuteMs` standing for BMO's minute; r in [0, 1) picks the jitter. */
export function bmoBackoff(errorCount: number, minuteMs: number, r: number): number {
    const base = 2 ** Math.min(Math.max(0, errorCount), 9);
    return (base - r * base * 0.5) * minuteMs;
}

/** The errorType BMO records when the operation of `state` fails. */
export function errorTypeFor(state: BmhState): BmhErrorType {
    switch (state) {
        case 'registering':
            return 'registration error';
        case 'inspecting':
            return 'inspection error';
        case 'preparing':
            return 'preparation error';
        case 'provisioning':
        case 'deprovisioning':
            return 'provisioning error';
        default:
            return 'power management error';
    }
}

export interface InjectedFailure {
    errorType: BmhErrorType;
    message: string;
    rule?: FailureRule;
}

export function matchesRule(rule: FailureRule, host: Readonly<KObj>): boolean {
    if (typeof rule.match === 'function') return rule.match(host);
    if (rule.failure.namespace && rule.failure.namespace !== host.metadata.namespace) return false;
    return host.metadata.name === rule.match;
}

/**
 * Whether this attempt of `state`'s operation fails: a failHost rule for the state (or, with
 * `stateless`, a rule without one) that has attempts left, else the seeded transient errors.
 */
export function injectedFailure(rt: BmoRuntime, t: Track, host: KObj, state: BmhState, stateless = false): InjectedFailure | undefined {
    const rule = rt.failures.find(
        (r) => (stateless ? r.failure.state === undefined : r.failure.state === state) && matchesRule(r, host) && t.attempts < (r.failure.times ?? Infinity),
    );
    if (rule) {
        const errorType = rule.failure.errorType ?? errorTypeFor(state);
        return { errorType, message: rule.failure.errorMessage ?? `simulated ${errorType} for ${host.metadata.name}`, rule };
    }
    const te = rt.opts.transientErrors;
    if (stateless || !te || !te.states.includes(state) || t.attempts >= te.failures) return undefined;
    if (hash01(`${rt.opts.seed}:transient:${t.key}:${state}`) >= te.rate) return undefined;
    const errorType = errorTypeFor(state);
    return { errorType, message: transientMessage(errorType, t.attempts + 1) };
}

/** Messages in the words Ironic and BMO use for such glitches. */
function transientMessage(errorType: BmhErrorType, attempt: number): string {
    switch (errorType) {
        case 'registration error':
            return `Failed to get power state for node: Redfish connection error (attempt ${attempt}): timed out`;
        case 'inspection error':
            return `timeout reached while inspecting the node (attempt ${attempt})`;
        case 'preparation error':
            return `Cleaning failed: Agent returned error for clean step (attempt ${attempt})`;
        case 'power management error':
            return `Failed to set power state: Redfish connection error (attempt ${attempt}): 503 Service Unavailable`;
        default:
            return `${errorType} (attempt ${attempt})`;
    }
}

/** recordActionFailure + actionFailed: the host keeps its state, in error, left alone until BMO's backoff passes. */
export function failOperation(rt: BmoRuntime, t: Track, host: KObj, f: InjectedFailure): void {
    t.attempts++;
    t.failedBy = f.rule;
    rt.stats.injectedErrors++;
    const errorCount = (host.status?.errorCount ?? 0) + 1;
    rt.setError(t, f.errorType, f.message, true);
    rt.retryAfter(t, bmoBackoff(errorCount, rt.opts.minuteMs, hash01(`${rt.opts.seed}:${t.key}:backoff:${errorCount}`)), true);
}
