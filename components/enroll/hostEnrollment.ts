// HostEnrollment: the lab's hosts enrolled in batches of `batchSize`, one
// dynamic resource per batch (the stack grows with batches, not hosts), at
// most `maxBatchesInFlight` batches at a time so Ironic and BMO are not flooded.
import * as pulumi from "@pulumi/pulumi";
import { LabConfig } from "../config/types";
import { Host, planBatches } from "../inventory/inventory";
import { indexed, typeToken } from "../naming";
import { BareMetalHostBatch } from "./bareMetalHostBatch";
import { IronicNodeBatch, IronicNodeBatchArgs } from "./ironicNodeBatch";
import { bareMetalHostSpec, redfishNodeDefaults, redfishNodeEntry } from "./specs";

export interface IronicAccess {
    readonly endpoints: pulumi.Input<string>[];
    readonly username: pulumi.Input<string>;
    readonly password: pulumi.Input<string>;
    readonly caPem: pulumi.Input<string>;
}

export interface HostEnrollmentArgs {
    readonly config: LabConfig;
    readonly hosts: readonly Host[];
    /** The sushy-tools fleet's BMC credentials (password secret). */
    readonly bmc: { readonly username: string; readonly password: pulumi.Input<string> };
    /** ironic mode: Ironic is driven directly. */
    readonly ironic?: IronicAccess;
    /** bmo/capi modes: BareMetalHosts in this namespace of the management cluster. */
    readonly kubernetes?: { readonly kubeconfig: pulumi.Input<string>; readonly namespace: pulumi.Input<string> };
    /** What must be ready before the first batch (Ironic's conductors, or BMO). */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
    /** This run's record dir (components/record/run.ts startRun); "" records nothing. */
    readonly runDir?: string;
}

/** The batch that batch `index` waits for, so at most `inFlight` run at once. */
export function predecessorOf(index: number, inFlight: number): number | undefined {
    return index >= inFlight ? index - inFlight : undefined;
}

export class HostEnrollment extends pulumi.ComponentResource {
    public readonly batches: (IronicNodeBatch | BareMetalHostBatch)[];
    /** Hosts every batch brought to the target state (known after `up`). */
    public readonly readyHosts: pulumi.Output<number>;

    constructor(name: string, args: HostEnrollmentArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("enroll", "HostEnrollment"), name, {}, opts);
        const cfg = args.config;
        const timeoutSeconds = cfg.waitTimeoutMinutes * 60;
        const plan = planBatches(args.hosts, cfg.batchSize);
        this.batches = [];
        for (const batch of plan) {
            const before = predecessorOf(batch.index, cfg.maxBatchesInFlight);
            const batchOpts: pulumi.CustomResourceOptions = {
                parent: this,
                dependsOn: before === undefined ? args.dependsOn : [this.batches[before]],
            };
            const resourceName = indexed(`${name}-batch`, batch.index);
            const label = `${cfg.stack}/${indexed(cfg.mode === "ironic" ? "ironic-batch" : "bmh-batch", batch.index)}`;
            this.batches.push(
                cfg.mode === "ironic"
                    ? new IronicNodeBatch(resourceName, ironicBatchArgs(args, label, batch.hosts, timeoutSeconds), batchOpts)
                    : new BareMetalHostBatch(resourceName, {
                          label,
                          stack: cfg.stack,
                          batch: batch.index,
                          namespace: required(args.kubernetes, "kubernetes").namespace,
                          kubeconfig: required(args.kubernetes, "kubernetes").kubeconfig,
                          hosts: batch.hosts.map((h) => bareMetalHostSpec(h, cfg)),
                          bmcUsername: args.bmc.username,
                          bmcPassword: args.bmc.password,
                          targetState: "available",
                          timeoutSeconds,
                          runDir: args.runDir,
                      }, batchOpts),
            );
        }
        this.readyHosts = pulumi
            .all(this.batches.map((b) => b.status))
            .apply((statuses) => statuses.reduce((n, s) => n + (s?.counts?.[cfg.mode === "ironic" ? cfg.targetState : "available"] ?? 0), 0));
        this.registerOutputs({ readyHosts: this.readyHosts });
    }
}

export function ironicBatchArgs(args: HostEnrollmentArgs, label: string, hosts: readonly Host[], timeoutSeconds: number): IronicNodeBatchArgs {
    const ironic = required(args.ironic, "ironic");
    return {
        label,
        // Per host only its own fields: every value of a resource's inputs costs the program and the state.
        hosts: hosts.map(redfishNodeEntry),
        nodeDefaults: redfishNodeDefaults(args.config, args.bmc.username),
        targetState: args.config.targetState,
        inspect: args.config.inspectHosts,
        timeoutSeconds,
        endpoints: ironic.endpoints,
        username: ironic.username,
        password: ironic.password,
        caPem: ironic.caPem,
        apiVersion: args.config.ironic.apiVersion,
        driverInfoSecrets: { redfish_password: args.bmc.password },
        runDir: args.runDir,
    };
}

function required<T>(value: T | undefined, what: string): T {
    if (value === undefined) throw new Error(`HostEnrollment needs ${what} access in this mode`);
    return value;
}
