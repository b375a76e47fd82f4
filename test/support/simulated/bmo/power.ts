/**
 * Power (BMO v0.13.2 internal/controller/metal3.io/baremetalhost_controller.go manageHostPower, reached
 * from actionManageAvailable and actionManageSteadyState): status.poweredOn follows spec.online after
 * the power delay. A failed power change is a `power management error` recorded on the host, whose
 * provisioning state does NOT change (an available host stays `available`); BMO retries it after its
 * backoff (PowerOn/PowerOff with force, the error cleared when the change is accepted), and a success
 * sets errorCount to 0. Failures are injected with failHost({state: 'available' | 'provisioned'}) or
 * the transient errors of those states.
 */
import type { KObj } from '../../kube/objects';
import { failOperation, injectedFailure } from './errors';
import type { BmoRuntime } from './runtime';
import { clearErrorFields } from './runtime';
import { BMH, BmhState, Track } from './types';

export function syncPower(rt: BmoRuntime, t: Track, host: KObj): void {
    const online = host.spec?.online === true;
    // Power already as wanted: BMO returns its steady-state result and leaves any error as it is.
    if ((host.status?.poweredOn ?? false) === online) return;
    const state: BmhState = host.status?.provisioning?.state ?? '';
    if (host.status?.operationalStatus === 'error' && host.status?.errorType === 'power management error') rt.clearError(t);
    rt.schedule(t, 'power', rt.delayFor(t, 'power', rt.delays.power), () => {
        const h = rt.store.peek(BMH, t.ns, t.name);
        if (!h || h.metadata.deletionTimestamp || (h.status?.provisioning?.state ?? '') !== state) return;
        const failure = injectedFailure(rt, t, h, state);
        if (failure) {
            failOperation(rt, t, h, failure);
            return;
        }
        t.attempts = 0;
        rt.writeStatus(t.ns, t.name, (s) => {
            s.poweredOn = h.spec?.online === true;
            s.errorCount = 0;
            if (s.errorType === 'power management error') clearErrorFields(s);
        });
    });
}
