// The inputs every Kubernetes-side batch resource (BareMetalHostBatch,
// WorkloadClusterBatch) shares, with their defaults, so both are declared alike.
// The providers import this module: its Pulumi SDK is loaded inside kubeBatchProps
// only, or each batch's `__provider` would carry the SDK's code.
import type * as pulumi from "@pulumi/pulumi";
import { kubeconfigProblem } from "./kubeClient";

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
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sdk: typeof pulumi = require("@pulumi/pulumi");
    const stack = args.stack ?? sdk.getStack();
    return {
        stack,
        label: args.label ?? sdk.all([stack, args.batch]).apply(([s, b]) => `${s}/${kind}-${String(b).padStart(3, "0")}`),
        fieldManager: args.fieldManager ?? MANAGED_BY,
        concurrency: args.concurrency ?? 10,
        watchTimeoutSeconds: args.watchTimeoutSeconds ?? 300,
        runDir: args.runDir ?? "",
        kubeconfig: sdk.secret(args.kubeconfig),
        status: undefined,
    };
}

/** The shared inputs as the provider sees them. */
export interface KubeBatchInputs {
    readonly stack: string;
    readonly batch: number;
    readonly namespace: string;
    readonly kubeconfig: string;
    readonly fieldManager: string;
    readonly concurrency: number;
    readonly watchTimeoutSeconds: number;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** check() of the shared inputs, each failure naming its property (runs in the provider). */
export function kubeBatchCheck(inputs: KubeBatchInputs): pulumi.dynamic.CheckFailure[] {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (typeof inputs.stack !== "string" || inputs.stack === "") failures.push({ property: "stack", reason: "stack must be a non-empty string" });
    if (!Number.isInteger(Number(inputs.batch)) || Number(inputs.batch) < 0) failures.push({ property: "batch", reason: `batch must be a non-negative integer, got ${inputs.batch}` });
    if (typeof inputs.namespace !== "string" || inputs.namespace.length > 63 || !DNS1123_LABEL.test(inputs.namespace)) {
        failures.push({ property: "namespace", reason: `namespace must be a DNS-1123 label, got ${JSON.stringify(inputs.namespace)}` });
    }
    const kubeconfig = kubeconfigProblem(inputs.kubeconfig);
    if (kubeconfig) failures.push({ property: "kubeconfig", reason: kubeconfig });
    if (typeof inputs.fieldManager !== "string" || !/^[\x21-\x7e]{1,128}$/.test(inputs.fieldManager)) {
        failures.push({ property: "fieldManager", reason: "fieldManager must be 1-128 printable characters without spaces" });
    }
    if (!Number.isInteger(Number(inputs.concurrency)) || Number(inputs.concurrency) < 1) failures.push({ property: "concurrency", reason: `concurrency must be an integer >= 1, got ${inputs.concurrency}` });
    if (!(Number(inputs.watchTimeoutSeconds) >= 1)) failures.push({ property: "watchTimeoutSeconds", reason: `watchTimeoutSeconds must be at least 1, got ${inputs.watchTimeoutSeconds}` });
    return failures;
}

/** An API server restarting (or an etcd election) is ridden through: requests retry for up to a minute, never past the batch's deadline. */
export const API_OUTAGE_RETRY_MS = 60_000;

export function apiOutageRetry(ctx: { readonly deadline: { remaining(): number } }): { retryWindowMs: number; remainingMs: () => number } {
    return { retryWindowMs: API_OUTAGE_RETRY_MS, remainingMs: () => ctx.deadline.remaining() };
}
