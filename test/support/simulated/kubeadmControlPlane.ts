/**
 * Simulated KubeadmControlPlane controller, after kubernetes-sigs/cluster-api@v1.13.5
 * controlplane/kubeadm/internal/controllers/{controller.go,helpers.go,scale.go,status.go},
 * controlplane/kubeadm/internal/desiredstate/desired_state.go (types:
 * api/controlplane/kubeadm/v1beta2/kubeadm_control_plane_types.go):
 * - waits for its owner Cluster, then for Cluster status.initialization.infrastructureProvisioned and
 *   spec.controlPlaneEndpoint; finalizer `kubeadm.controlplane.cluster.x-k8s.io`;
 * - cluster certificates: Secrets `<cluster>-ca`, `-etcd`, `-sa`, `-proxy` (type cluster.x-k8s.io/secret,
 *   tls.crt/tls.key, RSA as CAPI's certs package writes them) and `<cluster>-kubeconfig`, owned by the
 *   KCP (controller); existing ones are adopted, never overwritten;
 * - spec.machineTemplate.spec.infrastructureRef {apiGroup, kind, name} must name an existing template;
 * - scale up one Machine at a time (the first, then more only once initialized): Machine
 *   `<kcp>-<random5>` (KCPMachineNameGenerator default), infra machine cloned from the template
 *   (annotations cluster.x-k8s.io/cloned-from-name/-groupkind) and KubeadmConfig of the same name,
 *   labels cluster-name / control-plane / control-plane-name, KCP as controller owner; scale down
 *   deletes the newest Machine;
 * - status: replicas, readyReplicas / availableReplicas (Machines with a Ready node), upToDateReplicas,
 *   version, selector, initialization.controlPlaneInitialized (a control-plane node exists in the
 *   workload cluster; stays true), conditions Available and CertificatesAvailable;
 * - delete: deletes its Machines, waits for them, drops the finalizer (Secrets go with the GC).
 */
import { SimController, ControllerContext, R, CLUSTER_NAME_LABEL, CONTROL_PLANE_LABEL, CONTROL_PLANE_NAME_LABEL, ownerOfKind, ownerRef, randomSuffix, resolveRef, setCondition } from './controller';
import type { KObj } from '../kube/objects';
import { sharedRsaCa } from '../kube/tls';

export const KCP_FINALIZER = 'kubeadm.controlplane.cluster.x-k8s.io';
const CERT_SECRETS = ['ca', 'etcd', 'sa', 'proxy'];

export class KubeadmControlPlaneController extends SimController {
    constructor(ctx: ControllerContext, private readonly delayMs: number) {
        super(ctx, R.kcps, 'capi-kubeadm-control-plane-manager');
    }

    protected watches(): void {
        this.watch(R.machines, (ev) => {
            const kcp = ev.object.metadata.labels?.[CONTROL_PLANE_NAME_LABEL];
            return kcp ? [`${ev.namespace}/${kcp}`] : [];
        });
        this.watch(R.clusters, (ev) => {
            const ref = ev.object.spec?.controlPlaneRef;
            return ref?.kind === 'KubeadmControlPlane' && ref.name ? [`${ev.namespace}/${ref.name}`] : [];
        });
        this.watch(R.metal3MachineTemplates, (ev) =>
            this.store.peekList(R.kcps, { namespace: ev.namespace }).filter((k) => k.spec?.machineTemplate?.spec?.infrastructureRef?.name === ev.name).map((k) => `${ev.namespace}/${k.metadata.name}`),
        );
    }

    protected reconcile(ns: string, name: string): void {
        const kcp = this.store.peek(R.kcps, ns, name);
        if (!kcp) return this.forgetGates(ns, name);
        const machines = this.store.peekList(R.machines, { namespace: ns, labelSelector: `${CONTROL_PLANE_NAME_LABEL}=${name}` });
        if (kcp.metadata.deletionTimestamp) {
            for (const m of machines) this.deleteIfPresent(R.machines, ns, m.metadata.name);
            if (machines.length === 0) this.removeFinalizer(R.kcps, kcp, KCP_FINALIZER);
            return;
        }
        const owner = ownerOfKind(kcp, 'cluster.x-k8s.io', 'Cluster');
        if (!owner) return; // "Cluster Controller has not yet set OwnerRef"
        const cluster = this.store.peek(R.clusters, ns, owner.name);
        if (!cluster) return;
        if (!this.ensureFinalizer(R.kcps, kcp, KCP_FINALIZER)) return;
        if (cluster.status?.initialization?.infrastructureProvisioned !== true || !cluster.spec?.controlPlaneEndpoint?.host) return; // waiting for the infrastructure
        this.ensureCertificates(kcp, cluster);
        const template = resolveRef(this.store, ns, kcp.spec?.machineTemplate?.spec?.infrastructureRef);
        const replicas = kcp.spec?.replicas ?? 1;
        const initialized = kcp.status?.initialization?.controlPlaneInitialized === true || machines.some((m) => !!m.status?.nodeRef?.name);
        if (template?.obj && machines.length < replicas && (machines.length === 0 || initialized)) {
            if (!this.elapsed(ns, name, `scaleUp:${machines.length}`, this.delayMs)) return;
            this.createMachine(kcp, cluster, template.obj, template.resource);
            return;
        }
        if (machines.length > replicas) {
            const newest = [...machines].sort((a, b) => (a.metadata.creationTimestamp < b.metadata.creationTimestamp ? 1 : -1))[0];
            this.deleteIfPresent(R.machines, ns, newest.metadata.name);
        }
        const ready = machines.filter((m) => !!m.status?.nodeRef?.name && m.status?.phase === 'Running').length;
        const upToDate = machines.filter((m) => m.spec?.version === kcp.spec?.version).length;
        const available = initialized && ready > 0;
        const gen = kcp.metadata.generation;
        this.updateStatus(R.kcps, ns, name, (s) => {
            s.selector = `${CLUSTER_NAME_LABEL}=${cluster.metadata.name},${CONTROL_PLANE_LABEL}`;
            s.replicas = machines.length;
            s.readyReplicas = ready;
            s.availableReplicas = ready;
            s.upToDateReplicas = upToDate;
            if (upToDate === machines.length && machines.length > 0) s.version = kcp.spec?.version;
            s.observedGeneration = gen;
            s.initialization = { controlPlaneInitialized: initialized };
            setCondition(s, { type: 'CertificatesAvailable', status: 'True', reason: 'Available' }, gen);
            setCondition(
                s,
                template?.obj
                    ? { type: 'Available', status: available ? 'True' : 'False', reason: available ? 'Available' : 'NotAvailable' }
                    : { type: 'Available', status: 'False', reason: 'NotAvailable', message: `${kcp.spec?.machineTemplate?.spec?.infrastructureRef?.kind ?? 'infrastructure template'} ${JSON.stringify(kcp.spec?.machineTemplate?.spec?.infrastructureRef?.name ?? '')} not found` },
                gen,
            );
        });
    }

    private ensureCertificates(kcp: Readonly<KObj>, cluster: Readonly<KObj>): void {
        const ns = kcp.metadata.namespace;
        const c = cluster.metadata.name;
        const { key, cert } = sharedRsaCa();
        const b64 = (s: string) => Buffer.from(s).toString('base64');
        const mk = (name: string, data: Record<string, string>) => {
            if (this.store.peek(R.secrets, ns, name)) return;
            this.store.create(
                R.secrets,
                {
                    apiVersion: 'v1',
                    kind: 'Secret',
                    metadata: { name, namespace: ns, labels: { [CLUSTER_NAME_LABEL]: c }, ownerReferences: [ownerRef(kcp, true)] },
                    type: 'cluster.x-k8s.io/secret',
                    data,
                },
                { fieldManager: this.manager },
            );
        };
        for (const p of CERT_SECRETS) mk(`${c}-${p}`, { 'tls.crt': b64(cert), 'tls.key': b64(key) });
        const ep = cluster.spec.controlPlaneEndpoint;
        const kubeconfig = [
            'apiVersion: v1',
            'kind: Config',
            `clusters: [{name: ${c}, cluster: {server: "https://${ep.host}:${ep.port}", certificate-authority-data: ${b64(cert)}}}]`,
            `contexts: [{name: ${c}-admin@${c}, context: {cluster: ${c}, user: ${c}-admin}}]`,
            `current-context: ${c}-admin@${c}`,
            `users: [{name: ${c}-admin, user: {client-certificate-data: ${b64(cert)}, client-key-data: ${b64(key)}}}]`,
        ].join('\n');
        mk(`${c}-kubeconfig`, { value: b64(kubeconfig) });
    }

    private createMachine(kcp: Readonly<KObj>, cluster: Readonly<KObj>, template: Readonly<KObj>, templateResource: string): void {
        const ns = kcp.metadata.namespace;
        const name = `${kcp.metadata.name}-${randomSuffix()}`;
        const labels = { [CLUSTER_NAME_LABEL]: cluster.metadata.name, [CONTROL_PLANE_LABEL]: '', [CONTROL_PLANE_NAME_LABEL]: kcp.metadata.name };
        const infraRes = this.store.resource(templateResource);
        const infraKind = template.kind!.replace(/Template$/, '');
        const infraResource = this.store.registry.all().find((r) => r.group === infraRes.group && r.kind === infraKind);
        if (!infraResource) return;
        const own = [ownerRef(kcp, true)];
        this.store.create(
            infraResource.qualified,
            {
                apiVersion: infraResource.apiVersion,
                kind: infraKind,
                metadata: {
                    name,
                    namespace: ns,
                    labels,
                    annotations: { 'cluster.x-k8s.io/cloned-from-name': template.metadata.name, 'cluster.x-k8s.io/cloned-from-groupkind': `${template.kind}.${infraRes.group}` },
                    ownerReferences: own,
                },
                spec: JSON.parse(JSON.stringify(template.spec?.template?.spec ?? {})),
            },
            { fieldManager: this.manager },
        );
        const kc = kcp.spec?.kubeadmConfigSpec ?? {};
        this.store.create(
            R.kubeadmConfigs,
            { apiVersion: 'bootstrap.cluster.x-k8s.io/v1beta2', kind: 'KubeadmConfig', metadata: { name, namespace: ns, labels, ownerReferences: own }, spec: JSON.parse(JSON.stringify(kc)) },
            { fieldManager: this.manager },
        );
        this.store.create(
            R.machines,
            {
                apiVersion: 'cluster.x-k8s.io/v1beta2',
                kind: 'Machine',
                metadata: { name, namespace: ns, labels, ownerReferences: own },
                spec: {
                    clusterName: cluster.metadata.name,
                    version: kcp.spec?.version,
                    bootstrap: { configRef: { apiGroup: 'bootstrap.cluster.x-k8s.io', kind: 'KubeadmConfig', name } },
                    infrastructureRef: { apiGroup: infraRes.group, kind: infraKind, name },
                },
            },
            { fieldManager: this.manager },
        );
    }
}
