// What the batch provider does next with one Ironic node, from its listed
// state alone (pure: tested without Ironic). Enroll path:
// enroll -> manage -> manageable -> inspect -> manageable -> provide -> available.
//
// Ironic keeps target_provision_state set on its failure states (inspect failed
// -> manageable, clean failed -> available, deploy failed -> active, ...:
// ironic/common/states.py add_state(..., target=...)), so failure states are
// looked at before "a target is set, Ironic is working".
import type { IronicNode } from "./ironicApi";

export type EnrollAction = "create" | "manage" | "inspect" | "provide" | "unmaintain" | "wait" | "done" | "failed";
export type DeleteAction = "delete" | "maintenance" | "undeploy" | "wait" | "gone";

/**
 * Fresh tries one run (`pulumi up`) gives a node that Ironic left in a failure
 * state it lets us leave (inspect failed, clean failed, enroll after a failed
 * verification): after the first attempt failed, it is tried this many more
 * times; then the host is reported failed. The next run starts counting again.
 */
export const MAX_RETRIES = 2;

export interface EnrollGoal {
    readonly target: "available" | "manageable";
    readonly inspect: boolean;
    /** Fresh tries already given to each node (by uuid) in this run. */
    readonly retries: Readonly<Record<string, number>>;
}

export interface EnrollDecision {
    readonly action: EnrollAction;
    /** Set with action "failed": the message the user needs (Ironic's last_error when it has one). */
    readonly error?: string;
    /** Set when the action is a fresh try after a failure: Ironic's message for that failure. */
    readonly retrying?: string;
}

// (Arrays and records, not Sets: module values are serialized into `__provider`, where a Set loses its contents.)
/** States from which this provider only waits (Ironic is working on the node, or waiting for its agent). */
const BUSY: readonly string[] = [
    "verifying", "inspecting", "inspect wait", "cleaning", "clean wait", "clean hold", "deploying", "wait call-back", "deploy hold",
    "deleting", "adopting", "rescuing", "rescue wait", "unrescuing", "servicing", "service wait", "service hold",
];
/** Ironic's failure states (states.py FAILURE_STATES, plus error and service failed): stable although a target is set. */
const FAILED: readonly string[] = ["inspect failed", "clean failed", "deploy failed", "adopt failed", "rescue failed", "unrescue failed", "service failed", "error"];
/** Ironic's maintenance fault after a failed clean step (ironic/common/faults.py CLEAN_FAILURE). */
const CLEAN_FAILURE = "clean failure";

/** The verb that leaves a failure state towards the goal, where Ironic's state machine has one. */
function exitOf(state: string, goal: EnrollGoal): EnrollAction | undefined {
    switch (state) {
        case "enroll": // a failed verification (manage) returns the node to enroll with last_error
        case "clean failed": // clean failed -> manage -> manageable, then provide again
            return "manage";
        case "inspect failed": // inspect failed -> inspect (or manage when inspection is not wanted)
            return goal.inspect ? "inspect" : "manage";
        default:
            return undefined;
    }
}

export function nextEnrollAction(node: IronicNode | undefined, goal: EnrollGoal): EnrollDecision {
    if (!node) return { action: "create" };
    const state = node.provision_state;
    if (FAILED.includes(state) || (state === "enroll" && node.last_error)) {
        const error = node.last_error || `node is in ${state}`;
        const exit = exitOf(state, goal);
        if (exit !== undefined && (goal.retries[node.uuid] ?? 0) < MAX_RETRIES) return { action: exit, retrying: error };
        return { action: "failed", error };
    }
    if (node.target_provision_state || BUSY.includes(state)) return { action: "wait" };
    switch (state) {
        case "enroll":
            return { action: "manage" };
        case "manageable":
            if (goal.inspect && !node.inspection_finished_at) return { action: "inspect" };
            if (goal.target === "manageable") return { action: "done" };
            // Ironic refuses `provide` in maintenance. Its own clean-failure maintenance is lifted
            // on a retry; maintenance set by someone else is theirs to lift.
            if (node.maintenance) {
                if (node.fault === CLEAN_FAILURE) return { action: "unmaintain" };
                return { action: "failed", error: `node is in maintenance: ${node.maintenance_reason || "no reason given"}` };
            }
            return { action: "provide" };
        case "available":
        case "active":
            return { action: "done" };
        default:
            return { action: "failed", error: node.last_error || `node is in ${state}` };
    }
}

/** Ironic deletes nodes in these states directly (available: allow_deleting_available_nodes, default on). */
const DELETABLE: readonly string[] = ["enroll", "manageable", "available", "adopt failed"];
/**
 * Waiting for an agent that may never come: not waited for. Not aborted either: an abort
 * can fail too (the inspector interface's abort calls ironic-inspector) and leave the node
 * waiting; in maintenance Ironic deletes a node in any state it does not hold locked.
 */
const AGENT_WAIT: readonly string[] = ["inspect wait", "clean wait"];

export function nextDeleteAction(node: IronicNode | undefined): { action: DeleteAction } {
    if (!node) return { action: "gone" };
    const state = node.provision_state;
    // A failed node stays failed (its target set): Ironic deletes it only in maintenance.
    if (FAILED.includes(state) || AGENT_WAIT.includes(state)) return { action: node.maintenance || DELETABLE.includes(state) ? "delete" : "maintenance" };
    if (node.target_provision_state || BUSY.includes(state)) return { action: "wait" };
    if (DELETABLE.includes(state) || node.maintenance) return { action: "delete" };
    if (state === "active") return { action: "undeploy" };
    return { action: "maintenance" };
}

/** The provision-state verb Ironic expects for an action. */
export const PROVISION_TARGET: Partial<Record<EnrollAction | DeleteAction, string>> = {
    manage: "manage",
    inspect: "inspect",
    provide: "provide",
    undeploy: "deleted",
};
