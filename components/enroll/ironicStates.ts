// What the batch provider does next with one Ironic node, from its listed
// state alone (pure: tested without Ironic). Enroll path:
// enroll -> manage -> manageable -> inspect -> manageable -> provide -> available.
import type { IronicNode } from "./ironicApi";

export type EnrollAction = "create" | "manage" | "inspect" | "provide" | "abort" | "wait" | "done" | "failed";
export type DeleteAction = "delete" | "maintenance" | "undeploy" | "abort" | "wait" | "gone" | "failed";

export interface EnrollGoal {
    readonly target: "available" | "manageable";
    readonly inspect: boolean;
    /** Nodes already given a fresh try in this run: a second failure is final. */
    readonly retried: ReadonlySet<string>;
}

/** States from which this provider only waits (Ironic is working on the node). */
// (Arrays, not Sets: module values are serialized into `__provider`, where a Set loses its contents.)
const BUSY: readonly string[] = ["verifying", "inspecting", "cleaning", "deploying", "deleting", "adopting", "rescuing", "unrescuing", "servicing", "wait call-back", "inspect wait", "clean wait"];
/** Failure states the provider retries once per run, with the action that leaves them. */
const RETRYABLE: Record<string, EnrollAction> = { "inspect failed": "inspect", "clean failed": "manage" };

export function nextEnrollAction(node: IronicNode | undefined, goal: EnrollGoal): { action: EnrollAction; error?: string } {
    if (!node) return { action: "create" };
    const state = node.provision_state;
    const retried = goal.retried.has(node.uuid);
    if (node.target_provision_state || BUSY.includes(state)) return { action: "wait" };
    switch (state) {
        case "enroll":
            // A failed verification puts the node back in enroll with last_error.
            if (node.last_error && retried) return { action: "failed", error: node.last_error };
            return { action: "manage" };
        case "manageable":
            if (goal.inspect && !node.inspection_finished_at) return { action: "inspect" };
            return goal.target === "available" ? { action: "provide" } : { action: "done" };
        case "available":
        case "active":
            return { action: "done" };
        default:
            if (state in RETRYABLE && !retried) return { action: RETRYABLE[state] };
            return { action: "failed", error: node.last_error || `node is in ${state}` };
    }
}

/** Ironic deletes nodes in these states directly (available: allow_deleting_available_nodes, default on). */
const DELETABLE: readonly string[] = ["enroll", "manageable", "available", "adopt failed"];

export function nextDeleteAction(node: IronicNode | undefined): { action: DeleteAction; error?: string } {
    if (!node) return { action: "gone" };
    const state = node.provision_state;
    if (state === "inspect wait" || state === "clean wait") return { action: "abort" };
    if (node.target_provision_state || BUSY.includes(state)) return { action: "wait" };
    if (DELETABLE.includes(state) || node.maintenance) return { action: "delete" };
    if (state === "active") return { action: "undeploy" };
    // Failed states cannot be deleted unless the node is in maintenance.
    return { action: "maintenance" };
}

/** The provision-state verb Ironic expects for an action. */
export const PROVISION_TARGET: Partial<Record<EnrollAction | DeleteAction, string>> = {
    manage: "manage",
    inspect: "inspect",
    provide: "provide",
    abort: "abort",
    undeploy: "deleted",
};
