/**
 * Deletion (BMO v0.13.2 internal/controller/metal3.io/host_state_machine.go checkInitiateDelete,
 * handleDeprovisioning, handlePoweringOffBeforeDelete, handleDeleting): a host with a deletionTimestamp
 * goes `deleting` at once when it was never registered, `deprovisioning` first when it was provisioned
 * (that move waits for PROVISIONING_LIMIT capacity), `powering off before delete` otherwise; then BMO
 * releases its Secret finalizer and its host finalizer. Deletion proceeds from error states; a host
 * delayed by PROVISIONING_LIMIT stays delayed until capacity frees (checkDelayedHost runs first).
 */
import type { KObj } from '../../kube/objects';
import { restartBusyOperation } from './busyStep';
import { stillDelayed } from './provisioningLimit';
import { enterGated } from './provisioning';
import { releaseSecret } from './registration';
import type { BmoRuntime } from './runtime';
import { BMH, BMH_FINALIZER, BmhState, Track } from './types';

export function reconcileDelete(rt: BmoRuntime, t: Track, host: KObj): void {
    if (!(host.metadata.finalizers ?? []).includes(BMH_FINALIZER)) {
        rt.forget(t);
        return;
    }
    if (t.step?.startsWith('delete:')) return;
    if (stillDelayed(rt, t, host)) return;
    rt.cancel(t);
    rt.stopRetry(t);
    const state: BmhState = host.status?.provisioning?.state ?? '';
    if (state === 'deprovisioning') {
        // handleDeprovisioning with a deletionTimestamp: done -> powering off before delete
        if (!restartBusyOperation(rt, t, host, 'deprovisioning')) return;
        rt.schedule(t, 'delete:deprovisioning', rt.delayFor(t, 'deprovisioning', rt.delays.deprovisioning), () => {
            const h = rt.store.peek(BMH, t.ns, t.name);
            if (!h) return;
            rt.setState(t, h, 'powering off before delete', (s) => (s.provisioning.image = { url: '' }));
        });
        return;
    }
    if (state !== 'deleting' && state !== 'powering off before delete') {
        // checkInitiateDelete: provisioned hosts deprovision first
        if (state === 'provisioning' || state === 'provisioned') enterGated(rt, t, host, 'deprovisioning');
        else rt.setState(t, host, ['', 'registering', 'unmanaged'].includes(state) ? 'deleting' : 'powering off before delete');
        return;
    }
    if (state === 'powering off before delete') {
        rt.schedule(t, 'delete:poweroff', rt.delayFor(t, 'poweroff', rt.delays.poweringOffBeforeDelete), () => {
            const h = rt.store.peek(BMH, t.ns, t.name);
            if (!h) return;
            rt.setState(t, h, 'deleting', (s) => (s.poweredOn = false));
        });
        return;
    }
    rt.schedule(t, 'delete:deleting', rt.delayFor(t, 'deleting', rt.delays.deleting), () => {
        const h = rt.store.peek(BMH, t.ns, t.name);
        if (!h) return;
        releaseSecret(rt, h);
        rt.store.mutate(BMH, t.ns, t.name, (o) => {
            o.metadata.finalizers = (o.metadata.finalizers ?? []).filter((f: string) => f !== BMH_FINALIZER);
        }, { fieldManager: rt.opts.fieldManager });
        rt.stats.finalizersRemoved++;
    });
}
