/**
 * Simulated CAPM3 Metal3Machine controller, after metal3-io/cluster-api-provider-metal3@v1.13.2
 * controllers/metal3machine_controller.go and baremetal/metal3machine_manager.go (types:
 * api/v1beta2/metal3machine_types.go):
 * - waits for its owner Machine (WaitingForMetal3MachineOwnerRef), the Cluster's
 *   status.initialization.infrastructureProvisioned, and the Machine's spec.bootstrap.dataSecretName
 *   (status.userData = that Secret); finalizer `metal3machine.infrastructure.cluster.x-k8s.io`;
 * - spec.dataTemplate names a Metal3DataTemplate that must exist (Metal3DataReady waits otherwise);
 *   status.renderedData = <template>-<index> (the Metal3DataClaim/Metal3Data objects and their
 *   metaData/networkData Secrets are not created);
 * - chooseHost: BMHs of the Metal3Machine's namespace matching spec.hostSelector (matchLabels +
 *   matchExpressions); one already consumed by this Metal3Machine wins; otherwise `available`/`ready`
 *   hosts without consumerRef, deletionTimestamp, errorMessage, paused or capm3.metal3.io/unhealthy
 *   annotation; a random one is picked. None: AssociateBareMetalHost False, waiting for BMH changes;
 * - Associate + setHostSpec: host label cluster-name, spec.consumerRef {apiVersion, kind, name,
 *   namespace}, the Metal3Machine as controller owner, spec.image {url, checksum, checksumType
 *   (when set), format (v1beta2 diskFormat)} (metal3machine_manager.go:1165-1175), spec.userData, spec.online true; annotation metal3.io/BareMetalHost=<ns>/<host>;
 *   spec.image.url empty (and no customDeploy.method) is an error, nothing is associated;
 * - once the host is `provisioned`: SetProviderIDFromNodeLabel — the workload Node labelled
 *   metal3.io/uuid=<BMH uid> (created by FKAS's /updateNode) gets spec.providerID
 *   metal3://<ns>/<host>/<m3m> (also set on the Metal3Machine), then status.initialization.provisioned
 *   and conditions Ready/AssociateBareMetalHost True; no such Node yet: re-queued;
 * - delete: host image/userData removed and online false, wait for the host to leave
 *   provisioning/provisioned/deprovisioning, then consumerRef, owner reference and cluster-name label
 *   removed, then the finalizer.
 */
import { SimController, ControllerContext, R, CLUSTER_NAME_LABEL, ownerOfKind, ownerRef, setCondition } from './controller';
import type { KObj } from '../kube/objects';
import { LabelSelector } from '../kube/selectors';
import type { FkasDouble } from '../fkasDouble';

export const METAL3_MACHINE_FINALIZER = 'metal3machine.infrastructure.cluster.x-k8s.io';
export const HOST_ANNOTATION = 'metal3.io/BareMetalHost';
const PAUSED_ANNOTATION = 'baremetalhost.metal3.io/paused';
const UNHEALTHY_ANNOTATION = 'capm3.metal3.io/unhealthy';
const WAITING_STATES = new Set(['preparing', 'provisioning', 'provisioned', 'deprovisioning', 'powering off before delete', 'deleting']);

export class Metal3MachineController extends SimController {
    private readonly dataIndex = new Map<string, number>();

    constructor(ctx: ControllerContext, private readonly fkas: FkasDouble, private readonly delayMs: number) {
        super(ctx, R.metal3Machines, 'capm3-controller-manager');
    }

    protected watches(): void {
        // BareMetalHost changes: the consumer, or (for a free host) every waiting Metal3Machine of the namespace
        this.watch(R.bmh, (ev) => {
            const consumers = [ev.object, ev.previous].map((o) => o?.spec?.consumerRef).filter((c) => c?.kind === 'Metal3Machine');
            if (consumers.length > 0) return consumers.map((c) => `${c.namespace ?? ev.namespace}/${c.name}`);
            return this.store
                .peekList(R.metal3Machines, { namespace: ev.namespace })
                .filter((m) => !m.metadata.annotations?.[HOST_ANNOTATION])
                .map((m) => `${ev.namespace}/${m.metadata.name}`);
        });
        this.watch(R.machines, (ev) => this.store.peekList(R.metal3Machines, { namespace: ev.namespace }).filter((m) => ownerOfKind(m, 'cluster.x-k8s.io', 'Machine')?.name === ev.name).map((m) => `${ev.namespace}/${m.metadata.name}`));
        this.watch(R.metal3DataTemplates, (ev) => this.store.peekList(R.metal3Machines, { namespace: ev.namespace }).filter((m) => m.spec?.dataTemplate?.name === ev.name).map((m) => `${ev.namespace}/${m.metadata.name}`));
    }

    /** A workload cluster's nodes changed (FKAS). */
    nodesChanged(namespace: string, cluster: string): void {
        for (const m of this.store.peekList(R.metal3Machines, { namespace, labelSelector: `${CLUSTER_NAME_LABEL}=${cluster}` })) this.enqueue(namespace, m.metadata.name);
    }

    protected reconcile(ns: string, name: string): void {
        const m3m = this.store.peek(R.metal3Machines, ns, name);
        if (!m3m) return this.forgetGates(ns, name);
        if (m3m.metadata.deletionTimestamp) return this.reconcileDelete(m3m);
        const owner = ownerOfKind(m3m, 'cluster.x-k8s.io', 'Machine');
        if (!owner) return this.condition(m3m, 'AssociateBareMetalHost', 'False', 'WaitingForMetal3MachineOwnerRef');
        const machine = this.store.peek(R.machines, ns, owner.name);
        if (!machine) return;
        const cluster = this.store.peek(R.clusters, ns, machine.spec?.clusterName ?? '');
        if (!this.ensureFinalizer(R.metal3Machines, m3m, METAL3_MACHINE_FINALIZER)) return;
        if (cluster?.status?.initialization?.infrastructureProvisioned !== true) return this.condition(m3m, 'AssociateBareMetalHost', 'False', 'WaitingForClusterInfrastructureReady');
        const dataSecretName = machine.spec?.bootstrap?.dataSecretName;
        if (!dataSecretName) return this.condition(m3m, 'AssociateBareMetalHost', 'False', 'WaitingForBootstrapData', 'Waiting for bootstrap data to be ready before proceeding');
        if (!m3m.status?.userData) {
            this.updateStatus(R.metal3Machines, ns, name, (s) => (s.userData = { name: dataSecretName, namespace: ns }));
            return;
        }
        if (!m3m.spec?.image?.url && !m3m.spec?.customDeploy?.method) {
            return this.condition(m3m, 'AssociateBareMetalHost', 'False', 'AssociateBareMetalHostFailed', `Metal3Machine ${name} has neither Image.URL nor CustomDeploy.Method configured`);
        }
        if (m3m.spec?.dataTemplate) {
            const tpl = this.store.peek(R.metal3DataTemplates, ns, m3m.spec.dataTemplate.name ?? '');
            if (!tpl) return this.condition(m3m, 'Metal3DataReady', 'False', 'WaitingForMetal3Data');
            if (!m3m.status?.renderedData) {
                const key = `${ns}/${tpl.metadata.name}`;
                const index = this.dataIndex.get(key) ?? 0;
                this.dataIndex.set(key, index + 1);
                this.updateStatus(R.metal3Machines, ns, name, (s) => {
                    s.renderedData = { name: `${tpl.metadata.name}-${index}` };
                    setCondition(s, { type: 'Metal3DataReady', status: 'True', reason: 'Metal3DataSecretsReady' }, m3m.metadata.generation);
                });
                return;
            }
        }
        const host = this.associatedHost(m3m) ?? this.chooseHost(m3m);
        if (!host) return this.condition(m3m, 'AssociateBareMetalHost', 'False', 'AssociateBareMetalHostFailed', 'no available host found. Requeuing');
        if (!this.associated(host, m3m)) {
            if (!this.elapsed(ns, name, `associate:${host.metadata.name}`, this.delayMs)) return;
            this.associate(host, m3m, machine);
            return;
        }
        if (m3m.metadata.annotations?.[HOST_ANNOTATION] !== `${ns}/${host.metadata.name}`) {
            this.update(R.metal3Machines, ns, name, (o) => (o.metadata.annotations = { ...(o.metadata.annotations ?? {}), [HOST_ANNOTATION]: `${ns}/${host.metadata.name}` }));
            return;
        }
        if (m3m.metadata.labels?.[CLUSTER_NAME_LABEL] !== machine.spec.clusterName) {
            this.update(R.metal3Machines, ns, name, (o) => (o.metadata.labels = { ...(o.metadata.labels ?? {}), [CLUSTER_NAME_LABEL]: machine.spec.clusterName }));
            return;
        }
        if (host.status?.provisioning?.state !== 'provisioned') return this.condition(m3m, 'AssociateBareMetalHost', 'True', 'AssociateBareMetalHostSuccess');
        if (m3m.status?.initialization?.provisioned === true && m3m.spec?.providerID) return;
        // SetProviderIDFromNodeLabel through the workload cluster (FKAS)
        const providerID = `metal3://${ns}/${host.metadata.name}/${name}`;
        const nodes = this.fkas.nodesWithLabel(ns, machine.spec.clusterName, 'metal3.io/uuid', host.metadata.uid);
        if (!nodes || nodes.length === 0) return this.requeue(ns, name); // "requeuing, could not find node with label"
        const node = nodes[0];
        if (node.spec?.providerID && node.spec.providerID !== providerID) return this.condition(m3m, 'Ready', 'False', 'InternalError', 'node using unsupported providerID format');
        if (!node.spec?.providerID && !this.fkas.setNodeProviderID(ns, machine.spec.clusterName, node.metadata.name, providerID)) return this.requeue(ns, name);
        if (m3m.spec?.providerID !== providerID) {
            this.update(R.metal3Machines, ns, name, (o) => (o.spec = { ...o.spec, providerID }));
            return;
        }
        const gen = m3m.metadata.generation;
        const nics: any[] = host.status?.hardware?.nics ?? [];
        this.updateStatus(R.metal3Machines, ns, name, (s) => {
            s.initialization = { provisioned: true };
            s.addresses = [...nics.filter((n) => n.ip).map((n) => ({ type: 'InternalIP', address: n.ip })), { type: 'Hostname', address: host.metadata.name }, { type: 'InternalDNS', address: host.metadata.name }];
            s.lastUpdated = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
            setCondition(s, { type: 'AssociateBareMetalHost', status: 'True', reason: 'AssociateBareMetalHostSuccess' }, gen);
            setCondition(s, { type: 'Ready', status: 'True', reason: 'Ready' }, gen);
        });
    }

    private condition(m3m: Readonly<KObj>, type: string, status: 'True' | 'False', reason: string, message?: string): void {
        const cur = (m3m.status?.conditions ?? []).find((c: any) => c.type === type);
        if (cur && cur.status === status && cur.reason === reason && (cur.message ?? undefined) === message) return;
        this.updateStatus(R.metal3Machines, m3m.metadata.namespace, m3m.metadata.name, (s) => setCondition(s, { type, status, reason, message }, m3m.metadata.generation));
    }

    private consumes(host: Readonly<KObj>, m3m: Readonly<KObj>): boolean {
        const c = host.spec?.consumerRef;
        return !!c && c.kind === 'Metal3Machine' && c.name === m3m.metadata.name && c.namespace === m3m.metadata.namespace && String(c.apiVersion ?? '').split('/')[0] === 'infrastructure.cluster.x-k8s.io';
    }

    private associated(host: Readonly<KObj>, m3m: Readonly<KObj>): boolean {
        return this.consumes(host, m3m) && host.spec?.online === true && !!host.spec?.image?.url === !!m3m.spec?.image?.url;
    }

    /** getHost: the host named by the annotation, when it still points back at us. */
    private associatedHost(m3m: Readonly<KObj>): Readonly<KObj> | undefined {
        const ann: string | undefined = m3m.metadata.annotations?.[HOST_ANNOTATION];
        if (!ann) return undefined;
        const [hns, hname] = ann.split('/');
        const h = this.store.peek(R.bmh, hns, hname);
        return h && this.consumes(h, m3m) ? h : undefined;
    }

    private chooseHost(m3m: Readonly<KObj>): Readonly<KObj> | undefined {
        const sel = m3m.spec?.hostSelector ?? {};
        const parts: string[] = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
        for (const e of sel.matchExpressions ?? []) {
            const op = String(e.operator ?? '').toLowerCase();
            if (op === 'in' || op === 'notin') parts.push(`${e.key} ${op} (${(e.values ?? []).join(',')})`);
            else if (op === 'exists') parts.push(e.key);
            else if (op === 'doesnotexist' || op === '!') parts.push(`!${e.key}`);
            else if (op === '=' || op === '==' || op === '!=') parts.push(`${e.key}${op}${(e.values ?? [])[0] ?? ''}`);
            else return undefined; // labels.NewRequirement fails: no host chosen
        }
        let selector: LabelSelector;
        try {
            selector = LabelSelector.parse(parts.join(','));
        } catch {
            return undefined;
        }
        const hosts = this.store.peekList(R.bmh, { namespace: m3m.metadata.namespace, labelSelector: selector });
        const mine = hosts.find((h) => this.consumes(h, m3m));
        if (mine) return mine;
        const free = hosts.filter(
            (h) =>
                !h.spec?.consumerRef &&
                !h.metadata.deletionTimestamp &&
                !h.status?.errorMessage &&
                !(PAUSED_ANNOTATION in (h.metadata.annotations ?? {})) &&
                !(UNHEALTHY_ANNOTATION in (h.metadata.annotations ?? {})) &&
                ['available', 'ready'].includes(h.status?.provisioning?.state),
        );
        return free.length ? free[Math.floor(Math.random() * free.length)] : undefined;
    }

    private associate(host: Readonly<KObj>, m3m: Readonly<KObj>, machine: Readonly<KObj>): void {
        const img = m3m.spec?.image ?? {};
        this.update(R.bmh, host.metadata.namespace, host.metadata.name, (h) => {
            h.metadata.labels = { ...(h.metadata.labels ?? {}), [CLUSTER_NAME_LABEL]: machine.spec.clusterName };
            h.spec = h.spec ?? {};
            h.spec.consumerRef = { apiVersion: m3m.apiVersion, kind: 'Metal3Machine', name: m3m.metadata.name, namespace: m3m.metadata.namespace };
            h.metadata.ownerReferences = [...(h.metadata.ownerReferences ?? []).filter((r: any) => r.uid !== m3m.metadata.uid), ownerRef(m3m, true)];
            if (!h.spec.image && img.url) {
                h.spec.image = { url: img.url, checksum: img.checksum ?? '', ...(img.checksumType ? { checksumType: img.checksumType } : {}), ...(img.diskFormat ? { format: img.diskFormat } : {}) };
                h.spec.userData = { ...m3m.status.userData };
            }
            h.spec.online = true;
        });
    }

    private reconcileDelete(m3m: Readonly<KObj>): void {
        const ns = m3m.metadata.namespace;
        const host = this.associatedHost(m3m);
        if (host) {
            if (host.spec?.image || host.spec?.userData || host.spec?.online !== false) {
                this.update(R.bmh, host.metadata.namespace, host.metadata.name, (h) => {
                    delete h.spec.image;
                    delete h.spec.customDeploy;
                    delete h.spec.userData;
                    delete h.spec.metaData;
                    delete h.spec.networkData;
                    h.spec.online = false;
                });
                return;
            }
            if (WAITING_STATES.has(host.status?.provisioning?.state ?? '')) return; // "deprovisioning BareMetalHost, requeuing": BMH events re-queue us
            this.update(R.bmh, host.metadata.namespace, host.metadata.name, (h) => {
                delete h.spec.consumerRef;
                h.metadata.ownerReferences = (h.metadata.ownerReferences ?? []).filter((r: any) => r.uid !== m3m.metadata.uid);
                if (h.metadata.labels) delete h.metadata.labels[CLUSTER_NAME_LABEL];
            });
            return;
        }
        this.removeFinalizer(R.metal3Machines, m3m, METAL3_MACHINE_FINALIZER);
        this.forgetGates(ns, m3m.metadata.name);
    }
}
