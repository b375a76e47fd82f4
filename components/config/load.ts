// One loader: raw stack config in, one typed and frozen LabConfig out, or a
// LabConfigError listing every problem at once.
import {
    DEFAULT_IMAGES,
    DEFAULT_IRONIC,
    DEFAULT_MANAGEMENT_CLUSTER,
    DEFAULT_NETWORK,
    DEFAULT_PORTS,
    MAX_NODES,
    NAMESPACES,
    SCALAR_DEFAULTS,
} from "./defaults";
import { ConfigIssue, LabConfigError } from "./errors";
import {
    DockerHostConfig,
    ImagesConfig,
    LabConfig,
    MANAGEMENT_CLUSTER_KINDS,
    ManagementClusterConfig,
    Mode,
    MODES,
    NetworkConfig,
    PortsConfig,
} from "./types";
import { cidrContains, cidrsOverlap, formatIpv4, parseCidr, parseIpv4, usableRange } from "../network/ipv4";
import { bmoCrdUrls } from "../bmo/render";
import { CLUSTERCTL_IMAGES, CLUSTERCTL_PROVIDERS } from "../capi/render";
import { FKAS_PORT } from "../capi/fkas";
import { mirrorCollisions, parseImageRef, releaseVersion } from "../registry/images";
import { imageCompatibility, isImmutablePin, managementKubernetesProblem } from "./compatibility";

export const PROJECT = "metal3-scale-lab";

/** Every top-level key the project reads; anything else under our namespace is a typo. */
export const OBJECT_KEYS = ["managementCluster", "network", "images", "dockerHosts", "ports", "ironic"] as const;
export const KNOWN_KEYS: readonly string[] = [...Object.keys(SCALAR_DEFAULTS), ...OBJECT_KEYS];

/** Config as read from Pulumi: scalars as the CLI stores them (strings), objects parsed. */
export type RawConfig = Readonly<Record<string, unknown>>;

/** Collects problems for one section of config (top level or an object key). */
class Section {
    private readonly seen = new Set<string>();
    constructor(
        private readonly issues: ConfigIssue[],
        private readonly prefix: string,
        private readonly raw: Readonly<Record<string, unknown>>,
    ) {}

    key(name: string): string {
        return `${this.prefix}${name}`;
    }

    problem(name: string, value: unknown, allowed: string): void {
        this.issues.push({ key: this.key(name), value, allowed });
    }

    value(name: string): unknown {
        this.seen.add(name);
        return this.raw[name];
    }

    int(name: string, fallback: number, min: number, max: number, meaning = ""): number {
        const value = this.value(name);
        if (value === undefined || value === null || value === "") return fallback;
        const n = typeof value === "number" ? value : typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
        if (!Number.isInteger(n) || n < min || n > max) {
            this.problem(name, value, `be a whole number from ${min} to ${max}${meaning}`);
            return fallback;
        }
        return n;
    }

    bool(name: string, fallback: boolean): boolean {
        const value = this.value(name);
        if (value === undefined || value === null || value === "") return fallback;
        if (value === true || value === "true") return true;
        if (value === false || value === "false") return false;
        this.problem(name, value, "be true or false");
        return fallback;
    }

    oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
        const value = this.value(name);
        if (value === undefined || value === null || value === "") return fallback;
        if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
        this.problem(name, value, `be one of ${allowed.join(", ")}`);
        return fallback;
    }

    string(name: string, fallback: string | undefined, pattern: RegExp, allowed: string): string | undefined {
        const value = this.value(name);
        if (value === undefined || value === null) return fallback;
        if (typeof value === "string" && pattern.test(value)) return value;
        this.problem(name, value, allowed);
        return fallback;
    }

    /** A key the project no longer reads: refused with the reason, rather than as an unknown key. */
    retired(name: string, allowed: string): void {
        const value = this.value(name);
        if (value !== undefined) this.problem(name, value, allowed);
    }

    /** Reports keys nobody read: misspellings would otherwise be silently ignored. */
    rejectUnknown(): void {
        for (const name of Object.keys(this.raw)) {
            if (!this.seen.has(name)) {
                this.problem(name, this.raw[name], `not be set: unknown key (known: ${[...this.seen].join(", ")})`);
            }
        }
    }
}

function objectSection(issues: ConfigIssue[], top: Section, name: string): Section {
    const value = top.value(name);
    const prefix = `${top.key(name)}.`;
    if (value === undefined || value === null) return new Section(issues, prefix, {});
    if (typeof value !== "object" || Array.isArray(value)) {
        top.problem(name, value, "be an object");
        return new Section(issues, prefix, {});
    }
    return new Section(issues, prefix, value as Record<string, unknown>);
}

/** Why `ironic.inspector` and `ports.inspector` are refused. */
const INSPECTOR_REMOVED = "ironic-inspector was removed from ironic-image in v25.0.0 (ironic-image commit 4fe398f0)";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const IMAGE_REF = /^[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(\.[a-z0-9-]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)+(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;
const DOCKER_URL = /^(unix:\/\/\/\S+|ssh:\/\/\S+|tcp:\/\/\S+)$/;
const HOSTNAME = /^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$/;

/** Lower-case DNS-1123 label from a stack name ("Scale_1000" -> "scale-1000"). */
export function stackSlug(stack: string): string {
    const slug = stack
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, "-")
        .replace(/^-+|-+$/g, "")
        .slice(0, 20)
        .replace(/-+$/, "");
    return slug || "lab";
}

/** True when an image reference names an immutable build: a release tag, a dated branch build or a digest. */
export function isPinnedImage(ref: string): boolean {
    return IMAGE_REF.test(ref) && isImmutablePin(ref);
}

const PIN_EXAMPLES =
    "a release tag (quay.io/metal3-io/ironic:v35.0.2), a dated build tag (quay.io/metal3-io/fake-ipa:main_2026-04-02_<40-hex sha>) " +
    "or a digest (...@sha256:<64 hex>); moving tags such as latest, main or release-0.13 are refused";

function basename(ref: string): string {
    const { repository } = parseImageRef(ref);
    return repository.slice(repository.lastIndexOf("/") + 1);
}

/** What `fn` throws, or undefined: lets the loader reuse the components' own pure checks. */
function failureOf(fn: () => unknown): string | undefined {
    try {
        fn();
        return undefined;
    } catch (err) {
        return err instanceof Error ? err.message : String(err);
    }
}

/**
 * Constraints the components put on images, checked here so they are reported
 * with every other problem before anything is declared: release tags where
 * manifests are fetched at the image's version, one release for CAPI core and
 * kubeadm, a known BMO CRD list, and distinct names in the local registry.
 */
function checkImageUse(section: Section, images: ImagesConfig, mode: Mode): void {
    const releaseTag = "be pinned to a release tag like v1.2.3 (its manifests are fetched at that version)";
    if (failureOf(() => releaseVersion(images.certManagerController, "cert-manager"))) section.problem("certManagerController", images.certManagerController, releaseTag);
    if (mode !== "ironic") {
        if (failureOf(() => releaseVersion(images.bmo, "baremetal-operator"))) section.problem("bmo", images.bmo, releaseTag);
        else {
            const unknown = failureOf(() => bmoCrdUrls(releaseVersion(images.bmo, "baremetal-operator")));
            if (unknown) section.problem("bmo", images.bmo, `be a baremetal-operator release this project knows the CRDs of (${unknown.slice(unknown.indexOf("known minors"))})`);
        }
    }
    if (mode === "capi") {
        for (const key of CLUSTERCTL_IMAGES) {
            if (failureOf(() => releaseVersion(images[key], key))) section.problem(key, images[key], releaseTag);
            else if (basename(images[key]) !== CLUSTERCTL_PROVIDERS[key].image) {
                section.problem(key, images[key], `keep the upstream image name ${CLUSTERCTL_PROVIDERS[key].image} (clusterctl re-homes images by name)`);
            }
        }
        const core = parseImageRef(images.capiController).tag;
        for (const key of ["kubeadmBootstrapController", "kubeadmControlPlaneController"] as const) {
            const tag = parseImageRef(images[key]).tag;
            if (core && tag && tag !== core) section.problem(key, images[key], `share the CAPI core release of images.capiController (${core})`);
        }
    }
    for (const { image, allowed } of imageCompatibility(images, mode)) section.problem(image, images[image], allowed);
    for (const { name, other, localName } of mirrorCollisions(images)) {
        section.problem(name, images[name], `not be mirrored to the same local name as images.${other} (${localName})`);
    }
}

function readImages(issues: ConfigIssue[], top: Section, mode: Mode): ImagesConfig {
    const section = objectSection(issues, top, "images");
    const images = { ...DEFAULT_IMAGES };
    for (const name of Object.keys(DEFAULT_IMAGES) as (keyof ImagesConfig)[]) {
        const value = section.value(name);
        if (value === undefined) continue;
        if (typeof value === "string" && isPinnedImage(value)) images[name] = value;
        else section.problem(name, value, `be an image reference pinned to an immutable build: ${PIN_EXAMPLES}`);
    }
    section.rejectUnknown();
    checkImageUse(section, images, mode);
    return images;
}

function readPorts(issues: ConfigIssue[], top: Section, sushy: number, fakeIpa: number): PortsConfig {
    const section = objectSection(issues, top, "ports");
    const ports = {} as Record<keyof PortsConfig, number>;
    for (const name of Object.keys(DEFAULT_PORTS) as (keyof PortsConfig)[]) {
        ports[name] = section.int(name, DEFAULT_PORTS[name], 1, 65535);
    }
    section.retired("inspector", `not be set: ${INSPECTOR_REMOVED}`);
    section.rejectUnknown();
    // Every port the lab opens on a host, with its owner; ranges for the fleets.
    const claims: { owner: string; first: number; last: number }[] = [
        ...(["registry", "ironicApi", "ironicJsonRpc", "httpd", "imageCache", "fkas"] as const).map((n) => ({ owner: n, first: ports[n], last: ports[n] })),
        { owner: "sushyBase", first: ports.sushyBase, last: ports.sushyBase + Math.max(sushy, 1) - 1 },
        { owner: "fakeIpaBase", first: ports.fakeIpaBase, last: ports.fakeIpaBase + Math.max(fakeIpa, 1) - 1 },
    ];
    for (const [i, a] of claims.entries()) {
        if (a.last > 65535) section.problem(a.owner, a.first, `leave room for ${a.last - a.first + 1} consecutive ports below 65536`);
        for (const b of claims.slice(i + 1)) {
            if (a.first <= b.last && b.first <= a.last) {
                const span = (c: typeof a) => (c.first === c.last ? `${c.first}` : `${c.first}-${c.last}`);
                section.problem(b.owner, b.first, `not collide with ${section.key(a.owner)} (ports ${span(a)}; ${b.owner} uses ${span(b)})`);
            }
        }
    }
    return ports;
}

function readNetwork(issues: ConfigIssue[], top: Section, conductors: number): NetworkConfig {
    const s = objectSection(issues, top, "network");
    const cidr = (name: string, fallback: string) => {
        const text = s.string(name, fallback, /./, "be an IPv4 CIDR") ?? fallback;
        const parsed = parseCidr(text);
        if (!parsed) s.problem(name, text, "be an IPv4 network in CIDR form with prefix /8 to /30 and no host bits, e.g. 172.22.0.0/24");
        return { text, parsed };
    };
    const ip = (name: string, fallback: string) => {
        const text = s.string(name, fallback, /./, "be an IPv4 address") ?? fallback;
        const parsed = parseIpv4(text);
        if (parsed === undefined) s.problem(name, text, "be an IPv4 address, e.g. 172.22.0.1");
        return { text, parsed };
    };
    const prov = cidr("provisioningCidr", DEFAULT_NETWORK.provisioningCidr);
    const provHost = ip("provisioningHostIp", DEFAULT_NETWORK.provisioningHostIp);
    const bm = cidr("baremetalCidr", DEFAULT_NETWORK.baremetalCidr);
    const bmHost = ip("baremetalHostIp", DEFAULT_NETWORK.baremetalHostIp);
    const offset = s.int("conductorIpOffset", DEFAULT_NETWORK.conductorIpOffset, 1, 65534);
    const dhcpRange = s.string("dhcpRange", DEFAULT_NETWORK.dhcpRange, /^[\d.]+,[\d.]+$/, "be \"first,last\" IPv4 addresses") ?? DEFAULT_NETWORK.dhcpRange;
    const provisioningInterface = s.string("provisioningInterface", DEFAULT_NETWORK.provisioningInterface, /^[a-zA-Z0-9._-]{1,15}$/, "be a network interface name (1-15 characters)") ?? DEFAULT_NETWORK.provisioningInterface;
    s.rejectUnknown();

    const conductorIps: string[] = [];
    if (prov.parsed) {
        const [lo, hi] = usableRange(prov.parsed);
        if (provHost.parsed !== undefined && !cidrContains(prov.parsed, provHost.parsed)) s.problem("provisioningHostIp", provHost.text, `lie inside provisioningCidr ${prov.text}`);
        if (bm.parsed && cidrsOverlap(prov.parsed, bm.parsed)) s.problem("baremetalCidr", bm.text, `not overlap provisioningCidr ${prov.text}`);
        const [dhcpFirst, dhcpLast] = dhcpRange.split(",").map(parseIpv4);
        const dhcpOk = dhcpFirst !== undefined && dhcpLast !== undefined && dhcpFirst <= dhcpLast && cidrContains(prov.parsed, dhcpFirst) && cidrContains(prov.parsed, dhcpLast);
        if (!dhcpOk) s.problem("dhcpRange", dhcpRange, `be "first,last" with first <= last, both inside provisioningCidr ${prov.text}`);
        // Conductors take consecutive addresses from the offset, skipping the host and the DHCP range.
        const taken = (a: number) => a === provHost.parsed || (dhcpOk && a >= dhcpFirst! && a <= dhcpLast!);
        for (let a = prov.parsed.network + offset; conductorIps.length < conductors && a <= hi; a++) {
            if (a >= lo && !taken(a)) conductorIps.push(formatIpv4(a));
        }
        if (conductorIps.length < conductors) {
            issues.push({
                key: `${PROJECT}:conductors`,
                value: conductors,
                allowed: `fit in provisioningCidr ${prov.text} from offset ${offset} outside the host IP and dhcpRange (room for ${conductorIps.length})`,
            });
        }
    }
    if (bm.parsed && bmHost.parsed !== undefined && !cidrContains(bm.parsed, bmHost.parsed)) s.problem("baremetalHostIp", bmHost.text, `lie inside baremetalCidr ${bm.text}`);
    return {
        provisioningCidr: prov.text,
        provisioningHostIp: provHost.text,
        baremetalCidr: bm.text,
        baremetalHostIp: bmHost.text,
        conductorIpOffset: offset,
        dhcpRange,
        provisioningInterface,
        conductorIps,
    };
}

function readManagementCluster(issues: ConfigIssue[], top: Section, slug: string): ManagementClusterConfig {
    const s = objectSection(issues, top, "managementCluster");
    const d = DEFAULT_MANAGEMENT_CLUSTER;
    const kind = s.oneOf("kind", "minikube", MANAGEMENT_CLUSTER_KINDS);
    const kubeconfig = s.string("kubeconfig", undefined, /^\S.*$/, "be a path to a kubeconfig file");
    const context = s.string("context", undefined, /^\S+$/, "be a kubeconfig context name");
    const profile = s.string("profile", `metal3-${slug}`, DNS_LABEL, "be a DNS label (lower-case letters, digits, '-')") ?? `metal3-${slug}`;
    const cpus = s.int("cpus", d.cpus, 2, 128);
    const memoryMb = s.int("memoryMb", d.memoryMb, 4096, 1_048_576);
    const diskGb = s.int("diskGb", d.diskGb, 20, 10_000);
    const kubernetesVersion = s.string("kubernetesVersion", d.kubernetesVersion, /^v1\.\d+\.\d+$/, "be a Kubernetes version like v1.31.4") ?? d.kubernetesVersion;
    s.rejectUnknown();
    if (kind === "existing" && !kubeconfig) s.problem("kubeconfig", kubeconfig, "be set to a kubeconfig path when kind is existing");
    return { kind, kubeconfig, context, profile, cpus, memoryMb, diskGb, kubernetesVersion };
}

function readDockerHosts(issues: ConfigIssue[], top: Section, defaultAddress: string): DockerHostConfig[] {
    const key = top.key("dockerHosts");
    const value = top.value("dockerHosts");
    if (value === undefined || value === null) return [{ name: "local", url: "unix:///var/run/docker.sock", address: defaultAddress }];
    if (!Array.isArray(value) || value.length === 0) {
        issues.push({ key, value, allowed: "be a non-empty list of {name, url, address}" });
        return [];
    }
    const names = new Set<string>();
    return value.map((entry, i) => {
        const s = new Section(issues, `${key}[${i}].`, typeof entry === "object" && entry !== null ? entry : {});
        if (typeof entry !== "object" || entry === null) issues.push({ key: `${key}[${i}]`, value: entry, allowed: "be an object {name, url, address}" });
        const name = s.string("name", "", DNS_LABEL, "be a DNS label (lower-case letters, digits, '-')") ?? "";
        const url = s.string("url", "", DOCKER_URL, "be a Docker daemon URL: unix:///path, ssh://user@host or tcp://host:port") ?? "";
        const address = s.string("address", "", HOSTNAME, "be the IP or host name Ironic uses to reach this host") ?? "";
        for (const [field, v] of [["name", name], ["url", url], ["address", address]] as const) if (v === "" && s.value(field) === undefined) s.problem(field, undefined, "be set");
        if (name && names.has(name)) s.problem("name", name, "be unique among dockerHosts");
        names.add(name);
        s.rejectUnknown();
        return { name, url, address };
    });
}

/**
 * Validates raw stack config and derives what the user left to us. Throws one
 * LabConfigError naming every bad key, its value and what is allowed.
 */
export function loadLabConfig(raw: RawConfig, stack: string): LabConfig {
    const issues: ConfigIssue[] = [];
    const top = new Section(issues, `${PROJECT}:`, raw);
    const d = SCALAR_DEFAULTS;
    const slug = stackSlug(stack);

    const mode = top.oneOf("mode", d.mode, MODES);
    const nodes = top.int("nodes", d.nodes, 1, MAX_NODES);
    const conductors = top.int("conductors", d.conductors, 1, 250);
    const hostsPerSushy = top.int("hostsPerSushy", d.hostsPerSushy, 1, 1000);
    const derivedSushy = Math.ceil(nodes / hostsPerSushy);
    const sushyContainers = top.int("sushyContainers", d.sushyContainers, 0, 1000, " (0 = one per hostsPerSushy hosts)") || derivedSushy;
    const fakeIpaContainers = top.int("fakeIpaContainers", d.fakeIpaContainers, 0, 1000, " (0 = one per sushy-tools container)") || sushyContainers;
    const batchSize = top.int("batchSize", d.batchSize, 1, 1000);
    const maxBatchesInFlight = top.int("maxBatchesInFlight", d.maxBatchesInFlight, 1, 100);
    const waitTimeoutMinutes = top.int("waitTimeoutMinutes", d.waitTimeoutMinutes, 1, 7 * 24 * 60);
    const targetState = top.oneOf("targetState", d.targetState, ["available", "manageable"] as const);
    const inspectHosts = top.bool("inspectHosts", d.inspectHosts);
    const clusters = top.int("clusters", d.clusters, 0, MAX_NODES);
    const fakeApiServersRaw = top.int("fakeApiServers", d.fakeApiServers, 0, 100, " (0 = one in capi mode)");
    const workersPerCluster = top.int("workersPerCluster", d.workersPerCluster, 0, 10);
    const workloadKubernetesVersion = top.string("workloadKubernetesVersion", d.workloadKubernetesVersion, /^v1\.\d+\.\d+$/, "be a Kubernetes version like v1.34.1") ?? d.workloadKubernetesVersion;
    const bmoConcurrency = top.int("bmoConcurrency", d.bmoConcurrency, 0, 200, " (0 = derived from nodes)");
    const provisioningLimit = top.int("provisioningLimit", d.provisioningLimit, 0, 5000, " (0 = derived from batchSize)");
    const minBoot = top.int("fakeIpaMinBootSeconds", d.fakeIpaMinBootSeconds, 1, 3600);
    const maxBoot = top.int("fakeIpaMaxBootSeconds", d.fakeIpaMaxBootSeconds, 1, 3600);

    if (sushyContainers * hostsPerSushy < nodes) {
        top.problem("sushyContainers", sushyContainers, `carry all ${nodes} nodes at hostsPerSushy=${hostsPerSushy}: at least ${derivedSushy} (or raise hostsPerSushy)`);
    }
    if (sushyContainers > nodes) top.problem("sushyContainers", sushyContainers, `be at most nodes (${nodes}): a container with no hosts serves nothing`);
    if (fakeIpaContainers > sushyContainers) top.problem("fakeIpaContainers", fakeIpaContainers, `be at most sushyContainers (${sushyContainers}): each fake-ipa is fed by sushy-tools containers`);
    if (mode !== "capi") {
        // Keys that only capi mode reads: set elsewhere they would silently do nothing.
        for (const [key, value] of [["clusters", clusters], ["workersPerCluster", workersPerCluster], ["fakeApiServers", fakeApiServersRaw]] as const) {
            if (value > 0) top.problem(key, value, `be 0 unless mode is capi (mode is ${mode})`);
        }
        // Pulumi passes Pulumi.yaml's declared defaults as config too: only a changed value is the user's.
        if (workloadKubernetesVersion !== d.workloadKubernetesVersion) {
            top.problem("workloadKubernetesVersion", workloadKubernetesVersion, `keep its default (${d.workloadKubernetesVersion}) unless mode is capi (mode is ${mode}): only workload clusters read it`);
        }
    }
    // FKAS's reconciler sidecar calls only its own localhost:3333/updateNode and FKAS's maps have no lock
    // (CAPM3 hack/fake-apiserver); upstream's scalability e2e runs one replica (test/e2e/data/fkas/resources.yaml).
    if (fakeApiServersRaw > 1) top.problem("fakeApiServers", fakeApiServersRaw, "be 0 or 1: one FKAS serves every workload cluster, as upstream runs it (each extra replica's sidecar would retry forever on clusters it does not hold)");
    if (clusters * (1 + workersPerCluster) > nodes) top.problem(clusters > nodes ? "clusters" : "workersPerCluster", clusters > nodes ? clusters : workersPerCluster, `leave a host for every machine: clusters x (1 + workersPerCluster) = ${clusters * (1 + workersPerCluster)} is more than nodes (${nodes})`);
    if (maxBoot < minBoot) top.problem("fakeIpaMaxBootSeconds", maxBoot, `be at least fakeIpaMinBootSeconds (${minBoot})`);

    const managementCluster = readManagementCluster(issues, top, slug);
    const network = readNetwork(issues, top, conductors);
    const ports = readPorts(issues, top, sushyContainers, fakeIpaContainers);
    const images = readImages(issues, top, mode);
    // FKAS listens on :3333, hard-coded (CAPM3 hack/fake-apiserver/cmd/metal3-fkas/main.go), and runs on the host network.
    if (mode === "capi" && ports.fkas !== FKAS_PORT) issues.push({ key: `${PROJECT}:ports.fkas`, value: ports.fkas, allowed: `be ${FKAS_PORT}: FKAS listens on that port, hard-coded upstream` });
    const kubernetesProblem = mode === "capi" ? managementKubernetesProblem(images, managementCluster.kubernetesVersion) : undefined;
    if (kubernetesProblem) issues.push({ key: `${PROJECT}:managementCluster.kubernetesVersion`, value: managementCluster.kubernetesVersion, allowed: kubernetesProblem });
    const dockerHosts = readDockerHosts(issues, top, network.baremetalHostIp);
    const ironicSection = objectSection(issues, top, "ironic");
    ironicSection.retired("inspector", `not be set: ${INSPECTOR_REMOVED}; hosts are inspected by Ironic itself (inspectHosts)`);
    const ironic = {
        apiWorkers: ironicSection.int("apiWorkers", DEFAULT_IRONIC.apiWorkers, 1, 64),
        apiVersion: ironicSection.string("apiVersion", DEFAULT_IRONIC.apiVersion, /^1\.\d{1,3}$/, "be an Ironic API microversion like 1.81") ?? DEFAULT_IRONIC.apiVersion,
    };
    ironicSection.rejectUnknown();
    top.rejectUnknown();

    if (issues.length > 0) throw new LabConfigError(issues);

    const fakeApiServers = mode !== "capi" ? 0 : 1;
    return deepFreeze({
        project: PROJECT,
        stack,
        slug,
        mode,
        nodes,
        conductors,
        sushyContainers,
        fakeIpaContainers,
        hostsPerSushy,
        batchSize,
        maxBatchesInFlight,
        waitTimeoutMinutes,
        targetState,
        inspectHosts,
        clusters,
        fakeApiServers,
        workersPerCluster,
        workloadKubernetesVersion,
        managementCluster,
        network,
        ports,
        images,
        dockerHosts,
        ironic,
        bmo: {
            // BMO's own default is the CPU count clamped to 2-8; a thousand hosts want more workers.
            concurrency: bmoConcurrency || Math.min(20, Math.max(2, Math.ceil(nodes / 100))),
            // At least a whole batch may inspect at once, or BMO queues the batch behind itself.
            provisioningLimit: provisioningLimit || Math.min(200, Math.max(20, batchSize)),
        },
        fakeIpa: { minBootSeconds: minBoot, maxBootSeconds: maxBoot },
        namespaces: NAMESPACES,
    });
}

function deepFreeze<T>(value: T): T {
    if (value && typeof value === "object" && !Object.isFrozen(value)) {
        Object.freeze(value);
        for (const child of Object.values(value)) deepFreeze(child);
    }
    return value;
}
