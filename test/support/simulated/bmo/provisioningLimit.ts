/**
 * PROVISIONING_LIMIT as BMO v0.13.2 applies it (metal3-io/baremetal-operator@v0.13.2):
 * - pkg/provisioner/ironic/ironic.go HasCapacity/loadBusyHosts: the hosts counted are the Ironic nodes
 *   in cleaning/clean wait, inspecting/inspect wait, deploying/deploy wait and deleting (virtual-media
 *   hosts excepted; the host asking is never refused if it is busy itself). In BareMetalHost states that
 *   is `inspecting`, `preparing` (manual cleaning), `provisioning` (cleaning then deploying) and
 *   `deprovisioning` (Ironic's deleting then cleaning). A host whose operation failed sits in a failed
 *   Ironic state: not busy.
 * - internal/controller/metal3.io/host_state_machine.go updateHostStateFrom/ensureCapacity: only moves
 *   INTO inspecting, provisioning and deprovisioning wait for capacity; checkDelayedHost re-checks a
 *   host with operationalStatus `delayed` (before anything else, deletion included) and a host in one
 *   of those states that the provisioner does not track yet (an operation restarted after an error).
 * - internal/controller/metal3.io/action_result.go actionDelayed: a delayed host is re-queued after
 *   calculateBackoff(1), 1–2 minutes, not when capacity frees up.
 */
import type { KObj } from '../../kube/objects';
import { bmoBackoff } from './errors';
import type { BmoRuntime } from './runtime';
import { BmhState, hash01, Track } from './types';

/** BareMetalHost states whose Ironic node loadBusyHosts counts. */
export const BUSY_STATES: readonly BmhState[] = ['inspecting', 'preparing', 'provisioning', 'deprovisioning'];
/** States a host may only enter with capacity (updateHostStateFrom). */
export const GATED_STATES: readonly BmhState[] = ['inspecting', 'provisioning', 'deprovisioning'];

/** HasCapacity: the host is busy already, or fewer than the limit are. */
export function hasCapacity(rt: BmoRuntime, t: Track): boolean {
    return rt.busy.has(t.key) || rt.busy.size < rt.opts.provisioningLimit;
}

/**
 * ensureCapacity before `state` is entered or its operation (re)started: true when the host may go on;
 * otherwise it is marked `delayed` (with `extra` in the same write) and re-checked after BMO's backoff.
 */
export function ensureCapacity(rt: BmoRuntime, t: Track, host: KObj, state: BmhState, extra?: (st: any) => void): boolean {
    if (!GATED_STATES.includes(state) || hasCapacity(rt, t)) return true;
    rt.stats.delays++;
    t.delays++;
    if (host.status?.operationalStatus !== 'delayed' || extra) {
        rt.writeStatus(t.ns, t.name, (s) => {
            extra?.(s);
            s.operationalStatus = 'delayed';
        });
    }
    rt.retryAfter(t, bmoBackoff(1, rt.opts.minuteMs, hash01(`${rt.opts.seed}:${t.key}:delayed:${t.delays}`)), true);
    return false;
}

/** A delayed host being deleted (checkDelayedHost runs before checkInitiateDelete): still waits for capacity. */
export function stillDelayed(rt: BmoRuntime, t: Track, host: KObj): boolean {
    if (host.status?.operationalStatus !== 'delayed') return false;
    if (t.holding) return true;
    const state: BmhState = host.status?.provisioning?.state ?? '';
    if (!ensureCapacity(rt, t, host, GATED_STATES.includes(state) ? state : 'inspecting')) return true;
    rt.clearError(t); // "A slot is available, let's cleanup the status and retry"
    return false;
}
