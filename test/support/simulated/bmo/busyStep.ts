/**
 * The shape every busy state of the simulated BMO shares (BMO v0.13.2 host_state_machine.go
 * handleInspecting/handlePreparing/handleProvisioning/handleDeprovisioning): wait for
 * PROVISIONING_LIMIT room, clear a retried error, hold a worker for the state's delay, then
 * fail with an injected error (the state stays, BMO retries after its backoff) or move on.
 */
import type { KObj } from '../../kube/objects';
import { failOperation, injectedFailure } from './errors';
import { ensureCapacity } from './provisioningLimit';
import type { BmoRuntime } from './runtime';
import { BMH, BmhState, Track } from './types';

export type BusyState = 'inspecting' | 'preparing' | 'provisioning' | 'deprovisioning';

/** Starts the operation of a busy state again after an error or a delay: capacity first, then the error cleared. */
export function restartBusyOperation(rt: BmoRuntime, t: Track, host: KObj, state: BmhState): boolean {
    if (!ensureCapacity(rt, t, host, state)) return false;
    const status = host.status?.operationalStatus;
    if (status === 'error' || status === 'delayed') rt.clearError(t);
    rt.markBusy(t, state);
    return true;
}

/**
 * Runs one busy state's operation: `done` with the host as it is at the end, unless the host left
 * the state, is being deleted, `cancelled` says so, or an injected error fails the operation.
 */
export function runBusyStep(rt: BmoRuntime, t: Track, host: KObj, state: BusyState, done: (h: KObj) => void, cancelled?: (h: KObj) => boolean): void {
    if (!restartBusyOperation(rt, t, host, state)) return;
    rt.schedule(t, state, rt.delayFor(t, state, rt.delays[state]), () => {
        const h = rt.store.peek(BMH, t.ns, t.name);
        if (!h || h.metadata.deletionTimestamp || h.status?.provisioning?.state !== state) return;
        if (cancelled?.(h)) return;
        const failure = injectedFailure(rt, t, h, state);
        if (failure) {
            failOperation(rt, t, h, failure);
            return;
        }
        done(h);
    });
}
