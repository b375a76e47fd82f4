// Defaults of every stack config key. Scalars are mirrored in Pulumi.yaml's
// `config:` block (a test keeps the two equal); objects are merged key by key.
import { ImagesConfig, PortsConfig } from "./types";

/** Scalar keys with their defaults; 0 means "derive from the other keys". */
export const SCALAR_DEFAULTS = {
    mode: "bmo",
    nodes: 10,
    conductors: 2,
    sushyContainers: 0,
    fakeIpaContainers: 0,
    hostsPerSushy: 100,
    batchSize: 50,
    maxBatchesInFlight: 1,
    waitTimeoutMinutes: 60,
    targetState: "available",
    clusters: 0,
    fakeApiServers: 0,
    bmoConcurrency: 0,
    provisioningLimit: 0,
    fakeIpaMinBootSeconds: 20,
    fakeIpaMaxBootSeconds: 30,
} as const;

// Release tags where upstream publishes them. fake-ipa, FKAS and the IPA
// downloader are published only from main (`main` or `main_<date>_<sha>` tags):
// pin a `main_<date>_<sha>` tag or a digest in the stack's `images` for a
// reproducible lab (`skopeo list-tags docker://quay.io/metal3-io/fake-ipa`).
export const DEFAULT_IMAGES: ImagesConfig = {
    registry: "docker.io/library/registry:2.8.3",
    ironic: "quay.io/metal3-io/ironic:v26.0.1",
    mariadb: "quay.io/metal3-io/mariadb:capm3-v1.9.0",
    sushyTools: "quay.io/metal3-io/sushy-tools:v26.0.1",
    fakeIpa: "quay.io/metal3-io/fake-ipa:main",
    bmo: "quay.io/metal3-io/baremetal-operator:v0.9.0",
    fkas: "quay.io/metal3-io/metal3-fkas:main",
    ipaDownloader: "quay.io/metal3-io/ironic-ipa-downloader:main",
    certManagerController: "quay.io/jetstack/cert-manager-controller:v1.16.2",
    certManagerCainjector: "quay.io/jetstack/cert-manager-cainjector:v1.16.2",
    certManagerWebhook: "quay.io/jetstack/cert-manager-webhook:v1.16.2",
    capiController: "registry.k8s.io/cluster-api/cluster-api-controller:v1.9.4",
    kubeadmBootstrapController: "registry.k8s.io/cluster-api/kubeadm-bootstrap-controller:v1.9.4",
    kubeadmControlPlaneController: "registry.k8s.io/cluster-api/kubeadm-control-plane-controller:v1.9.4",
    capm3Controller: "quay.io/metal3-io/cluster-api-provider-metal3:v1.9.0",
    ipamController: "quay.io/metal3-io/ip-address-manager:v1.9.0",
};

export const DEFAULT_PORTS: PortsConfig = {
    registry: 5000,
    ironicApi: 6385,
    ironicJsonRpc: 6189,
    httpd: 6180,
    inspector: 5050,
    sushyBase: 8000,
    fakeIpaBase: 9900,
    fkas: 3333,
};

export const DEFAULT_NETWORK = {
    provisioningCidr: "172.22.0.0/24",
    provisioningHostIp: "172.22.0.1",
    baremetalCidr: "192.168.111.0/24",
    baremetalHostIp: "192.168.111.1",
    conductorIpOffset: 2,
    dhcpRange: "172.22.0.100,172.22.0.200",
    provisioningInterface: "eth2",
};

export const DEFAULT_MANAGEMENT_CLUSTER = {
    kind: "minikube",
    cpus: 4,
    memoryMb: 8192,
    diskGb: 50,
    kubernetesVersion: "v1.31.4",
};

export const DEFAULT_IRONIC = {
    inspector: false,
    apiWorkers: 2,
    apiVersion: "1.81",
};

export const NAMESPACES = {
    ironic: "ironic",
    bmo: "baremetal-operator-system",
    hosts: "metal3",
    fkas: "fkas-system",
} as const;

/** Host names carry a 5-digit index, so a lab has at most this many hosts. */
export const MAX_NODES = 99_999;
