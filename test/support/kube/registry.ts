/** The resources the Kubernetes API test server serves (built-in and custom). */
import type { Schema } from './schema';
import { BARE_METAL_HOST_SCHEMA } from './schemaBmh';
import {
    CLUSTER_SCHEMA,
    KUBEADM_CONFIG_TEMPLATE_SCHEMA,
    KUBEADM_CONTROL_PLANE_SCHEMA,
    MACHINE_DEPLOYMENT_SCHEMA,
    MACHINE_SCHEMA,
    METAL3_DATA_TEMPLATE_SCHEMA,
    METAL3_MACHINE_TEMPLATE_SCHEMA,
} from './schemaCapi';

export type ListType = { type: 'set' } | { type: 'map'; key: string };

export interface ResourceDefinition {
    group: string;
    version: string;
    plural: string;
    kind: string;
    singular?: string;
    /** default true */
    namespaced?: boolean;
    /** default: true for non-core groups, false for core */
    statusSubresource?: boolean;
    shortNames?: string[];
    /** whether metadata.generation is maintained; default true for non-core */
    generation?: boolean;
    /** extra field selectors besides metadata.name / metadata.namespace */
    fieldSelectors?: string[];
    /** SSA list semantics by dotted path, e.g. { 'spec.items': { type: 'map', key: 'name' } } */
    listTypes?: Record<string, ListType>;
    /** built-in (core/apps...) vs custom resource: affects list item kind/apiVersion */
    builtin?: boolean;
    /** structural schema (a CRD's openAPIV3Schema): writes are pruned, defaulted and validated against it; none = anything goes */
    schema?: Schema;
}

export interface ResourceInfo extends Required<Omit<ResourceDefinition, 'listTypes' | 'schema'>> {
    listTypes: Record<string, ListType>;
    schema?: Schema;
    /** `${group}/${plural}` */
    key: string;
    apiVersion: string;
    listKind: string;
    /** e.g. `baremetalhosts.metal3.io` or `secrets` */
    qualified: string;
    /** e.g. `BareMetalHost.metal3.io` or `Secret` */
    qualifiedKind: string;
}

/** How callers of the in-process store name a resource. */
export type ResourceRef = string | { group: string; plural: string } | ResourceInfo;

const DEFAULT_LIST_TYPES: Record<string, ListType> = {
    'metadata.finalizers': { type: 'set' },
    'metadata.ownerReferences': { type: 'map', key: 'uid' },
};

const BUILTIN_RESOURCES: ResourceDefinition[] = [
    { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, statusSubresource: true, shortNames: ['ns'], fieldSelectors: ['status.phase'] },
    { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', fieldSelectors: ['type'] },
    { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', shortNames: ['cm'] },
    { group: '', version: 'v1', plural: 'services', kind: 'Service', statusSubresource: true, shortNames: ['svc'] },
    { group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', shortNames: ['sa'] },
    { group: '', version: 'v1', plural: 'pods', kind: 'Pod', statusSubresource: true, generation: true, shortNames: ['po'], fieldSelectors: ['spec.nodeName', 'status.phase'] },
    { group: '', version: 'v1', plural: 'events', kind: 'Event', shortNames: ['ev'] },
    { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, statusSubresource: true, shortNames: ['no'] },
    { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', statusSubresource: true, shortNames: ['deploy'], builtin: true },
    { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', statusSubresource: false, generation: false, builtin: true },
    { group: 'metal3.io', version: 'v1alpha1', plural: 'baremetalhosts', kind: 'BareMetalHost', shortNames: ['bmh', 'bmhost'], schema: BARE_METAL_HOST_SCHEMA },
    { group: 'metal3.io', version: 'v1alpha1', plural: 'hardwaredata', kind: 'HardwareData', singular: 'hardwaredata', statusSubresource: false, shortNames: ['hd'] },
    { group: 'metal3.io', version: 'v1alpha1', plural: 'bmceventsubscriptions', kind: 'BMCEventSubscription', shortNames: ['bes', 'bmcevent'] },
    { group: 'metal3.io', version: 'v1alpha1', plural: 'firmwareschemas', kind: 'FirmwareSchema', statusSubresource: false },
    { group: 'metal3.io', version: 'v1alpha1', plural: 'hostfirmwaresettings', kind: 'HostFirmwareSettings', singular: 'hostfirmwaresettings', shortNames: ['hfs'] },
    { group: 'metal3.io', version: 'v1alpha1', plural: 'hostfirmwarecomponents', kind: 'HostFirmwareComponents', singular: 'hostfirmwarecomponents' },
    { group: 'metal3.io', version: 'v1alpha1', plural: 'preprovisioningimages', kind: 'PreprovisioningImage', shortNames: ['ppimg'] },
    { group: 'metal3.io', version: 'v1alpha1', plural: 'dataimages', kind: 'DataImage' },
    // Cluster API and CAPM3 serve v1beta1 and v1beta2 and store v1beta2; only the storage version is
    // served here (no conversion), so a client on the deprecated v1beta1 gets 404, not silently v1beta2.
    // kubernetes-sigs/cluster-api@v1.13.5:config/crd/bases/cluster.x-k8s.io_{clusters,machines,machinedeployments,machinesets}.yaml
    { group: 'cluster.x-k8s.io', version: 'v1beta2', plural: 'clusters', kind: 'Cluster', shortNames: ['cl'], schema: CLUSTER_SCHEMA },
    { group: 'cluster.x-k8s.io', version: 'v1beta2', plural: 'machines', kind: 'Machine', shortNames: ['ma'], schema: MACHINE_SCHEMA },
    { group: 'cluster.x-k8s.io', version: 'v1beta2', plural: 'machinedeployments', kind: 'MachineDeployment', shortNames: ['md'], schema: MACHINE_DEPLOYMENT_SCHEMA },
    { group: 'cluster.x-k8s.io', version: 'v1beta2', plural: 'machinesets', kind: 'MachineSet', shortNames: ['ms'] },
    // kubernetes-sigs/cluster-api@v1.13.5:controlplane/kubeadm/config/crd/bases/controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml
    { group: 'controlplane.cluster.x-k8s.io', version: 'v1beta2', plural: 'kubeadmcontrolplanes', kind: 'KubeadmControlPlane', shortNames: ['kcp'], schema: KUBEADM_CONTROL_PLANE_SCHEMA },
    // kubernetes-sigs/cluster-api@v1.13.5:bootstrap/kubeadm/config/crd/bases/bootstrap.cluster.x-k8s.io_kubeadmconfig{s,templates}.yaml
    { group: 'bootstrap.cluster.x-k8s.io', version: 'v1beta2', plural: 'kubeadmconfigs', kind: 'KubeadmConfig' },
    { group: 'bootstrap.cluster.x-k8s.io', version: 'v1beta2', plural: 'kubeadmconfigtemplates', kind: 'KubeadmConfigTemplate', statusSubresource: false, schema: KUBEADM_CONFIG_TEMPLATE_SCHEMA },
    // metal3-io/cluster-api-provider-metal3@v1.13.2:config/crd/bases/infrastructure.cluster.x-k8s.io_*.yaml
    { group: 'infrastructure.cluster.x-k8s.io', version: 'v1beta2', plural: 'metal3clusters', kind: 'Metal3Cluster', shortNames: ['m3c', 'm3cluster', 'm3clusters'] },
    { group: 'infrastructure.cluster.x-k8s.io', version: 'v1beta2', plural: 'metal3machines', kind: 'Metal3Machine', shortNames: ['m3m', 'm3machine', 'm3machines'] },
    { group: 'infrastructure.cluster.x-k8s.io', version: 'v1beta2', plural: 'metal3machinetemplates', kind: 'Metal3MachineTemplate', statusSubresource: false, shortNames: ['m3mt', 'm3machinetemplate', 'm3machinetemplates'], schema: METAL3_MACHINE_TEMPLATE_SCHEMA },
    { group: 'infrastructure.cluster.x-k8s.io', version: 'v1beta2', plural: 'metal3datatemplates', kind: 'Metal3DataTemplate', shortNames: ['m3dt', 'm3datatemplate', 'm3datatemplates'], schema: METAL3_DATA_TEMPLATE_SCHEMA },
    { group: 'infrastructure.cluster.x-k8s.io', version: 'v1beta2', plural: 'metal3datas', kind: 'Metal3Data', singular: 'metal3data', shortNames: ['m3d', 'm3data'] },
    { group: 'infrastructure.cluster.x-k8s.io', version: 'v1beta2', plural: 'metal3dataclaims', kind: 'Metal3DataClaim', shortNames: ['m3dc', 'm3dataclaim', 'm3dataclaims'] },
];

export function completeResource(def: ResourceDefinition): ResourceInfo {
    const core = def.group === '';
    const builtin = def.builtin ?? core;
    return {
        group: def.group,
        version: def.version,
        plural: def.plural,
        kind: def.kind,
        singular: def.singular ?? def.kind.toLowerCase(),
        namespaced: def.namespaced ?? true,
        statusSubresource: def.statusSubresource ?? !core,
        shortNames: def.shortNames ?? [],
        generation: def.generation ?? !builtin,
        fieldSelectors: def.fieldSelectors ?? [],
        listTypes: { ...DEFAULT_LIST_TYPES, ...(def.listTypes ?? {}) },
        builtin,
        ...(def.schema ? { schema: def.schema } : {}),
        key: `${def.group}/${def.plural}`,
        apiVersion: core ? def.version : `${def.group}/${def.version}`,
        listKind: `${def.kind}List`,
        qualified: core ? def.plural : `${def.plural}.${def.group}`,
        qualifiedKind: core ? def.kind : `${def.kind}.${def.group}`,
    };
}

export class ResourceRegistry {
    private readonly byKey = new Map<string, ResourceInfo>();

    /**
     * `crdGroups`: the API groups whose CRDs are installed (e.g. ['metal3.io'] for a BMO-only cluster);
     * the custom resources of other groups are then not served (404). Default: all of them.
     */
    constructor(defs: ResourceDefinition[] = [], crdGroups?: readonly string[]) {
        const installed = (d: ResourceDefinition) => d.group === '' || d.builtin || !crdGroups || crdGroups.includes(d.group);
        for (const d of [...BUILTIN_RESOURCES.filter(installed), ...defs]) this.register(d);
    }

    register(def: ResourceDefinition): ResourceInfo {
        const info = completeResource(def);
        this.byKey.set(info.key, info);
        return info;
    }

    all(): ResourceInfo[] {
        return [...this.byKey.values()];
    }

    /** Whether group/plural is registered at any version. */
    has(group: string, plural: string): boolean {
        return this.byKey.has(`${group}/${plural}`);
    }

    lookup(group: string, version: string, plural: string): ResourceInfo | undefined {
        const r = this.byKey.get(`${group}/${plural}`);
        return r && r.version === version ? r : undefined;
    }

    resolve(ref: ResourceRef): ResourceInfo {
        if (typeof ref !== 'string') {
            if ('key' in ref && this.byKey.get(ref.key) === ref) return ref;
            const r = this.byKey.get(`${ref.group}/${ref.plural}`);
            if (!r) throw new Error(`unknown resource ${ref.plural}.${ref.group}`);
            return r;
        }
        const direct = this.byKey.get(`/${ref}`);
        if (direct) return direct;
        for (const r of this.byKey.values()) {
            if (r.qualified === ref || r.kind === ref || r.qualifiedKind === ref || r.plural === ref || r.shortNames.includes(ref)) return r;
        }
        throw new Error(`unknown resource ${ref}`);
    }

    groups(): Map<string, ResourceInfo[]> {
        const m = new Map<string, ResourceInfo[]>();
        for (const r of this.byKey.values()) {
            if (r.group === '') continue;
            const k = `${r.group}/${r.version}`;
            if (!m.has(k)) m.set(k, []);
            m.get(k)!.push(r);
        }
        return m;
    }
}
