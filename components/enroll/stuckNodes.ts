// Telling a node no conductor will move on from one a conductor works on. Two
// ways Ironic 21.4 leaves a node so, both cleared only when a conductor starts
// (ironic/conductor/base_manager.py init_host):
// - a lock its conductor lost track of: a conductor that loses its database
//   mid-task (MariaDB restarted) can keep a node's `reservation` until it
//   restarts ("Removing stale locks from the database matching this
//   conductor's hostname"); every request gets 409 NodeLocked;
// - a task whose conductor died: the live conductors release the dead one's
//   locks (manager.py _check_orphan_nodes) but fail only deploying and
//   cleaning nodes; one in verifying, inspecting, ... stays there unlocked
//   until a conductor starts and fails it (STUCK_STATES_TREATED_AS_FAIL).
// Without this a host would back off for minutes (SETBACK_LIMIT), or wait for
// the deadline in a state nobody works on.
import type { IronicNode } from "./ironicApi";

/**
 * How long a node may stay held with no progress (same state, same provision_updated_at) before its
 * host fails saying what holds it. Past any single task of a conductor at work here (out-of-band
 * inspection, power sync), and past a dead conductor's locks being released at Ironic's default
 * heartbeat_timeout (60 s).
 */
export const STUCK_DEFAULT_SECONDS = 180;

/** Ironic's states no conductor resumes once the one working on the node died (ironic/common/states.py STUCK_STATES_TREATED_AS_FAIL, 21.4). */
export const ORPHANED_STATES: readonly string[] = ["deploying", "cleaning", "verifying", "inspecting", "adopting", "rescuing", "unrescuing", "deleting"];

/** Per node uuid (records, not Maps: see tracker.ts): the hold as first seen unchanged, and when. */
export interface StuckWatch {
    readonly seen: Record<string, { readonly hold: string; readonly since: number }>;
}

export function newStuckWatch(): StuckWatch {
    return { seen: {} };
}

/** What makes a hold "the same": the lock's holder (or none, in a state only a working conductor is in), and the node not having moved. */
function holdOf(node: IronicNode): string | undefined {
    const progress = [node.provision_state, node.target_provision_state, node.provision_updated_at ?? null];
    if (node.reservation) return JSON.stringify(["locked", node.reservation, ...progress]);
    if (ORPHANED_STATES.includes(node.provision_state)) return JSON.stringify(["orphaned", ...progress]);
    return undefined;
}

/**
 * Looks at a node as listed at `now`: how long it has been held the same way with no progress (0 when
 * nothing holds it, or its holder or state changed since the last look).
 */
export function stuckMs(watch: StuckWatch, node: IronicNode, now: number): number {
    const hold = holdOf(node);
    if (hold === undefined) {
        delete watch.seen[node.uuid];
        return 0;
    }
    const last = watch.seen[node.uuid];
    if (!last || last.hold !== hold) {
        watch.seen[node.uuid] = { hold, since: now };
        return 0;
    }
    return now - last.since;
}

/** Looks at a node as listed at `now`: the host's failure once it has been held `limitMs` with no progress, else undefined. */
export function stuckFailure(watch: StuckWatch, node: IronicNode, now: number, limitMs: number): string | undefined {
    const heldMs = stuckMs(watch, node, now);
    return heldMs >= limitMs ? stuckError(node, heldMs) : undefined;
}

/** The host's failure: what holds the node, since how long, and the remedy (README, Failure modes). */
export function stuckError(node: IronicNode, heldMs: number): string {
    const state = node.target_provision_state ? `${node.provision_state} (target ${node.target_provision_state})` : node.provision_state;
    const seconds = Math.round(heldMs / 1000);
    if (node.reservation) {
        return (
            `the node stayed locked by conductor ${node.reservation} in ${state} for ${seconds} s with no progress: ` +
            `a lock that conductor lost track of (e.g. across a database restart), which it clears only when it starts. ` +
            `Restart conductor ${node.reservation}, then run up again`
        );
    }
    return (
        `the node stayed in ${state} for ${seconds} s with no conductor working on it: the conductor that was ` +
        `(e.g. killed mid-task) is gone, and Ironic fails such a node only when a conductor starts. ` +
        `Restart the conductors, then run up again`
    );
}
