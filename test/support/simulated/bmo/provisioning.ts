/**
 * Image provisioning states of the simulated BMO (BMO v0.13.2 host_state_machine.go handleAvailable,
 * handleProvisioning, handleProvisioned, handleDeprovisioning; the rules themselves are the pure
 * functions of ../bmhProvisioning.ts). Moves into provisioning and deprovisioning wait for
 * PROVISIONING_LIMIT capacity (./provisioningLimit.ts).
 */
import type { KObj } from '../../kube/objects';
import { imageChecksumError, needsProvisioning, provisionedImage, provisioningCancelled } from '../bmhProvisioning';
import { runBusyStep } from './busyStep';
import { ensureCapacity } from './provisioningLimit';
import type { BmoRuntime } from './runtime';
import { clearErrorFields } from './runtime';
import { BmhState, Track } from './types';

/** Moves to a (de)provisioning state when PROVISIONING_LIMIT allows it (else the host is delayed). */
export function enterGated(rt: BmoRuntime, t: Track, host: KObj, state: BmhState, extra?: (st: any) => void): void {
    if (!ensureCapacity(rt, t, host, state)) return;
    rt.setState(t, host, state, (s) => {
        if (s.operationalStatus === 'delayed') s.operationalStatus = 'OK';
        extra?.(s);
    });
}

/** handleAvailable -> actionManageAvailable: NeedsProvisioning() clears the error and moves on. Returns whether it did. */
export function startProvisioning(rt: BmoRuntime, t: Track, host: KObj): boolean {
    if (!needsProvisioning(host)) {
        t.failedImage = undefined;
        return false;
    }
    if (t.failedImage === JSON.stringify(host.spec.image)) return false;
    enterGated(rt, t, host, 'provisioning', clearErrorFields);
    return true;
}

export function reconcileProvisioning(rt: BmoRuntime, t: Track, host: KObj): void {
    // handleProvisioning: an error or a cancelled image sends the host to deprovisioning
    if (host.status?.errorType || provisioningCancelled(host)) {
        enterGated(rt, t, host, 'deprovisioning');
        return;
    }
    runBusyStep(
        rt,
        t,
        host,
        'provisioning',
        (h) => {
            const err = imageChecksumError(h.spec?.image);
            if (err) {
                // not retried until spec.image changes
                t.failedImage = JSON.stringify(h.spec.image);
                rt.setError(t, 'provisioning error', err, true);
                return;
            }
            // actionProvisioning: the deployed image is recorded in status.provisioning.image
            rt.setState(t, h, 'provisioned', (s) => {
                s.provisioning.image = provisionedImage(h);
                s.poweredOn = true;
                s.operationalStatus = 'OK';
                s.errorCount = 0;
            });
        },
        // re-queued: goes deprovisioning
        provisioningCancelled,
    );
}

/** handleProvisioned: removing or changing the image deprovisions. Returns whether it did. */
export function cancelProvisioned(rt: BmoRuntime, t: Track, host: KObj): boolean {
    if (!provisioningCancelled(host)) return false;
    enterGated(rt, t, host, 'deprovisioning');
    return true;
}

export function reconcileDeprovisioning(rt: BmoRuntime, t: Track, host: KObj): void {
    runBusyStep(rt, t, host, 'deprovisioning', (h) =>
        // actionDeprovisioning clears status.provisioning.image; cleaning leaves the host off
        rt.setState(t, h, 'available', (s) => {
            s.provisioning.image = { url: '' };
            s.poweredOn = false;
            clearErrorFields(s);
            s.errorCount = 0;
        }),
    );
}
