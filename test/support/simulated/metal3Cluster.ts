/**
 * Simulated CAPM3 Metal3Cluster controller, after metal3-io/cluster-api-provider-metal3@v1.13.2
 * controllers/metal3cluster_controller.go and baremetal/metal3cluster_manager.go (v1beta2 types in
 * api/v1beta2/metal3cluster_types.go):
 * - waits for its owner Cluster (ownerReference set by the Cluster controller);
 * - finalizer `metal3cluster.infrastructure.cluster.x-k8s.io`;
 * - spec.controlPlaneEndpoint needs host and port (else status.deprecated.v1beta1.failureMessage and
 *   not provisioned); then status.initialization.provisioned = true and condition Ready True;
 * - delete: waits until no Metal3Machine of the cluster is left, then drops the finalizer.
 */
import { SimController, ControllerContext, R, CLUSTER_NAME_LABEL, ownerOfKind, setCondition } from './controller';

export const METAL3_CLUSTER_FINALIZER = 'metal3cluster.infrastructure.cluster.x-k8s.io';

export class Metal3ClusterController extends SimController {
    constructor(ctx: ControllerContext, private readonly delayMs: number) {
        super(ctx, R.metal3Clusters, 'capm3-controller-manager');
    }

    protected watches(): void {
        this.watch(R.metal3Machines, (ev) => {
            if (ev.type !== 'DELETED') return [];
            const c = ev.object.metadata.labels?.[CLUSTER_NAME_LABEL];
            if (!c) return [];
            const cluster = this.store.peek(R.clusters, ev.namespace, c);
            const ref = cluster?.spec?.infrastructureRef;
            return ref?.kind === 'Metal3Cluster' ? [`${ev.namespace}/${ref.name}`] : [];
        });
    }

    protected reconcile(ns: string, name: string): void {
        const m3c = this.store.peek(R.metal3Clusters, ns, name);
        if (!m3c) return this.forgetGates(ns, name);
        const owner = ownerOfKind(m3c, 'cluster.x-k8s.io', 'Cluster');
        if (m3c.metadata.deletionTimestamp) {
            const machines = owner ? this.store.peekList(R.metal3Machines, { namespace: ns, labelSelector: `${CLUSTER_NAME_LABEL}=${owner.name}` }) : [];
            if (machines.length === 0) this.removeFinalizer(R.metal3Clusters, m3c, METAL3_CLUSTER_FINALIZER);
            return;
        }
        if (!owner) return; // "Waiting for Cluster Controller to set OwnerRef on Metal3Cluster"
        if (!this.ensureFinalizer(R.metal3Clusters, m3c, METAL3_CLUSTER_FINALIZER)) return;
        const ep = m3c.spec?.controlPlaneEndpoint;
        const gen = m3c.metadata.generation;
        if (!ep?.host || !ep?.port) {
            if (m3c.status?.deprecated?.v1beta1?.failureMessage) return;
            this.updateStatus(R.metal3Clusters, ns, name, (s) => {
                s.deprecated = { v1beta1: { failureReason: 'InvalidConfiguration', failureMessage: 'Invalid ControlPlaneEndpoint values' } };
                setCondition(s, { type: 'Ready', status: 'False', reason: 'InternalError', message: 'Invalid ControlPlaneEndpoint values' }, gen);
            });
            return;
        }
        if (m3c.status?.initialization?.provisioned === true && !m3c.status?.deprecated) return;
        if (!this.elapsed(ns, name, 'provision', this.delayMs)) return;
        this.updateStatus(R.metal3Clusters, ns, name, (s) => {
            delete s.deprecated;
            s.initialization = { provisioned: true };
            setCondition(s, { type: 'Ready', status: 'True', reason: 'Ready' }, gen);
        });
    }
}
