/**
 * One reconcile of a BareMetalHost (BMO v0.13.2 internal/controller/metal3.io/baremetalhost_controller.go
 * Reconcile, host_state_machine.go ReconcileState): finalizer first, pause, deletion, then the handler
 * of the host's provisioning state. A host waiting out BMO's backoff (after an error, or delayed by
 * PROVISIONING_LIMIT) is left alone until its timer re-queues it.
 */
import { reconcileDelete } from './deletion';
import { failOperation, injectedFailure } from './errors';
import { reconcileInspecting, reconcilePreparing } from './inspection';
import { syncPower } from './power';
import { cancelProvisioned, reconcileDeprovisioning, reconcileProvisioning, startProvisioning } from './provisioning';
import { indexCredentials, reconcileNone, reconcileRegistering, reconcileUnmanaged, reregisterIfChanged } from './registration';
import type { BmoRuntime } from './runtime';
import { BMH, BMH_FINALIZER, BmhState, PAUSED_ANNOTATION } from './types';

export function reconcileHost(rt: BmoRuntime, key: string): void {
    const slash = key.indexOf('/');
    const ns = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const host = rt.store.peek(BMH, ns, name);
    const t = rt.track(ns, name);
    rt.stats.reconciles++;
    if (!host) {
        rt.forget(t);
        return;
    }
    indexCredentials(rt, t, host);
    if (host.metadata.annotations?.[PAUSED_ANNOTATION] !== undefined) return;
    if (host.metadata.deletionTimestamp) {
        reconcileDelete(rt, t, host);
        return;
    }
    if (!(host.metadata.finalizers ?? []).includes(BMH_FINALIZER)) {
        rt.store.mutate(BMH, ns, name, (o) => {
            o.metadata.finalizers = [...(o.metadata.finalizers ?? []), BMH_FINALIZER];
        }, { fieldManager: rt.opts.fieldManager });
        rt.stats.finalizersAdded++;
        return; // the update re-queues the host
    }
    if (t.step || t.holding) return; // a transition in flight, or a backoff being waited out
    const state: BmhState = host.status?.provisioning?.state ?? '';

    // failHost without a state: the host fails at once, whatever it is doing
    const now = state === '' ? undefined : injectedFailure(rt, t, host, state, true);
    if (now) {
        failOperation(rt, t, host, now);
        return;
    }

    switch (state) {
        case '':
            return reconcileNone(rt, t, host);
        case 'unmanaged':
            return reconcileUnmanaged(rt, t, host);
        case 'registering':
            return reconcileRegistering(rt, t, host);
        case 'inspecting':
            return reconcileInspecting(rt, t, host);
        case 'preparing':
            return reconcilePreparing(rt, t, host);
        case 'available':
            if (reregisterIfChanged(rt, t, host)) return;
            if (startProvisioning(rt, t, host)) return;
            return syncPower(rt, t, host);
        case 'provisioning':
            return reconcileProvisioning(rt, t, host);
        case 'provisioned':
            if (cancelProvisioned(rt, t, host)) return;
            return syncPower(rt, t, host);
        case 'deprovisioning':
            return reconcileDeprovisioning(rt, t, host);
        default:
            return;
    }
}
