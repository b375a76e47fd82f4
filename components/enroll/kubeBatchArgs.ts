// The inputs every Kubernetes-side batch resource (BareMetalHostBatch,
// WorkloadClusterBatch) shares, with their defaults, so both are declared alike.
import * as pulumi from "@pulumi/pulumi";

/** Field manager of the lab's server-side applies, and the managed-by label's value. */
export const MANAGED_BY = "metal3-scale-lab";

export interface KubeBatchArgs {
    /** Defaults to `<stack>/<kind>-<NNN>`; the resource id and the batch label. */
    readonly label?: pulumi.Input<string>;
    /** Defaults to the current stack. */
    readonly stack?: pulumi.Input<string>;
    readonly batch: pulumi.Input<number>;
    readonly kubeconfig: pulumi.Input<string>;
    /** Default MANAGED_BY. */
    readonly fieldManager?: pulumi.Input<string>;
    /** Requests in flight at once; default 10. */
    readonly concurrency?: pulumi.Input<number>;
    /** Default 300. */
    readonly watchTimeoutSeconds?: pulumi.Input<number>;
    /** The run record's directory ("" records nothing). */
    readonly runDir?: pulumi.Input<string>;
}

/** The shared inputs with their defaults; the kubeconfig is a secret. `kind` names the label: `bmh-batch`, `cluster-batch`. */
export function kubeBatchProps(args: KubeBatchArgs, kind: string) {
    const stack = args.stack ?? pulumi.getStack();
    return {
        stack,
        label: args.label ?? pulumi.all([stack, args.batch]).apply(([s, b]) => `${s}/${kind}-${String(b).padStart(3, "0")}`),
        fieldManager: args.fieldManager ?? MANAGED_BY,
        concurrency: args.concurrency ?? 10,
        watchTimeoutSeconds: args.watchTimeoutSeconds ?? 300,
        runDir: args.runDir ?? "",
        kubeconfig: pulumi.secret(args.kubeconfig),
        status: undefined,
    };
}
