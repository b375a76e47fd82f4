/**
 * Simulated CAPI Machine controller, after kubernetes-sigs/cluster-api@v1.13.5
 * internal/controllers/machine/{machine_controller.go,machine_controller_phases.go,
 * machine_controller_noderef.go} (types: api/core/v1beta2/machine_types.go, machine_phase_types.go):
 * - finalizer `machine.cluster.x-k8s.io`; label cluster.x-k8s.io/cluster-name = spec.clusterName;
 * - bootstrap: spec.bootstrap.configRef and spec.infrastructureRef are {apiGroup, kind, name}; the
 *   Machine becomes their controller owner (replacing the KCP's); spec.bootstrap.dataSecretName and
 *   status.initialization.bootstrapDataSecretCreated once the config has status.dataSecretName;
 * - infrastructure: status.initialization.infrastructureProvisioned and spec.providerID once the infra
 *   machine has status.initialization.provisioned and spec.providerID; status.addresses copied;
 * - node: status.nodeRef.name once the workload cluster (the FKAS double) has a Node with that
 *   providerID; condition NodeReady;
 * - status.phase Pending -> Provisioning -> Provisioned -> Running, Deleting;
 * - delete: deletes the infra machine and the bootstrap config, waits for the infra machine to be gone
 *   (CAPM3 deprovisions its host first), then drops the finalizer.
 */
import { SimController, ControllerContext, R, CLUSTER_NAME_LABEL, ownerRef, resolveRef, setCondition } from './controller';
import type { KObj } from '../kube/objects';
import type { FkasDouble } from '../fkasDouble';

export const MACHINE_FINALIZER = 'machine.cluster.x-k8s.io';

export class MachineController extends SimController {
    constructor(ctx: ControllerContext, private readonly fkas: FkasDouble, private readonly delayMs: number) {
        super(ctx, R.machines, 'capi-controller-manager');
    }

    protected watches(): void {
        const toOwnerMachine = (ev: { namespace: string; object: Readonly<KObj> }) =>
            (ev.object.metadata.ownerReferences ?? []).filter((o: any) => o.kind === 'Machine').map((o: any) => `${ev.namespace}/${o.name}`);
        this.watch(R.metal3Machines, toOwnerMachine);
        this.watch(R.kubeadmConfigs, toOwnerMachine);
    }

    /** A workload cluster's nodes changed (FKAS). */
    nodesChanged(namespace: string, cluster: string): void {
        for (const m of this.store.peekList(R.machines, { namespace, labelSelector: `${CLUSTER_NAME_LABEL}=${cluster}` })) this.enqueue(namespace, m.metadata.name);
    }

    protected reconcile(ns: string, name: string): void {
        const m = this.store.peek(R.machines, ns, name);
        if (!m) return this.forgetGates(ns, name);
        const bootstrap = resolveRef(this.store, ns, m.spec?.bootstrap?.configRef);
        const infra = resolveRef(this.store, ns, m.spec?.infrastructureRef);
        if (m.metadata.deletionTimestamp) {
            if (m.status?.phase !== 'Deleting') {
                this.updateStatus(R.machines, ns, name, (s) => (s.phase = 'Deleting'));
                return;
            }
            if (bootstrap?.obj) this.deleteIfPresent(bootstrap.resource, ns, bootstrap.obj.metadata.name);
            if (infra?.obj) {
                this.deleteIfPresent(infra.resource, ns, infra.obj.metadata.name);
                return; // its deletion re-queues us
            }
            this.removeFinalizer(R.machines, m, MACHINE_FINALIZER);
            return;
        }
        const clusterName = m.spec?.clusterName;
        if (!clusterName || !this.store.peek(R.clusters, ns, clusterName)) return;
        if (m.metadata.labels?.[CLUSTER_NAME_LABEL] !== clusterName || !(m.metadata.finalizers ?? []).includes(MACHINE_FINALIZER)) {
            this.update(R.machines, ns, name, (o) => {
                o.metadata.labels = { ...(o.metadata.labels ?? {}), [CLUSTER_NAME_LABEL]: clusterName };
                if (!(o.metadata.finalizers ?? []).includes(MACHINE_FINALIZER)) o.metadata.finalizers = [...(o.metadata.finalizers ?? []), MACHINE_FINALIZER];
            });
            return;
        }
        for (const ref of [bootstrap, infra]) if (ref?.obj) this.adopt(ref.resource, ref.obj, m);
        const dataSecretName: string | undefined = bootstrap?.obj?.status?.dataSecretName;
        const bootstrapReady = bootstrap?.obj?.status?.initialization?.dataSecretCreated === true && !!dataSecretName;
        const infraReady = infra?.obj?.status?.initialization?.provisioned === true && !!infra.obj.spec?.providerID;
        const providerID: string | undefined = infraReady ? infra!.obj!.spec.providerID : undefined;
        if ((bootstrapReady && m.spec?.bootstrap?.dataSecretName !== dataSecretName) || (providerID && m.spec?.providerID !== providerID)) {
            this.update(R.machines, ns, name, (o) => {
                if (bootstrapReady) o.spec.bootstrap = { ...o.spec.bootstrap, dataSecretName };
                if (providerID) o.spec.providerID = providerID;
            });
            return;
        }
        const node = providerID ? this.fkas.nodeByProviderID(ns, clusterName, providerID) : undefined;
        const phase = node ? 'Running' : infraReady ? 'Provisioned' : bootstrapReady ? 'Provisioning' : 'Pending';
        if (phase !== (m.status?.phase ?? 'Pending') && !this.elapsed(ns, name, `phase:${phase}`, this.delayMs)) return;
        const gen = m.metadata.generation;
        const nodeReady = !!node?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
        this.updateStatus(R.machines, ns, name, (s) => {
            s.initialization = { bootstrapDataSecretCreated: bootstrapReady, infrastructureProvisioned: infraReady };
            if (node) s.nodeRef = { name: node.metadata.name };
            else delete s.nodeRef;
            if (infra?.obj?.status?.addresses) s.addresses = JSON.parse(JSON.stringify(infra.obj.status.addresses));
            s.phase = phase;
            s.observedGeneration = gen;
            setCondition(s, { type: 'BootstrapConfigReady', status: bootstrapReady ? 'True' : 'False', reason: bootstrapReady ? 'Ready' : 'NotReady' }, gen);
            setCondition(s, { type: 'InfrastructureReady', status: infraReady ? 'True' : 'False', reason: infraReady ? 'Ready' : 'NotReady' }, gen);
            setCondition(s, { type: 'NodeReady', status: nodeReady ? 'True' : 'False', reason: node ? (nodeReady ? 'NodeReady' : 'NodeNotReady') : 'NodeDoesNotExist' }, gen);
        });
    }

    /** ensureOwnerRef: the Machine is the controller owner of its bootstrap config and infra machine. */
    private adopt(resource: string, obj: Readonly<KObj>, machine: Readonly<KObj>): void {
        const refs: any[] = obj.metadata.ownerReferences ?? [];
        if (refs.length === 1 && refs[0].uid === machine.metadata.uid) return;
        this.update(resource, obj.metadata.namespace, obj.metadata.name, (o) => {
            o.metadata.ownerReferences = [ownerRef(machine, true), ...(o.metadata.ownerReferences ?? []).filter((r: any) => !r.controller && r.uid !== machine.metadata.uid)];
        });
    }
}
