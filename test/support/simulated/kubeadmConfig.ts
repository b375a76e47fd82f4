/**
 * Simulated kubeadm bootstrap provider, after kubernetes-sigs/cluster-api@v1.13.5
 * bootstrap/kubeadm/internal/controllers/kubeadmconfig_controller.go (types:
 * api/bootstrap/kubeadm/v1beta2/kubeadmconfig_types.go):
 * - waits for its owner Machine and for the Cluster's status.initialization.infrastructureProvisioned;
 *   a worker's (join) config also waits for controlPlaneInitialized;
 * - writes the bootstrap data Secret `<config>` (type cluster.x-k8s.io/secret, data.value +
 *   data.format cloud-config, label cluster-name, owned by the KubeadmConfig) and sets
 *   status.dataSecretName and status.initialization.dataSecretCreated.
 * The cloud-init content is a placeholder: nothing boots it.
 */
import { SimController, ControllerContext, R, CLUSTER_NAME_LABEL, CONTROL_PLANE_LABEL, ownerOfKind, ownerRef, setCondition } from './controller';

export class KubeadmConfigController extends SimController {
    constructor(ctx: ControllerContext, private readonly delayMs: number) {
        super(ctx, R.kubeadmConfigs, 'capi-kubeadm-bootstrap-manager');
    }

    protected watches(): void {
        this.watch(R.clusters, (ev) =>
            this.store.peekList(R.kubeadmConfigs, { namespace: ev.namespace, labelSelector: `${CLUSTER_NAME_LABEL}=${ev.name}` }).map((k) => `${ev.namespace}/${k.metadata.name}`),
        );
    }

    protected reconcile(ns: string, name: string): void {
        const cfg = this.store.peek(R.kubeadmConfigs, ns, name);
        if (!cfg || cfg.metadata.deletionTimestamp) return this.forgetGates(ns, name);
        if (cfg.status?.initialization?.dataSecretCreated === true) return;
        const machine = ownerOfKind(cfg, 'cluster.x-k8s.io', 'Machine');
        if (!machine) return; // "Waiting for Machine Controller to set OwnerRef"
        const clusterName = cfg.metadata.labels?.[CLUSTER_NAME_LABEL];
        const cluster = clusterName ? this.store.peek(R.clusters, ns, clusterName) : undefined;
        if (!cluster || cluster.status?.initialization?.infrastructureProvisioned !== true) return;
        const isControlPlane = CONTROL_PLANE_LABEL in (cfg.metadata.labels ?? {});
        if (!isControlPlane && cluster.status?.initialization?.controlPlaneInitialized !== true) return; // join waits for the control plane
        if (!this.elapsed(ns, name, 'data', this.delayMs)) return;
        if (!this.store.peek(R.secrets, ns, name)) {
            this.store.create(
                R.secrets,
                {
                    apiVersion: 'v1',
                    kind: 'Secret',
                    metadata: { name, namespace: ns, labels: { [CLUSTER_NAME_LABEL]: clusterName }, ownerReferences: [ownerRef(cfg, true)] },
                    type: 'cluster.x-k8s.io/secret',
                    data: { value: Buffer.from(`## template: jinja\n#cloud-config\n# kubeadm ${isControlPlane ? 'init' : 'join'} for ${machine.name}\n`).toString('base64'), format: Buffer.from('cloud-config').toString('base64') },
                },
                { fieldManager: this.manager },
            );
        }
        const gen = cfg.metadata.generation;
        this.updateStatus(R.kubeadmConfigs, ns, name, (s) => {
            s.dataSecretName = name;
            s.initialization = { dataSecretCreated: true };
            s.observedGeneration = gen;
            setCondition(s, { type: 'DataSecretAvailable', status: 'True', reason: 'Available' }, gen);
            setCondition(s, { type: 'Ready', status: 'True', reason: 'Ready' }, gen);
        });
    }
}
