// One loader: raw stack config in, one typed and frozen LabConfig out, or a
// LabConfigError listing every problem at once.
import * as fs from "fs";
import * as os from "os";
import {
    DEFAULT_IMAGES,
    DEFAULT_IRONIC,
    DEFAULT_MANAGEMENT_CLUSTER,
    DEFAULT_NETWORK,
    DEFAULT_PORTS,
    HOSTS_PER_CPU,
    LAB_HOST_CPUS_ENV,
    MAX_NODES,
    NAMESPACES,
    SCALAR_DEFAULTS,
    SUSHY_STRIPE,
} from "./defaults";
import { ConfigIssue, LabConfigError } from "./errors";
import {
    ConductorNode,
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
import { Cidr, cidrContains, cidrsOverlap, formatIpv4, parseCidr, parseIpv4, usableRange } from "../network/ipv4";
import { bmoCrdUrls } from "../bmo/render";
import { CLUSTERCTL_IMAGES, CLUSTERCTL_PROVIDERS } from "../capi/render";
import { FKAS_PORT } from "../capi/fkas";
import { expandHome } from "../cluster/managementCluster";
import { sushyContainersFor, sushyOf } from "../inventory/inventory";
import { mirrorCollisions, parseImageRef, releaseVersion } from "../registry/images";
import { imageCompatibility, isImmutablePin, managementKubernetesProblem } from "./compatibility";
import { suggestions } from "./spelling";

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

    /** The user gave this key a value (objects carry only what the user wrote). */
    isSet(name: string): boolean {
        const value = this.raw[name];
        return value !== undefined && value !== null && value !== "";
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
        const known = [...this.seen];
        for (const name of Object.keys(this.raw)) {
            if (!this.seen.has(name)) {
                const near = suggestions(name, known);
                this.problem(name, this.raw[name], `not be set: unknown key${near.length > 0 ? ` (did you mean ${near[0]}?)` : ""} (known: ${known.join(", ")})`);
            }
        }
    }
}

/**
 * Keys under a namespace that looks like a misspelling of ours (read.ts keeps
 * them whole, `metal3-scalelab:nodes`): Pulumi hands them to nobody.
 */
function reportForeignNamespaces(issues: ConfigIssue[], top: Section, raw: RawConfig): void {
    for (const fullKey of Object.keys(raw).filter((k) => k.includes(":"))) {
        const value = top.value(fullKey);
        const [namespace, ...rest] = fullKey.split(":");
        issues.push({
            key: fullKey,
            value,
            allowed: `be set as ${PROJECT}:${rest.join(":")}: the namespace "${namespace}" is not this project's (${PROJECT}), so nothing reads it`,
        });
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
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

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

function isFile(file: string): boolean {
    try {
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
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

function readPorts(issues: ConfigIssue[], top: Section, sushy: number, fakeIpa: number, mode: Mode): PortsConfig {
    const section = objectSection(issues, top, "ports");
    const ports = {} as Record<keyof PortsConfig, number>;
    for (const name of Object.keys(DEFAULT_PORTS) as (keyof PortsConfig)[]) {
        ports[name] = section.int(name, DEFAULT_PORTS[name], 1, 65535);
    }
    section.retired("inspector", `not be set: ${INSPECTOR_REMOVED}`);
    section.rejectUnknown();
    // Only FKAS (capi mode) listens on ports.fkas: set elsewhere it does nothing.
    if (mode !== "capi" && section.isSet("fkas")) section.problem("fkas", ports.fkas, `not be set unless mode is capi (mode is ${mode}): only FKAS listens on it`);
    // Every port the lab opens on a host, with its owner; ranges for the fleets.
    const singles = ["registry", "ironicApi", "ironicJsonRpc", "httpd", "imageCache", ...(mode === "capi" ? ["fkas"] : [])] as const;
    const claims: { owner: keyof PortsConfig; first: number; last: number; range: boolean }[] = [
        ...(singles as readonly (keyof PortsConfig)[]).map((n) => ({ owner: n, first: ports[n], last: ports[n], range: false })),
        { owner: "sushyBase", first: ports.sushyBase, last: ports.sushyBase + Math.max(sushy, 1) - 1, range: true },
        { owner: "fakeIpaBase", first: ports.fakeIpaBase, last: ports.fakeIpaBase + Math.max(fakeIpa, 1) - 1, range: true },
    ];
    const span = (c: (typeof claims)[number]) => (c.first === c.last ? `${c.first}` : `${c.first}-${c.last}`);
    for (const [i, a] of claims.entries()) {
        if (a.last > 65535) section.problem(a.owner, a.first, `leave room for ${a.last - a.first + 1} consecutive ports below 65536`);
        for (const b of claims.slice(i + 1)) {
            if (a.first > b.last || b.first > a.last) continue;
            // Blame the port the user set (the one to change); when neither was set, the fleet range that grew into the other.
            const [blamed, other] = section.isSet(b.owner) ? [b, a] : section.isSet(a.owner) ? [a, b] : b.range ? [b, a] : [a, b];
            section.problem(blamed.owner, blamed.first, `not collide with ${section.key(other.owner)} (ports ${span(other)}; ${blamed.owner} uses ${span(blamed)})`);
        }
    }
    return ports;
}

/** A host address that is its network's network or broadcast address is refused: nothing can own it. */
function unusable(s: Section, name: string, address: { text: string; parsed?: number }, net: { text: string; parsed?: Cidr }): void {
    if (address.parsed === undefined || !net.parsed) return;
    const [lo, hi] = usableRange(net.parsed);
    if (address.parsed < lo || address.parsed > hi) {
        s.problem(name, address.text, `be a usable host address of ${net.text} (${formatIpv4(lo)}-${formatIpv4(hi)}), not its network or broadcast address`);
    }
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
        else if (provHost.parsed !== undefined) unusable(s, "provisioningHostIp", provHost, prov);
        if (bm.parsed && cidrsOverlap(prov.parsed, bm.parsed)) s.problem("baremetalCidr", bm.text, `not overlap provisioningCidr ${prov.text}`);
        const [dhcpFirst, dhcpLast] = dhcpRange.split(",").map(parseIpv4);
        const dhcpOk = dhcpFirst !== undefined && dhcpLast !== undefined && dhcpFirst <= dhcpLast && cidrContains(prov.parsed, dhcpFirst) && cidrContains(prov.parsed, dhcpLast);
        if (!dhcpOk) s.problem("dhcpRange", dhcpRange, `be "first,last" with first <= last, both inside provisioningCidr ${prov.text}`);
        else if (dhcpFirst! < lo || dhcpLast! > hi) s.problem("dhcpRange", dhcpRange, `stay within the usable addresses of provisioningCidr ${prov.text} (${formatIpv4(lo)}-${formatIpv4(hi)}): dnsmasq cannot lease the network or broadcast address`);
        else if (provHost.parsed !== undefined && provHost.parsed >= dhcpFirst! && provHost.parsed <= dhcpLast!) {
            s.problem("provisioningHostIp", provHost.text, `lie outside dhcpRange ${dhcpRange}: dnsmasq would lease the lab host's address to a host`);
        }
        // Conductors take consecutive addresses from the offset, skipping the host and the DHCP range.
        const taken = (a: number) => a === provHost.parsed || (dhcpOk && a >= dhcpFirst! && a <= dhcpLast!);
        const freeFrom = (first: number) => {
            const ips: string[] = [];
            for (let a = Math.max(first, lo); ips.length < conductors && a <= hi; a++) if (!taken(a)) ips.push(formatIpv4(a));
            return ips;
        };
        conductorIps.push(...freeFrom(prov.parsed.network + offset));
        if (prov.parsed.network + offset > hi) {
            s.problem("conductorIpOffset", offset, `be at most ${hi - prov.parsed.network}: provisioningCidr ${prov.text} has host numbers 1 to ${hi - prov.parsed.network}`);
        } else if (conductorIps.length < conductors) {
            // Blame the offset when a lower one would fit every conductor; else the count itself.
            // The highest start that fits: the conductors-th free address counted down from the top.
            let found = 0;
            let maxOffset = 0;
            for (let a = hi; a >= lo && found < conductors; a--) if (!taken(a) && ++found === conductors) maxOffset = a - prov.parsed.network;
            if (maxOffset > 0) {
                s.problem("conductorIpOffset", offset, `be at most ${maxOffset}: from offset ${offset}, provisioningCidr ${prov.text} has room for ${conductorIps.length} of the ${conductors} conductors outside the host IP and dhcpRange`);
            } else {
                issues.push({
                    key: `${PROJECT}:conductors`,
                    value: conductors,
                    allowed: `fit in provisioningCidr ${prov.text} outside the host IP and dhcpRange (room for ${freeFrom(lo).length} from the lowest offset, ${conductorIps.length} from offset ${offset}); or widen provisioningCidr or narrow dhcpRange`,
                });
            }
        }
    }
    if (bm.parsed && bmHost.parsed !== undefined && !cidrContains(bm.parsed, bmHost.parsed)) s.problem("baremetalHostIp", bmHost.text, `lie inside baremetalCidr ${bm.text}`);
    else if (bm.parsed && bmHost.parsed !== undefined) unusable(s, "baremetalHostIp", bmHost, bm);
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

/**
 * managementCluster.conductorNodes: on an existing cluster each conductor runs
 * with the host network on its own node and uses the node's address (no
 * minikube bridge carries conductor IPs there), so the lab needs one node per
 * conductor, named, with an address the other nodes and the lab host reach.
 */
function readConductorNodes(issues: ConfigIssue[], s: Section, kind: ManagementClusterConfig["kind"], conductors: number): ConductorNode[] {
    const value = s.value("conductorNodes");
    const key = s.key("conductorNodes");
    const what = "a list of {name, address}: the Kubernetes node (its kubernetes.io/hostname label) each conductor runs on with the host network, and the IPv4 address that node carries, reachable from the other nodes and from the lab host";
    if (kind === "minikube") {
        if (value !== undefined && value !== null) issues.push({ key, value, allowed: "not be set when kind is minikube: conductors take their IPs from network.provisioningCidr on the VM's ironicendpoint bridge" });
        return [];
    }
    if (!Array.isArray(value)) {
        issues.push({ key, value, allowed: `be set when kind is existing, to ${what}; one node per conductor (${conductors})` });
        return [];
    }
    const names = new Set<string>();
    const addresses = new Set<string>();
    const nodes = value.map((entry, i) => {
        const e = new Section(issues, `${key}[${i}].`, typeof entry === "object" && entry !== null ? entry : {});
        if (typeof entry !== "object" || entry === null) issues.push({ key: `${key}[${i}]`, value: entry, allowed: "be an object {name, address}" });
        const name = e.string("name", "", NODE_NAME, "be a Kubernetes node name (lower-case DNS subdomain)") ?? "";
        const address = e.string("address", "", /./, "be an IPv4 address") ?? "";
        for (const [field, v] of [["name", name], ["address", address]] as const) if (v === "" && e.value(field) === undefined) e.problem(field, undefined, "be set");
        if (address && parseIpv4(address) === undefined) e.problem("address", address, "be the node's IPv4 address, e.g. 10.0.1.11 (the conductor's certificate and JSON-RPC name it)");
        if (name && names.has(name)) e.problem("name", name, "be unique among conductorNodes: one conductor per node (they all bind the same ports on the host network)");
        if (address && addresses.has(address)) e.problem("address", address, "be unique among conductorNodes");
        names.add(name);
        addresses.add(address);
        e.rejectUnknown();
        return { name, address };
    });
    if (nodes.length < conductors) issues.push({ key, value, allowed: `list at least one node per conductor: ${conductors} conductors need ${conductors} nodes, ${nodes.length} given` });
    return nodes;
}

function readManagementCluster(issues: ConfigIssue[], top: Section, slug: string, conductors: number): ManagementClusterConfig {
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
    const conductorNodes = readConductorNodes(issues, s, kind, conductors);
    s.rejectUnknown();
    if (kind === "existing") {
        if (!kubeconfig) s.problem("kubeconfig", kubeconfig, "be set to a kubeconfig path when kind is existing");
        else if (!isFile(expandHome(kubeconfig))) s.problem("kubeconfig", kubeconfig, `name an existing kubeconfig file on this machine (${expandHome(kubeconfig)} is not a file)`);
        // Only the minikube VM reads these: with an existing cluster they would silently do nothing.
        for (const name of ["profile", "cpus", "memoryMb", "diskGb"]) {
            if (s.isSet(name)) s.problem(name, s.value(name), "not be set when kind is existing: only the minikube VM reads it");
        }
    } else if (s.isSet("context")) {
        s.problem("context", context, `not be set when kind is minikube: the lab uses minikube's own context (the profile, ${profile})`);
    }
    return { kind, conductorNodes, kubeconfig, context, profile, cpus, memoryMb, diskGb, kubernetesVersion };
}

/** Names under which the lab host's own daemon may be reached (besides a unix socket). */
function labHostNames(network: NetworkConfig): Set<string> {
    return new Set(["localhost", "127.0.0.1", "::1", "[::1]", network.provisioningHostIp, network.baremetalHostIp]);
}

/** The daemon a Docker URL reaches: "lab host" for this machine's, else the remote machine's name. */
export function dockerDaemonOf(url: string, labNames: ReadonlySet<string>): string {
    if (url.startsWith("unix://")) return "lab host";
    let host: string;
    try {
        host = new URL(url).hostname.toLowerCase();
    } catch {
        return url;
    }
    return labNames.has(host) ? "lab host" : host;
}

interface DockerHosts {
    readonly hosts: DockerHostConfig[];
    /** CPUs each docker host gives the fleet: the lab host's counted, a remote one's declared or assumed. */
    readonly cpus: number[];
}

function readDockerHosts(issues: ConfigIssue[], top: Section, network: NetworkConfig, labCpus: number): DockerHosts {
    const key = top.key("dockerHosts");
    const value = top.value("dockerHosts");
    if (value === undefined || value === null) return { hosts: [{ name: "local", url: "unix:///var/run/docker.sock", address: network.baremetalHostIp }], cpus: [labCpus] };
    if (!Array.isArray(value) || value.length === 0) {
        issues.push({ key, value, allowed: "be a non-empty list of {name, url, address}" });
        return { hosts: [], cpus: [] };
    }
    const labNames = labHostNames(network);
    const names = new Set<string>();
    const daemons = new Map<string, number>();
    const cpus: number[] = [];
    const hosts = value.map((entry, i) => {
        const s = new Section(issues, `${key}[${i}].`, typeof entry === "object" && entry !== null ? entry : {});
        if (typeof entry !== "object" || entry === null) issues.push({ key: `${key}[${i}]`, value: entry, allowed: "be an object {name, url, address}" });
        const name = s.string("name", "", DNS_LABEL, "be a DNS label (lower-case letters, digits, '-')") ?? "";
        const url = s.string("url", "", DOCKER_URL, "be a Docker daemon URL: unix:///path, ssh://user@host or tcp://host:port") ?? "";
        const address = s.string("address", "", HOSTNAME, "be the IP or host name Ironic uses to reach this host") ?? "";
        for (const [field, v] of [["name", name], ["url", url], ["address", address]] as const) if (v === "" && s.value(field) === undefined) s.problem(field, undefined, "be set");
        if (name && names.has(name)) s.problem("name", name, "be unique among dockerHosts");
        names.add(name);
        const daemon = url ? dockerDaemonOf(url, labNames) : "";
        // The registry, the IPA image server and the libvirt networks live on the lab host: entry 0 is its daemon.
        if (i === 0 && url && daemon !== "lab host") {
            s.problem("url", url, `be this lab host's own Docker daemon (a unix:// socket, or ssh:// or tcp:// to localhost, ${network.provisioningHostIp} or ${network.baremetalHostIp}): the registry and IPA images are served from it; list other machines after it`);
        } else if (daemon && daemons.has(daemon)) {
            s.problem("url", url, `name a daemon not listed yet: dockerHosts[${daemons.get(daemon)}] already reaches ${daemon === "lab host" ? "this lab host's daemon" : `the daemon on ${daemon}`}`);
        }
        if (daemon && !daemons.has(daemon)) daemons.set(daemon, i);
        // The lab host's CPUs are counted; a remote host's cannot be, so it declares them or is assumed as large.
        if (i === 0) {
            if (s.isSet("cpus")) s.problem("cpus", s.value("cpus"), `not be set on the lab host's entry: its CPUs are counted (${labCpus}; ${LAB_HOST_CPUS_ENV} overrides the count when previewing elsewhere)`);
            s.value("cpus");
            cpus.push(labCpus);
        } else {
            cpus.push(s.int("cpus", labCpus, 1, 4096, " (default: as many as the lab host)"));
        }
        s.rejectUnknown();
        return { name, url, address };
    });
    return { hosts, cpus };
}

function withConductorNodes(network: NetworkConfig, mc: ManagementClusterConfig, conductors: number): NetworkConfig {
    if (mc.kind !== "existing") return network;
    return { ...network, conductorIps: mc.conductorNodes.slice(0, conductors).map((n) => n.address) };
}

/**
 * Addresses other machines use. With remote docker hosts, remote fleets call
 * the Ironic API proxy at dockerHosts[0].address and sushy-tools may notify a
 * fake-ipa on another host; on an existing cluster the nodes call the lab
 * host's fleet. An address on the lab's own libvirt networks (only the lab host
 * and its VM reach them) would be rendered into containers that cannot use it.
 */
function checkFleetAddresses(issues: ConfigIssue[], top: Section, network: NetworkConfig, mc: ManagementClusterConfig, dockerHosts: readonly DockerHostConfig[]): void {
    const remote = dockerHosts.length > 1;
    if (!remote && mc.kind !== "existing") return;
    const why = [remote ? "remote docker hosts call the Ironic API proxy at dockerHosts[0].address and fake-ipa on other docker hosts" : "", mc.kind === "existing" ? "the existing cluster's nodes call every docker host's sushy-tools and fake-ipa" : ""].filter(Boolean).join(", and ");
    const lab = [network.provisioningCidr, network.baremetalCidr].map((text) => ({ text, cidr: parseCidr(text) }));
    const onLabNetwork = (address: string) => {
        const a = parseIpv4(address);
        return a === undefined ? undefined : lab.find((n) => n.cidr && cidrContains(n.cidr, a));
    };
    if (!top.isSet("dockerHosts")) {
        top.problem("dockerHosts", undefined, `be set when managementCluster.kind is existing, with dockerHosts[0].address this lab host's address the cluster's nodes reach: ${why}; the default (${network.baremetalHostIp}) is on the lab's own baremetal network`);
        return;
    }
    dockerHosts.forEach((h, i) => {
        const net = onLabNetwork(h.address);
        if (net) {
            issues.push({
                key: `${top.key("dockerHosts")}[${i}].address`,
                value: h.address,
                allowed: `be an address the other machines route to, not one on the lab's own network ${net.text} (only the lab host and its VM reach it): ${why}`,
            });
        }
    });
    const clash = remote ? mc.conductorNodes.findIndex((n) => n.address === dockerHosts[0].address) : -1;
    if (clash >= 0) {
        issues.push({
            key: `${top.key("managementCluster")}.conductorNodes[${clash}].address`,
            value: dockerHosts[0].address,
            allowed: `differ from dockerHosts[0].address: with remote docker hosts the Ironic API proxy listens there on the Ironic API port, which this conductor binds too`,
        });
    }
}

/** Simulated hosts whose sushy-tools container runs on each docker host (container c on host c mod H). */
export function hostsPerDockerHost(cfg: Pick<LabConfig, "nodes" | "sushyStripe" | "hostsPerSushy">, dockerHosts: number): number[] {
    const counts = new Array<number>(dockerHosts).fill(0);
    for (let i = 0; i < cfg.nodes; i++) counts[sushyOf(cfg, i) % dockerHosts]++;
    return counts;
}

/** What this machine (the lab host) offers the fleet. */
export interface LabHostFacts {
    readonly cpus: number;
}

/** This machine's CPUs, or METAL3_LAB_HOST_CPUS when set (previewing a stack away from its lab host). */
export function thisLabHost(env: NodeJS.ProcessEnv = process.env): LabHostFacts {
    const declared = Number(env[LAB_HOST_CPUS_ENV]);
    return { cpus: Number.isInteger(declared) && declared > 0 ? declared : os.availableParallelism() };
}

/**
 * Validates raw stack config and derives what the user left to us. Throws one
 * LabConfigError naming every bad key, its value and what is allowed.
 */
export function loadLabConfig(raw: RawConfig, stack: string, labHost: LabHostFacts = thisLabHost()): LabConfig {
    const issues: ConfigIssue[] = [];
    const top = new Section(issues, `${PROJECT}:`, raw);
    const d = SCALAR_DEFAULTS;
    const slug = stackSlug(stack);
    reportForeignNamespaces(issues, top, raw);

    const mode = top.oneOf("mode", d.mode, MODES);
    const nodes = top.int("nodes", d.nodes, 1, MAX_NODES);
    const conductors = top.int("conductors", d.conductors, 1, 250);
    const hostsPerSushy = top.int("hostsPerSushy", d.hostsPerSushy, 1, 1000);
    const sushyRaw = top.int("sushyContainers", d.sushyContainers, 0, 1000, ` (0 = derived: blocks of ${SUSHY_STRIPE} containers x hostsPerSushy hosts)`);
    // Set, the count is one block every host is striped over; derived, blocks of SUSHY_STRIPE that growth never re-spreads.
    const sushyStripe = sushyRaw || SUSHY_STRIPE;
    const sushyContainers = sushyRaw || sushyContainersFor({ sushyStripe, hostsPerSushy }, nodes);
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
    const bmoConcurrency = top.int("bmoConcurrency", d.bmoConcurrency, 0, 200, " (0 = derived from batchSize x maxBatchesInFlight)");
    const provisioningLimit = top.int("provisioningLimit", d.provisioningLimit, 0, 5000, " (0 = derived from batchSize)");
    const minBoot = top.int("fakeIpaMinBootSeconds", d.fakeIpaMinBootSeconds, 1, 3600);
    const maxBoot = top.int("fakeIpaMaxBootSeconds", d.fakeIpaMaxBootSeconds, 1, 3600);

    if (sushyRaw === 0 && sushyContainers > 1000) {
        top.problem("hostsPerSushy", hostsPerSushy, `be large enough that ${nodes} nodes need at most 1000 sushy-tools containers (they need ${sushyContainers})`);
    }
    if (sushyRaw > 0 && sushyContainers * hostsPerSushy < nodes) {
        top.problem("sushyContainers", sushyContainers, `carry all ${nodes} nodes at hostsPerSushy=${hostsPerSushy}: at least ${Math.ceil(nodes / hostsPerSushy)} (or raise hostsPerSushy, or 0 to derive it)`);
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
    // BMO brings every host to available; only ironic mode enrolls to another state.
    if (mode !== "ironic" && targetState !== d.targetState) {
        top.problem("targetState", targetState, `be ${d.targetState} unless mode is ironic (mode is ${mode}): BMO brings every host to available`);
    }
    if (mode === "ironic") {
        // BMO tuning, and ironic mode runs no BMO.
        for (const [key, value] of [["bmoConcurrency", bmoConcurrency], ["provisioningLimit", provisioningLimit]] as const) {
            if (value > 0) top.problem(key, value, "be 0 unless mode is bmo or capi (mode is ironic): only BMO reads it");
        }
    }
    // FKAS's reconciler sidecar calls only its own localhost:3333/updateNode and FKAS's maps have no lock
    // (CAPM3 hack/fake-apiserver); upstream's scalability e2e runs one replica (test/e2e/data/fkas/resources.yaml).
    if (fakeApiServersRaw > 1) top.problem("fakeApiServers", fakeApiServersRaw, "be 0 or 1: one FKAS serves every workload cluster, as upstream runs it (each extra replica's sidecar would retry forever on clusters it does not hold)");
    if (clusters * (1 + workersPerCluster) > nodes) top.problem(clusters > nodes ? "clusters" : "workersPerCluster", clusters > nodes ? clusters : workersPerCluster, `leave a host for every machine: clusters x (1 + workersPerCluster) = ${clusters * (1 + workersPerCluster)} is more than nodes (${nodes})`);
    if (maxBoot < minBoot) top.problem("fakeIpaMaxBootSeconds", maxBoot, `be at least fakeIpaMinBootSeconds (${minBoot})`);
    const managementCluster = readManagementCluster(issues, top, slug, conductors);
    // On an existing cluster conductors take their nodes' addresses, not the provisioning network's.
    const network = withConductorNodes(readNetwork(issues, top, managementCluster.kind === "existing" ? 0 : conductors), managementCluster, conductors);
    const ports = readPorts(issues, top, sushyContainers, fakeIpaContainers, mode);
    const images = readImages(issues, top, mode);
    // FKAS listens on :3333, hard-coded (CAPM3 hack/fake-apiserver/cmd/metal3-fkas/main.go), and runs on the host network.
    if (mode === "capi" && ports.fkas !== FKAS_PORT) issues.push({ key: `${PROJECT}:ports.fkas`, value: ports.fkas, allowed: `be ${FKAS_PORT}: FKAS listens on that port, hard-coded upstream` });
    const kubernetesProblem = mode === "capi" ? managementKubernetesProblem(images, managementCluster.kubernetesVersion) : undefined;
    if (kubernetesProblem) issues.push({ key: `${PROJECT}:managementCluster.kubernetesVersion`, value: managementCluster.kubernetesVersion, allowed: kubernetesProblem });
    const { hosts: dockerHosts, cpus: dockerCpus } = readDockerHosts(issues, top, network, labHost.cpus);
    checkFleetAddresses(issues, top, network, managementCluster, dockerHosts);
    checkFleetFits(top, { nodes, sushyStripe, hostsPerSushy }, dockerHosts, dockerCpus);
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
        sushyStripe,
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
            // BMO's own default is the CPU count clamped to 2-8. Derived from the hosts in flight, not from
            // nodes: growing the lab must not restart BMO. One worker per 5 hosts in flight, 2-20.
            concurrency: bmoConcurrency || derivedBmoConcurrency(batchSize, maxBatchesInFlight),
            // At least a whole batch may inspect at once, or BMO queues the batch behind itself.
            provisioningLimit: provisioningLimit || Math.min(200, Math.max(20, batchSize)),
        },
        fakeIpa: { minBootSeconds: minBoot, maxBootSeconds: maxBoot },
        namespaces: NAMESPACES,
    });
}

/** BMO_CONCURRENCY when bmoConcurrency is 0: one worker per 5 hosts in flight (batchSize x maxBatchesInFlight), 2 to 20. */
export function derivedBmoConcurrency(batchSize: number, maxBatchesInFlight: number): number {
    return Math.min(20, Math.max(2, Math.ceil((batchSize * maxBatchesInFlight) / 5)));
}

/**
 * A docker host carries HOSTS_PER_CPU simulated hosts per CPU; a host counts
 * on the docker host of its sushy-tools container. The lab host's CPUs are
 * counted; a remote one's are declared (dockerHosts[i].cpus) or assumed equal
 * to the lab host's.
 */
function checkFleetFits(top: Section, layout: Pick<LabConfig, "nodes" | "sushyStripe" | "hostsPerSushy">, dockerHosts: readonly DockerHostConfig[], cpus: readonly number[]): void {
    if (dockerHosts.length === 0) return;
    const load = hostsPerDockerHost(layout, dockerHosts.length);
    const over = load.map((n, k) => ({ n, k, room: HOSTS_PER_CPU * cpus[k] })).filter((x) => x.n > x.room);
    if (over.length === 0) return;
    const detail = over.map((x) => `dockerHosts[${x.k}] (${dockerHosts[x.k].name || "?"}, ${cpus[x.k]} CPU${cpus[x.k] === 1 ? "" : "s"}${x.k === 0 ? " on the lab host" : ""}) carries ${x.room} but would serve ${x.n}`).join("; ");
    top.problem("nodes", layout.nodes, `fit the docker hosts at ${HOSTS_PER_CPU} hosts per CPU: ${detail}; lower nodes or add docker hosts (dockerHosts, with their cpus)`);
}

function deepFreeze<T>(value: T): T {
    if (value && typeof value === "object" && !Object.isFrozen(value)) {
        Object.freeze(value);
        for (const child of Object.values(value)) deepFreeze(child);
    }
    return value;
}
