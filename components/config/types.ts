// The lab's configuration as the rest of the program sees it: one typed,
// frozen object produced by `loadLabConfig` (./load.ts) from stack config.

export const MODES = ["ironic", "bmo", "capi"] as const;
/** ironic: Ironic only, hosts enrolled directly; bmo: Ironic + BMO, hosts reach
 * `available`; capi: bmo plus CAPI/CAPM3 and 1-node workload clusters on FKAS. */
export type Mode = (typeof MODES)[number];

export const MANAGEMENT_CLUSTER_KINDS = ["minikube", "existing"] as const;
export type ManagementClusterKind = (typeof MANAGEMENT_CLUSTER_KINDS)[number];

/** A node of an existing cluster one conductor runs on (host network, the node's own address). */
export interface ConductorNode {
    /** The node's `kubernetes.io/hostname` label. */
    readonly name: string;
    /** IPv4 address the node carries: the conductor's API, JSON-RPC and certificate address. */
    readonly address: string;
}

export interface ManagementClusterConfig {
    readonly kind: ManagementClusterKind;
    /** existing: conductor i runs on conductorNodes[i] (at least `conductors` of them); minikube: empty. */
    readonly conductorNodes: readonly ConductorNode[];
    /** existing: the kubeconfig to use; minikube: where minikube writes its context. */
    readonly kubeconfig?: string;
    /** kubeconfig context; minikube uses its profile name. */
    readonly context?: string;
    /** minikube profile (VM) name, derived from the stack name by default. */
    readonly profile: string;
    readonly cpus: number;
    readonly memoryMb: number;
    readonly diskGb: number;
    readonly kubernetesVersion: string;
}

export interface NetworkConfig {
    /** libvirt `provisioning` network (bridge), carries Ironic's conductor IPs. */
    readonly provisioningCidr: string;
    /** The lab host's address on the provisioning bridge (registry, httpd for images). */
    readonly provisioningHostIp: string;
    /** libvirt `baremetal` network (NAT). */
    readonly baremetalCidr: string;
    /** The lab host's address on the baremetal network: where sushy-tools and fake-ipa listen. */
    readonly baremetalHostIp: string;
    /** First host number (inside provisioningCidr) handed to conductors; one IP each. */
    readonly conductorIpOffset: number;
    /** dnsmasq's DHCP range on the provisioning network, as "first,last". */
    readonly dhcpRange: string;
    /** Interface of the minikube VM attached to the provisioning network. */
    readonly provisioningInterface: string;
    /**
     * Conductor IPs (derived; one per conductor, stable by index): allocated from
     * provisioningCidr on minikube, the conductorNodes' addresses on an existing cluster.
     */
    readonly conductorIps: readonly string[];
}

export interface PortsConfig {
    readonly registry: number;
    readonly ironicApi: number;
    readonly ironicJsonRpc: number;
    readonly httpd: number;
    /** The lab host's HTTP server for cached IPA kernel/ramdisk (and node images). */
    readonly imageCache: number;
    /** sushy-tools container i listens on sushyBase + i. */
    readonly sushyBase: number;
    /** fake-ipa container j listens on fakeIpaBase + j. */
    readonly fakeIpaBase: number;
    readonly fkas: number;
}

/** Every upstream image, pinned to a tag or digest (never `latest`). */
export interface ImagesConfig {
    readonly registry: string;
    readonly ironic: string;
    readonly mariadb: string;
    readonly sushyTools: string;
    readonly fakeIpa: string;
    readonly bmo: string;
    readonly fkas: string;
    readonly ipaDownloader: string;
    readonly certManagerController: string;
    readonly certManagerCainjector: string;
    readonly certManagerWebhook: string;
    readonly capiController: string;
    readonly kubeadmBootstrapController: string;
    readonly kubeadmControlPlaneController: string;
    readonly capm3Controller: string;
    readonly ipamController: string;
}
export type ImageName = keyof ImagesConfig;

export interface DockerHostConfig {
    /** Short name used in resource names ("local", "rack2", ...). */
    readonly name: string;
    /** Docker daemon URL: unix:///var/run/docker.sock, ssh://user@host, tcp://host:2376. */
    readonly url: string;
    /**
     * Address Ironic and the management cluster use to reach containers on this
     * host. With remote docker hosts (or an existing cluster) every entry's address
     * is one the other machines route to; the lab host's also carries the Ironic
     * API proxy remote fleets call.
     */
    readonly address: string;
}

export interface IronicConfig {
    /** API worker processes per conductor pod (ironic-image NUMWORKERS). */
    readonly apiWorkers: number;
    /** Ironic API microversion the lab's clients speak. */
    readonly apiVersion: string;
}

export interface BmoConfig {
    /** BMO_CONCURRENCY: hosts BMO reconciles at once. */
    readonly concurrency: number;
    /** PROVISIONING_LIMIT: hosts BMO lets be in provisioning/inspection at once. */
    readonly provisioningLimit: number;
}

export interface FakeIpaTiming {
    /** FAKE_IPA_MIN_BOOT_TIME / FAKE_IPA_MAX_BOOT_TIME in seconds. */
    readonly minBootSeconds: number;
    readonly maxBootSeconds: number;
}

/** Kubernetes namespaces the lab uses (fixed: BMO's overlay and the study use them). */
export interface Namespaces {
    readonly ironic: string;
    readonly bmo: string;
    readonly hosts: string;
    readonly fkas: string;
}

export interface LabConfig {
    readonly project: string;
    readonly stack: string;
    /** DNS-1123 label derived from the stack name, prefix of host and object names. */
    readonly slug: string;
    readonly mode: Mode;
    readonly nodes: number;
    readonly conductors: number;
    readonly sushyContainers: number;
    readonly fakeIpaContainers: number;
    /** Most hosts one sushy-tools container may serve (the study found ~100). */
    readonly hostsPerSushy: number;
    /**
     * Containers each block of sushyStripe x hostsPerSushy consecutive hosts is
     * striped over (components/inventory/inventory.ts): sushyContainers when that
     * is set (one block), else SUSHY_STRIPE. It never follows `nodes`.
     */
    readonly sushyStripe: number;
    readonly batchSize: number;
    readonly maxBatchesInFlight: number;
    readonly waitTimeoutMinutes: number;
    /** Target state of enrolled hosts: `available` (provide) or `manageable`. */
    readonly targetState: "available" | "manageable";
    /** Inspect hosts on the way to the target state (agent inspection: fake-ipa posts the inventory). */
    readonly inspectHosts: boolean;
    readonly clusters: number;
    /** FKAS instances: 1 in capi mode (one serves every workload cluster, as upstream runs it), else 0. */
    readonly fakeApiServers: number;
    /** Worker machines per workload cluster (a MachineDeployment), besides its one control-plane machine. */
    readonly workersPerCluster: number;
    /** Kubernetes version of the workload clusters (KubeadmControlPlane, MachineDeployment). */
    readonly workloadKubernetesVersion: string;
    readonly managementCluster: ManagementClusterConfig;
    readonly network: NetworkConfig;
    readonly ports: PortsConfig;
    readonly images: ImagesConfig;
    readonly dockerHosts: readonly DockerHostConfig[];
    readonly ironic: IronicConfig;
    readonly bmo: BmoConfig;
    readonly fakeIpa: FakeIpaTiming;
    readonly namespaces: Namespaces;
}
