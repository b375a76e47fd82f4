// The simulated hosts, derived deterministically from the stack and index: the
// same inputs give the same inventory, and more nodes only append hosts, each
// served by a sushy-tools container that never depends on how many hosts there are.
import { createHash } from "crypto";
import { MAX_NODES } from "../config/defaults";
import { LabConfig } from "../config/types";

export interface Host {
    readonly index: number;
    /** Host (BareMetalHost / Ironic node) name: `<slug>-host-<5-digit index>`. */
    readonly name: string;
    /** Name-based (v5-style) UUID; also the Redfish system id in sushy-tools. */
    readonly uuid: string;
    /** Locally administered unicast MAC, unique per index within a stack. */
    readonly bootMac: string;
    /** sushy-tools container serving this host's Redfish system. */
    readonly sushy: number;
    /** fake-ipa container that plays this host's agent. */
    readonly fakeIpa: number;
    /** Where that sushy-tools container listens: http://<address>:<port>. */
    readonly sushyEndpoint: string;
    /** BMC address as BareMetalHost wants it. */
    readonly redfishAddress: string;
    /** redfish_system_id as Ironic's redfish driver wants it. */
    readonly redfishSystemId: string;
}

/** What one host's identity and placement depend on (not `nodes`: a host never moves). */
export type HostConfig = Pick<LabConfig, "stack" | "slug" | "sushyStripe" | "hostsPerSushy" | "fakeIpaContainers" | "dockerHosts" | "ports">;
export type InventoryConfig = HostConfig & Pick<LabConfig, "nodes">;

/**
 * Where hosts live in the sushy-tools fleet. Hosts come in blocks of
 * `sushyStripe x hostsPerSushy`; block b is striped over its own containers
 * b*sushyStripe .. b*sushyStripe + sushyStripe - 1 (host i -> slot i mod
 * sushyStripe), so a batch of consecutive hosts spreads over up to sushyStripe
 * containers, and a host's container depends on its index alone: growing or
 * shrinking `nodes` never moves a host.
 */
export type SushyLayout = Pick<LabConfig, "sushyStripe" | "hostsPerSushy">;

/** The sushy-tools container of host `index`. */
export function sushyOf(layout: SushyLayout, index: number): number {
    const block = Math.floor(index / (layout.sushyStripe * layout.hostsPerSushy));
    return block * layout.sushyStripe + (index % layout.sushyStripe);
}

/** Containers that serve at least one of `nodes` hosts: every whole block, then the first containers of the last one. */
export function sushyContainersFor(layout: SushyLayout, nodes: number): number {
    const blockHosts = layout.sushyStripe * layout.hostsPerSushy;
    return Math.floor(nodes / blockHosts) * layout.sushyStripe + Math.min(layout.sushyStripe, nodes % blockHosts);
}

/**
 * Every host index container `container` will ever serve, in order: its
 * hostsPerSushy slots in its block (below MAX_NODES, the most a lab can have).
 * The fleet declares this whole share up front, so hosts added later are
 * already there and no running container is re-created when `nodes` changes.
 */
export function sushyShare(layout: SushyLayout, container: number): number[] {
    const block = Math.floor(container / layout.sushyStripe);
    const first = block * layout.sushyStripe * layout.hostsPerSushy + (container % layout.sushyStripe);
    const share: number[] = [];
    for (let k = 0; k < layout.hostsPerSushy && first + k * layout.sushyStripe < MAX_NODES; k++) share.push(first + k * layout.sushyStripe);
    return share;
}


// Fixed namespace for the lab's name-based UUIDs (any constant works; it must never change).
const UUID_NAMESPACE = Buffer.from("5b0d5f3e9d0a4c6e8f1b2a3c4d5e6f70", "hex");

/** RFC 4122 version-5 UUID of `name` in the lab namespace. */
export function nameUuid(name: string): string {
    const hash = createHash("sha1").update(UUID_NAMESPACE).update(name).digest();
    hash[6] = (hash[6] & 0x0f) | 0x50;
    hash[8] = (hash[8] & 0x3f) | 0x80;
    const h = hash.subarray(0, 16).toString("hex");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Boot MAC: three octets from the stack (locally administered, unicast) and the
 * index in the other three, so MACs never collide within a stack (up to 16M hosts).
 */
export function bootMac(stack: string, index: number): string {
    return macWithPrefix(macPrefix(stack), index);
}

/** The stack's three MAC octets ("02:ab:cd"), computed once per inventory. */
function macPrefix(stack: string): string {
    const hash = createHash("sha1").update(`mac:${stack}`).digest();
    return [(hash[0] & 0xfc) | 0x02, hash[1], hash[2]].map(hex2).join(":");
}

function macWithPrefix(prefix: string, index: number): string {
    return `${prefix}:${hex2((index >>> 16) & 255)}:${hex2((index >>> 8) & 255)}:${hex2(index & 255)}`;
}

function hex2(octet: number): string {
    return octet.toString(16).padStart(2, "0");
}

export function hostName(slug: string, index: number): string {
    return `${slug}-host-${String(index).padStart(5, "0")}`;
}

/** Where sushy-tools container c listens: on docker host c mod H, port sushyBase + c. */
export function sushyEndpoint(cfg: Pick<LabConfig, "dockerHosts" | "ports">, container: number): string {
    return `http://${cfg.dockerHosts[container % cfg.dockerHosts.length].address}:${cfg.ports.sushyBase + container}`;
}

export function makeHost(cfg: HostConfig, index: number, mac = macPrefix(cfg.stack)): Host {
    const name = hostName(cfg.slug, index);
    const uuid = nameUuid(`${cfg.stack}/${index}`);
    const sushy = sushyOf(cfg, index);
    const endpoint = sushyEndpoint(cfg, sushy);
    const redfishSystemId = `/redfish/v1/Systems/${uuid}`;
    return {
        index,
        name,
        uuid,
        bootMac: macWithPrefix(mac, index),
        sushy,
        // Container c notifies fake-ipa c mod F: stable while F is.
        fakeIpa: sushy % cfg.fakeIpaContainers,
        sushyEndpoint: endpoint,
        redfishAddress: `redfish+${endpoint}${redfishSystemId}`,
        redfishSystemId,
    };
}

/** The hosts with these indices, whether or not they are among the first `nodes`. */
export function makeHosts(cfg: HostConfig, indices: readonly number[]): Host[] {
    const mac = macPrefix(cfg.stack);
    return indices.map((i) => makeHost(cfg, i, mac));
}

export function buildInventory(cfg: InventoryConfig): Host[] {
    return makeHosts(cfg, Array.from({ length: cfg.nodes }, (_, i) => i));
}

export interface Batch<T = Host> {
    readonly index: number;
    readonly hosts: readonly T[];
}

/** Consecutive batches of `batchSize` hosts (or clusters); more nodes fill the last batch, then add new ones. */
export function planBatches<T = Host>(hosts: readonly T[], batchSize: number): Batch<T>[] {
    const batches: Batch<T>[] = [];
    for (let start = 0; start < hosts.length; start += batchSize) {
        batches.push({ index: batches.length, hosts: hosts.slice(start, start + batchSize) });
    }
    return batches;
}
