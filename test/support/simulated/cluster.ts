/**
 * Simulated CAPI Cluster controller, after kubernetes-sigs/cluster-api@v1.13.5
 * internal/controllers/cluster/{cluster_controller.go,cluster_controller_phases.go} (v1beta2 types in
 * api/core/v1beta2/cluster_types.go):
 * - finalizer `cluster.cluster.x-k8s.io`; spec.infrastructureRef / spec.controlPlaneRef are
 *   ContractVersionedObjectReferences {apiGroup, kind, name}; the referenced objects get the Cluster as
 *   (non-controller) owner; a missing or unresolvable ref leaves the Cluster waiting.
 * - status.initialization.infrastructureProvisioned mirrors the infra cluster's
 *   status.initialization.provisioned, spec.controlPlaneEndpoint is copied from it;
 *   status.initialization.controlPlaneInitialized mirrors the control plane's; status.phase Pending ->
 *   Provisioning -> Provisioned (infrastructure provisioned and endpoint set), Deleting; conditions
 *   InfrastructureReady, ControlPlaneInitialized, ControlPlaneAvailable.
 * - Delete (reconcileDelete): deletes MachineDeployments, the control plane and worker Machines of the
 *   cluster, waits until they are gone, then deletes the infra cluster, waits, removes the finalizer.
 */
import { SimController, ControllerContext, R, CLUSTER_NAME_LABEL, CONTROL_PLANE_LABEL, conditionTrue, ownerRef, resolveRef, setCondition } from './controller';
import type { KObj } from '../kube/objects';

export const CLUSTER_FINALIZER = 'cluster.cluster.x-k8s.io';

export class ClusterController extends SimController {
    constructor(ctx: ControllerContext, private readonly delayMs: number) {
        super(ctx, R.clusters, 'capi-controller-manager');
    }

    protected watches(): void {
        const toCluster = (ev: { namespace: string; object: Readonly<KObj> }) =>
            (ev.object.metadata.ownerReferences ?? []).filter((o: any) => o.kind === 'Cluster').map((o: any) => `${ev.namespace}/${o.name}`);
        this.watch(R.metal3Clusters, toCluster);
        this.watch(R.kcps, toCluster);
        const byLabel = (ev: { namespace: string; object: Readonly<KObj> }) => {
            const c = ev.object.metadata.labels?.[CLUSTER_NAME_LABEL];
            return c ? [`${ev.namespace}/${c}`] : [];
        };
        this.watch(R.machines, byLabel);
        this.watch(R.machineDeployments, byLabel);
    }

    protected reconcile(ns: string, name: string): void {
        const cluster = this.store.peek(R.clusters, ns, name);
        if (!cluster) return this.forgetGates(ns, name);
        if (cluster.metadata.deletionTimestamp) return this.reconcileDelete(cluster);
        if (!this.ensureFinalizer(R.clusters, cluster, CLUSTER_FINALIZER)) return;
        const infra = resolveRef(this.store, ns, cluster.spec?.infrastructureRef);
        const cp = resolveRef(this.store, ns, cluster.spec?.controlPlaneRef);
        for (const ref of [infra, cp]) {
            if (ref?.obj && !(ref.obj.metadata.ownerReferences ?? []).some((o: any) => o.uid === cluster.metadata.uid)) {
                this.update(ref.resource, ns, ref.obj.metadata.name, (o) => {
                    o.metadata.ownerReferences = [...(o.metadata.ownerReferences ?? []), ownerRef(cluster)];
                });
            }
        }
        const infraProvisioned = infra?.obj?.status?.initialization?.provisioned === true;
        const endpoint = infra?.obj?.spec?.controlPlaneEndpoint;
        const endpointSet = !!endpoint?.host && !!endpoint?.port;
        if (infraProvisioned && endpointSet && (cluster.spec?.controlPlaneEndpoint?.host !== endpoint.host || cluster.spec?.controlPlaneEndpoint?.port !== endpoint.port)) {
            this.update(R.clusters, ns, name, (o) => (o.spec = { ...(o.spec ?? {}), controlPlaneEndpoint: { host: endpoint.host, port: endpoint.port } }));
            return;
        }
        const cpInitialized = cp?.obj?.status?.initialization?.controlPlaneInitialized === true;
        const cpAvailable = conditionTrue(cp?.obj, 'Available');
        if (!this.elapsed(ns, name, `status:${infraProvisioned}:${cpInitialized}:${cpAvailable}`, this.delayMs)) return;
        const phase = !infra ? 'Pending' : infraProvisioned && endpointSet ? 'Provisioned' : 'Provisioning';
        const gen = cluster.metadata.generation;
        this.updateStatus(R.clusters, ns, name, (s) => {
            s.initialization = { ...(s.initialization ?? {}), infrastructureProvisioned: infraProvisioned, controlPlaneInitialized: cpInitialized };
            s.phase = phase;
            s.observedGeneration = gen;
            setCondition(s, { type: 'InfrastructureReady', status: infraProvisioned ? 'True' : 'False', reason: infra?.obj ? (infraProvisioned ? 'Ready' : 'NotReady') : 'InfrastructureDoesNotExist' }, gen);
            setCondition(s, { type: 'ControlPlaneInitialized', status: cpInitialized ? 'True' : 'False', reason: cpInitialized ? 'Initialized' : 'NotInitialized' }, gen);
            setCondition(s, { type: 'ControlPlaneAvailable', status: cpAvailable ? 'True' : 'False', reason: cpAvailable ? 'Available' : 'NotAvailable' }, gen);
        });
    }

    private reconcileDelete(cluster: Readonly<KObj>): void {
        const ns = cluster.metadata.namespace;
        const name = cluster.metadata.name;
        if (cluster.status?.phase !== 'Deleting') {
            this.updateStatus(R.clusters, ns, name, (s) => (s.phase = 'Deleting'));
            return;
        }
        const sel = { namespace: ns, labelSelector: `${CLUSTER_NAME_LABEL}=${name}` };
        const mds = this.store.peekList(R.machineDeployments, sel);
        for (const md of mds) this.deleteIfPresent(R.machineDeployments, ns, md.metadata.name);
        const cp = resolveRef(this.store, ns, cluster.spec?.controlPlaneRef);
        if (cp?.obj) this.deleteIfPresent(cp.resource, ns, cp.obj.metadata.name);
        // worker Machines not owned by a MachineDeployment or the control plane
        const machines = this.store.peekList(R.machines, sel);
        for (const m of machines) if (!(CONTROL_PLANE_LABEL in (m.metadata.labels ?? {})) && !(m.metadata.ownerReferences ?? []).length) this.deleteIfPresent(R.machines, ns, m.metadata.name);
        if (mds.length > 0 || cp?.obj || machines.length > 0) return; // descendants still exist: their deletion re-queues us
        const infra = resolveRef(this.store, ns, cluster.spec?.infrastructureRef);
        if (infra?.obj) {
            this.deleteIfPresent(infra.resource, ns, infra.obj.metadata.name);
            return;
        }
        this.removeFinalizer(R.clusters, cluster, CLUSTER_FINALIZER);
    }
}
