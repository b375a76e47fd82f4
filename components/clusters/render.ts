// The objects of one workload cluster, as CAPM3 v1.13.2's clusterctl template
// (examples/clusterctl-templates/clusterctl-cluster.yaml) declares them (pure),
// with the Metal3 kinds at v1beta2: the version v1.13.2 stores, its v1beta1
// (which the template still names) being deprecated there.
// The API endpoint is the one FKAS handed out at registration; hosts are
// picked by name (hostSelector on the label every BareMetalHost carries), so
// cluster k always lands on the hosts reserved for it. `<cluster>-ca` and
// `<cluster>-etcd` are never rendered: KubeadmControlPlane makes them and FKAS
// reads them when its sidecar calls /updateNode.

/** One workload cluster and the hosts reserved for it. */
export interface ClusterSpec {
    /** Cluster name (DNS-1123 label: CAPI also puts it in a label value). */
    readonly name: string;
    /** BareMetalHost the control-plane Machine must land on. */
    readonly controlPlaneHost: string;
    /** BareMetalHosts of the workers (empty: no MachineDeployment). */
    readonly workerHosts: readonly string[];
}

/** The node image the Metal3MachineTemplates deploy (served by the lab over HTTP). */
export interface NodeImage {
    readonly url: string;
    /** The checksum itself or a URL to a checksum file (CAPM3 api/v1beta2/common_types.go Image.Checksum). */
    readonly checksum: string;
    readonly checksumType: "md5" | "sha256" | "sha512";
    readonly format: "raw" | "qcow2" | "vdi" | "vmdk";
}

/** What every cluster of a batch shares. */
export interface ClusterSettings {
    /** Namespace of the clusters: the hosts' (CAPM3 claims BareMetalHosts in the Metal3Machine's namespace). */
    readonly namespace: string;
    /** KubeadmControlPlane / MachineDeployment version. */
    readonly kubernetesVersion: string;
    readonly image: NodeImage;
    /** Labels on every object (the batch's), plus the cluster label added per cluster. */
    readonly labels: Record<string, string>;
    /** Label every BareMetalHost carries with its own name (BareMetalHostBatch's LABELS.host). */
    readonly hostLabel: string;
    /** Label every object of a cluster carries with the cluster's name. */
    readonly clusterLabel: string;
}

/** Where FKAS serves a cluster's API server (its /register answer). */
export interface Endpoint {
    readonly host: string;
    readonly port: number;
}

export interface ApiKind {
    readonly apiVersion: string;
    readonly kind: string;
    /** REST collection name. */
    readonly plural: string;
}

// Module-level values are captured by value into `__provider`: plain objects only.
// API versions of CAPI v1.13.5 and CAPM3 v1.13.2: v1beta2 throughout (their storage versions).
export const KINDS = {
    cluster: { apiVersion: "cluster.x-k8s.io/v1beta2", kind: "Cluster", plural: "clusters" },
    machine: { apiVersion: "cluster.x-k8s.io/v1beta2", kind: "Machine", plural: "machines" },
    machineDeployment: { apiVersion: "cluster.x-k8s.io/v1beta2", kind: "MachineDeployment", plural: "machinedeployments" },
    kubeadmControlPlane: { apiVersion: "controlplane.cluster.x-k8s.io/v1beta2", kind: "KubeadmControlPlane", plural: "kubeadmcontrolplanes" },
    kubeadmConfigTemplate: { apiVersion: "bootstrap.cluster.x-k8s.io/v1beta2", kind: "KubeadmConfigTemplate", plural: "kubeadmconfigtemplates" },
    metal3Cluster: { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta2", kind: "Metal3Cluster", plural: "metal3clusters" },
    metal3MachineTemplate: { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta2", kind: "Metal3MachineTemplate", plural: "metal3machinetemplates" },
    metal3DataTemplate: { apiVersion: "infrastructure.cluster.x-k8s.io/v1beta2", kind: "Metal3DataTemplate", plural: "metal3datatemplates" },
    bareMetalHost: { apiVersion: "metal3.io/v1alpha1", kind: "BareMetalHost", plural: "baremetalhosts" },
} as const;

/** CAPI's label with the cluster name on Machines (cluster.x-k8s.io/cluster-name). */
export const CLUSTER_NAME_LABEL = "cluster.x-k8s.io/cluster-name";

/** Collection path of a kind in a namespace. */
export function collectionPath(kind: ApiKind, namespace: string): string {
    const [group, version] = kind.apiVersion.includes("/") ? kind.apiVersion.split("/") : ["", kind.apiVersion];
    const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
    return `${base}/namespaces/${encodeURIComponent(namespace)}/${kind.plural}`;
}

/** Group of an apiVersion ("cluster.x-k8s.io/v1beta2" -> "cluster.x-k8s.io"): v1beta2 refs name the group only. */
export function apiGroup(kind: ApiKind): string {
    return kind.apiVersion.split("/")[0];
}

function ref(kind: ApiKind, name: string) {
    return { apiGroup: apiGroup(kind), kind: kind.kind, name };
}

export const names = {
    controlPlaneTemplate: (cluster: string) => `${cluster}-controlplane`,
    controlPlaneDataTemplate: (cluster: string) => `${cluster}-controlplane-template`,
    workersTemplate: (cluster: string) => `${cluster}-workers`,
    workersDataTemplate: (cluster: string) => `${cluster}-workers-template`,
};

export interface Manifest {
    readonly kind: ApiKind;
    readonly name: string;
    readonly body: Record<string, unknown>;
}

/** `node-labels` the template gives kubelet: the node carries its BareMetalHost's uuid (CAPM3 metadata). */
function nodeRegistration() {
    return {
        name: "{{ ds.meta_data.name }}",
        kubeletExtraArgs: [{ name: "node-labels", value: "metal3.io/uuid={{ ds.meta_data.uuid }}" }],
    };
}

function machineTemplateSpec(s: ClusterSettings, dataTemplate: string, hostSelector: Record<string, unknown>) {
    return {
        nodeReuse: false,
        template: {
            spec: {
                automatedCleaningMode: "metadata",
                dataTemplate: { name: dataTemplate },
                // v1beta2 renames v1beta1's image.format to diskFormat.
                image: { url: s.image.url, checksum: s.image.checksum, checksumType: s.image.checksumType, diskFormat: s.image.format },
                hostSelector,
            },
        },
    };
}

/**
 * Every object of one cluster, referenced objects first and the Cluster last
 * (controllers then never see a reference to something not yet there).
 */
export function clusterManifests(s: ClusterSettings, c: ClusterSpec, endpoint: Endpoint): Manifest[] {
    const labels = { ...s.labels, [s.clusterLabel]: c.name };
    const meta = (name: string, extra: Record<string, string> = {}) => ({ name, namespace: s.namespace, labels: { ...labels, ...extra } });
    const object = (kind: ApiKind, name: string, spec: Record<string, unknown>, extraLabels?: Record<string, string>): Manifest => ({
        kind,
        name,
        body: { apiVersion: kind.apiVersion, kind: kind.kind, metadata: meta(name, extraLabels), spec },
    });
    const out: Manifest[] = [
        object(KINDS.metal3DataTemplate, names.controlPlaneDataTemplate(c.name), { clusterName: c.name }),
        object(
            KINDS.metal3MachineTemplate,
            names.controlPlaneTemplate(c.name),
            machineTemplateSpec(s, names.controlPlaneDataTemplate(c.name), { matchLabels: { [s.hostLabel]: c.controlPlaneHost } }),
        ),
    ];
    const workers = c.workerHosts.length;
    if (workers > 0) {
        const pool = { [CLUSTER_NAME_LABEL]: c.name, nodepool: "nodepool-0" };
        out.push(
            object(KINDS.metal3DataTemplate, names.workersDataTemplate(c.name), { clusterName: c.name }),
            object(
                KINDS.metal3MachineTemplate,
                names.workersTemplate(c.name),
                // CAPM3 lower-cases the operator (baremetal/metal3machine_manager.go hostLabelSelectorForMachine).
                machineTemplateSpec(s, names.workersDataTemplate(c.name), { matchExpressions: [{ key: s.hostLabel, operator: "in", values: [...c.workerHosts] }] }),
            ),
            object(KINDS.kubeadmConfigTemplate, names.workersTemplate(c.name), {
                template: { spec: { joinConfiguration: { nodeRegistration: nodeRegistration() } } },
            }),
        );
        out.push(
            object(
                KINDS.machineDeployment,
                c.name,
                {
                    clusterName: c.name,
                    replicas: workers,
                    selector: { matchLabels: pool },
                    template: {
                        metadata: { labels: pool },
                        spec: {
                            deletion: { nodeDrainTimeoutSeconds: 0 },
                            clusterName: c.name,
                            version: s.kubernetesVersion,
                            bootstrap: { configRef: ref(KINDS.kubeadmConfigTemplate, names.workersTemplate(c.name)) },
                            infrastructureRef: ref(KINDS.metal3MachineTemplate, names.workersTemplate(c.name)),
                        },
                    },
                },
                pool,
            ),
        );
    }
    out.push(
        object(KINDS.metal3Cluster, c.name, { controlPlaneEndpoint: { host: endpoint.host, port: endpoint.port }, cloudProviderEnabled: false }),
        object(KINDS.kubeadmControlPlane, c.name, {
            machineTemplate: {
                spec: {
                    infrastructureRef: ref(KINDS.metal3MachineTemplate, names.controlPlaneTemplate(c.name)),
                    deletion: { nodeDrainTimeoutSeconds: 0 },
                },
            },
            replicas: 1,
            rollout: { strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1 } } },
            version: s.kubernetesVersion,
            kubeadmConfigSpec: {
                joinConfiguration: { controlPlane: {}, nodeRegistration: nodeRegistration() },
                initConfiguration: { nodeRegistration: nodeRegistration() },
            },
        }),
        object(KINDS.cluster, c.name, {
            clusterNetwork: {
                services: { cidrBlocks: ["10.96.0.0/12"] },
                pods: { cidrBlocks: ["192.168.0.0/18"] },
                serviceDomain: "cluster.local",
            },
            infrastructureRef: ref(KINDS.metal3Cluster, c.name),
            controlPlaneRef: ref(KINDS.kubeadmControlPlane, c.name),
        }),
    );
    return out;
}

/** Kinds a batch creates (with workers or not), in the order delete removes what is left after the Clusters. */
export function batchKinds(withWorkers: boolean): ApiKind[] {
    const kinds: ApiKind[] = [KINDS.cluster, KINDS.kubeadmControlPlane, KINDS.metal3Cluster];
    if (withWorkers) kinds.push(KINDS.machineDeployment, KINDS.kubeadmConfigTemplate);
    kinds.push(KINDS.metal3MachineTemplate, KINDS.metal3DataTemplate);
    return kinds;
}

/** Every host of a cluster, control plane first. */
export function clusterHosts(c: ClusterSpec): string[] {
    return [c.controlPlaneHost, ...c.workerHosts];
}
