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
    inspectHosts: true,
    clusters: 0,
    fakeApiServers: 0,
    workersPerCluster: 0,
    // The version CAPM3's scalability e2e deploys on FKAS (CAPM3 test/e2e/scalability_test.go: EnsureImage("v1.34.1")).
    workloadKubernetesVersion: "v1.34.1",
    bmoConcurrency: 0,
    provisioningLimit: 0,
    fakeIpaMinBootSeconds: 20,
    fakeIpaMaxBootSeconds: 30,
} as const;

// Upstream's newest stable set in which every part works together ("Set A" of
// shared/reference/versions.md, read at the upstream tags named below). Every
// image is immutable: release tags, and for the images upstream builds only
// from main (fake-ipa, ipa-downloader, FKAS) the dated `main_<date>_<sha>` tag
// its image workflow pushes with each build (project-infra
// .github/workflows/container-image-build.yml: `<branch>_<UTC date>_<sha>`).
export const DEFAULT_IMAGES: ImagesConfig = {
    registry: "docker.io/library/registry:2.8.3",
    // BMO@release-0.13:test/e2e/data/ironic-standalone-operator/ironic/overlays/e2e/ironic.yaml pairs BMO 0.13 with Ironic 35.0.
    ironic: "quay.io/metal3-io/ironic:v35.0.2",
    // The last mariadb-image tag; reads /auth/mariadb (mariadb-image@capm3-v1.11.0:runmariadb:5-8).
    mariadb: "quay.io/metal3-io/mariadb:capm3-v1.11.0",
    // Builds sushy-tools from git 3b57e7a (ironic-image@v38.0.0:resources/sushy-tools/Dockerfile:16), after
    // SUSHY_EMULATOR_NO_MEMOIZE (sushy-tools 428b213); v35's image still installs sushy-tools 2.2.0 without it.
    sushyTools: "quay.io/metal3-io/sushy-tools:v38.0.0",
    // The last utility-images main push (ff1d62ee, 2026-04-02).
    fakeIpa: "quay.io/metal3-io/fake-ipa:main_2026-04-02_ff1d62ee3d668bca4492deb10dcde652e06a8b1b",
    // BMO minor = CAPM3 minor - 1.0 (metal3-dev-env lib/common.sh:325-332: CAPM3 1.13 <-> BMO 0.13 <-> Ironic 35.0).
    bmo: "quay.io/metal3-io/baremetal-operator:v0.13.2",
    // The newest FKAS main build (CAPM3 ac63ce02, 2026-08-14); its reconciler reads Machines as v1beta2 (CAPI >= v1.11).
    fkas: "quay.io/metal3-io/metal3-fkas:main_2026-08-14_ac63ce02c5ea5d70624cd664293eedf498032da9",
    // The last ironic-ipa-downloader main push (854d640e, 2026-07-02).
    ipaDownloader: "quay.io/metal3-io/ironic-ipa-downloader:main_2026-07-02_854d640e528685276b0d19b3027d29154733b2f6",
    // clusterctl v1.13.5's own cert-manager (CAPI@v1.13.5:cmd/clusterctl/client/config/cert_manager_client.go:32).
    certManagerController: "quay.io/jetstack/cert-manager-controller:v1.21.1",
    certManagerCainjector: "quay.io/jetstack/cert-manager-cainjector:v1.21.1",
    certManagerWebhook: "quay.io/jetstack/cert-manager-webhook:v1.21.1",
    // CAPI minor = CAPM3 minor (metal3-dev-env lib/releases.sh:93-96; CAPM3@v1.13.2 go.mod requires CAPI v1.13.4).
    capiController: "registry.k8s.io/cluster-api/cluster-api-controller:v1.13.5",
    kubeadmBootstrapController: "registry.k8s.io/cluster-api/kubeadm-bootstrap-controller:v1.13.5",
    kubeadmControlPlaneController: "registry.k8s.io/cluster-api/kubeadm-control-plane-controller:v1.13.5",
    capm3Controller: "quay.io/metal3-io/cluster-api-provider-metal3:v1.13.2",
    ipamController: "quay.io/metal3-io/ip-address-manager:v1.13.2",
};

export const DEFAULT_PORTS: PortsConfig = {
    registry: 5000,
    ironicApi: 6385,
    ironicJsonRpc: 6189,
    httpd: 6180,
    imageCache: 6280,
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
    // Supported by minikube v1.37 and, as a management cluster, by CAPI v1.13 (v1.32-v1.36); CAPM3's scalability e2e uses v1.34.1.
    kubernetesVersion: "v1.34.1",
};

export const DEFAULT_IRONIC = {
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

/**
 * With derived container counts, each block of SUSHY_STRIPE x hostsPerSushy
 * hosts is striped over its own SUSHY_STRIPE sushy-tools containers: a batch of
 * 50 consecutive hosts reaches 10 containers (5 hosts each), and growth fills
 * the last block, then opens a new one, never moving a host.
 */
export const SUSHY_STRIPE = 10;

/**
 * Simulated hosts one CPU of a docker host carries (a host counts where its
 * sushy-tools container runs). At rest each host costs one authenticated
 * Redfish request a minute (Ironic's power-state sync, sync_power_state_interval
 * 60 s), and sushy-tools checks the bcrypt password on every request (no
 * sessions: sushy-tools auth_basic.py:103). Measured here with the real
 * sushy-tools and a hash of the generated password's cost (10): 0.4 s per
 * authenticated request on one core, so one CPU answers about 150 requests a
 * minute: 150 hosts keep it busy before any batch runs. A floor a fleet cannot
 * go below, not a comfortable size.
 */
export const HOSTS_PER_CPU = 150;

/** Set to count this many CPUs for the lab host (e.g. to preview a stack on a machine other than its lab host). */
export const LAB_HOST_CPUS_ENV = "METAL3_LAB_HOST_CPUS";
