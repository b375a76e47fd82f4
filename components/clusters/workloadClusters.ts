// WorkloadClusters: the stack's `clusters` workload clusters (mode capi), one
// WorkloadClusterBatch per `batchSize` clusters, declared after the host
// batches, at most `maxBatchesInFlight` batches at a time (as HostEnrollment).
import * as pulumi from "@pulumi/pulumi";
import { LabConfig } from "../config/types";
import { predecessorOf } from "../enroll/hostEnrollment";
import { Host, planBatches } from "../inventory/inventory";
import { indexed, typeToken } from "../naming";
import { nodeImage, planClusters } from "./plan";
import { TARGET, WorkloadClusterBatch } from "./workloadClusterBatch";

export interface WorkloadClustersArgs {
    readonly config: LabConfig;
    /** The inventory, in order: cluster k takes the hosts after cluster k-1's. */
    readonly hosts: readonly Host[];
    /** The management cluster and the namespace of the BareMetalHosts (the clusters live there too). */
    readonly kubernetes: { readonly kubeconfig: pulumi.Input<string>; readonly namespace: pulumi.Input<string> };
    /** http://<host>:<ports.fkas> of the FKAS instance, reachable from where `pulumi up` runs. */
    readonly fkasUrl: pulumi.Input<string>;
    /** The host batches (HostEnrollment.batches): no cluster batch starts before they are done. */
    readonly hostBatches: readonly pulumi.Resource[];
    /** What else must be ready first (CAPI providers, FKAS). */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
    /** This run's record dir (components/record/run.ts startRun); "" records nothing. */
    readonly runDir?: string;
}

export class WorkloadClusters extends pulumi.ComponentResource {
    public readonly batches: WorkloadClusterBatch[];
    /** Clusters every batch brought up (known after `up`). */
    public readonly readyClusters: pulumi.Output<number>;

    constructor(name: string, args: WorkloadClustersArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("clusters", "WorkloadClusters"), name, {}, opts);
        const cfg = args.config;
        const plan = planBatches(planClusters(cfg, args.hosts), cfg.batchSize);
        const first: pulumi.Input<pulumi.Resource>[] = [...args.hostBatches, ...(args.dependsOn ?? [])];
        this.batches = [];
        for (const batch of plan) {
            const before = predecessorOf(batch.index, cfg.maxBatchesInFlight);
            this.batches.push(
                new WorkloadClusterBatch(
                    indexed(`${name}-batch`, batch.index),
                    {
                        label: `${cfg.stack}/${indexed("cluster-batch", batch.index)}`,
                        stack: cfg.stack,
                        batch: batch.index,
                        namespace: args.kubernetes.namespace,
                        kubeconfig: args.kubernetes.kubeconfig,
                        fkasUrl: args.fkasUrl,
                        clusters: [...batch.hosts],
                        kubernetesVersion: cfg.workloadKubernetesVersion,
                        image: nodeImage(cfg),
                        timeoutSeconds: cfg.waitTimeoutMinutes * 60,
                        runDir: args.runDir,
                    },
                    { parent: this, dependsOn: before === undefined ? first : [this.batches[before]] },
                ),
            );
        }
        this.readyClusters = pulumi.all(this.batches.map((b) => b.status)).apply((statuses) => statuses.reduce((n, s) => n + (s?.counts?.[TARGET] ?? 0), 0));
        this.registerOutputs({ readyClusters: this.readyClusters });
    }
}
