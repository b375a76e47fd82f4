/**
 * SimulatedCapi: Cluster API core + kubeadm bootstrap/control plane + CAPM3 + the FKAS reconciler
 * sidecar, simulated in-process against a KubeApiTestServer (kwok style: one small controller per file
 * in ./simulated/, each naming the upstream files and tags it follows). Together with SimulatedBmo
 * (hosts provisioning -> provisioned) and FkasDouble (/register, /updateNode, workload Nodes) it walks
 * the objects of CAPM3's clusterctl template (v1.13.2 examples/clusterctl-templates) to a Running
 * Machine, a provisioned BareMetalHost and an Available KubeadmControlPlane, and back on delete:
 *
 *   Cluster --owns--> Metal3Cluster (provisioned once controlPlaneEndpoint is set)
 *           --owns--> KubeadmControlPlane --creates--> <c>-ca/-etcd/-sa/-proxy/-kubeconfig Secrets,
 *                     Machine + Metal3Machine (from the Metal3MachineTemplate) + KubeadmConfig
 *   KubeadmConfig -> bootstrap Secret -> Machine.spec.bootstrap.dataSecretName
 *   Metal3Machine -> claims an available BMH matching hostSelector (consumerRef, image, userData,
 *                    online) -> SimulatedBmo provisions it -> FKAS reconciler PUTs /updateNode ->
 *                    Node labelled metal3.io/uuid -> CAPM3 sets providerID -> Machine nodeRef, Running
 *                    -> KCP readyReplicas, initialized, Available -> Cluster controlPlaneInitialized
 *
 * Resources are served at the storage versions (cluster.x-k8s.io, controlplane.cluster.x-k8s.io,
 * bootstrap.cluster.x-k8s.io, infrastructure.cluster.x-k8s.io: v1beta2), see ./kube/registry.ts.
 *
 * SIMPLIFIED / NOT MODELLED: no schema validation, defaulting or webhooks (an unknown field is kept
 * and ignored, like a pruned one, a missing required one leaves its controller waiting); no
 * MachineDeployment/MachineSet controllers (workers are not created); no Metal3DataClaim/Metal3Data
 * objects or rendered metaData/networkData Secrets; no MachineHealthCheck, remediation, upgrades or
 * rollouts; the workload cluster is read through the FkasDouble in-process (not over its TLS port).
 */
import { KubeApiTestServer, KubeStore } from './kubeApiServer';
import type { FkasDouble } from './fkasDouble';
import { ControllerContext, SimController } from './simulated/controller';
import { ClusterController } from './simulated/cluster';
import { Metal3ClusterController } from './simulated/metal3Cluster';
import { KubeadmControlPlaneController } from './simulated/kubeadmControlPlane';
import { KubeadmConfigController } from './simulated/kubeadmConfig';
import { MachineController } from './simulated/machine';
import { Metal3MachineController } from './simulated/metal3Machine';
import { FkasReconciler } from './simulated/fkasReconciler';

export interface CapiDelays {
    /** Cluster status updates */
    cluster: number;
    /** Metal3Cluster -> provisioned */
    infraCluster: number;
    /** KCP creating each control-plane Machine */
    controlPlane: number;
    /** KubeadmConfig -> bootstrap data Secret */
    bootstrap: number;
    /** each Machine phase change */
    machine: number;
    /** CAPM3 associating a Metal3Machine with its host */
    provision: number;
    /** re-queue of a controller that waits for something outside the store (FKAS) or failed */
    retry: number;
}

export interface SimulatedCapiOptions {
    /** watched namespaces (all controllers); default all */
    namespaces?: string[];
    fkas: FkasDouble;
    delays?: Partial<CapiDelays>;
    /** start at once (default true) */
    autoStart?: boolean;
}

const DEFAULT_DELAYS: CapiDelays = { cluster: 5, infraCluster: 10, controlPlane: 10, bootstrap: 10, machine: 10, provision: 10, retry: 25 };

export class SimulatedCapi {
    readonly store: KubeStore;
    readonly delays: CapiDelays;
    readonly machines: MachineController;
    readonly metal3Machines: Metal3MachineController;
    readonly fkasReconciler: FkasReconciler;
    private readonly controllers: SimController[];
    private running = false;
    private unsubscribeFkas?: () => void;

    constructor(server: KubeApiTestServer | KubeStore, private readonly opts: SimulatedCapiOptions) {
        this.store = server instanceof KubeApiTestServer ? server.store : server;
        this.delays = { ...DEFAULT_DELAYS, ...(opts.delays ?? {}) };
        const ctx: ControllerContext = {
            store: this.store,
            namespaces: opts.namespaces ? new Set(opts.namespaces) : undefined,
            retryMs: this.delays.retry,
            running: () => this.running,
        };
        const d = this.delays;
        this.machines = new MachineController(ctx, opts.fkas, d.machine);
        this.metal3Machines = new Metal3MachineController(ctx, opts.fkas, d.provision);
        this.fkasReconciler = new FkasReconciler(ctx, opts.fkas);
        this.controllers = [
            new ClusterController(ctx, d.cluster),
            new Metal3ClusterController(ctx, d.infraCluster),
            new KubeadmControlPlaneController(ctx, d.controlPlane),
            new KubeadmConfigController(ctx, d.bootstrap),
            this.machines,
            this.metal3Machines,
            this.fkasReconciler,
        ];
        if (opts.autoStart ?? true) this.start();
    }

    start(): this {
        if (this.running) return this;
        this.running = true;
        for (const c of this.controllers) c.start();
        this.unsubscribeFkas = this.opts.fkas.onChange((ns, cluster) => {
            this.machines.nodesChanged(ns, cluster);
            this.metal3Machines.nodesChanged(ns, cluster);
        });
        return this;
    }

    /** Stops every controller; objects keep whatever state they reached. */
    stop(): void {
        this.running = false;
        this.unsubscribeFkas?.();
        this.unsubscribeFkas = undefined;
        for (const c of this.controllers) c.stop();
    }

    /** Reconciles done so far, per controller class. */
    get reconciles(): Record<string, number> {
        return Object.fromEntries(this.controllers.map((c) => [c.constructor.name, c.reconciles]));
    }
}
