// The simulated hosts, derived deterministically from the stack and index: the
// same inputs give the same inventory, and more nodes only append hosts.
import { createHash } from "crypto";
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

export type InventoryConfig = Pick<LabConfig, "stack" | "slug" | "nodes" | "sushyContainers" | "fakeIpaContainers" | "dockerHosts" | "ports">;

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

/**
 * Host i is served by sushy container i mod S (so every batch spreads over the
 * whole fleet), whose notifications go to fake-ipa (i mod S) mod F. Container c
 * runs on docker host c mod H and listens on sushyBase + c.
 */
/** Where sushy-tools container c listens: on docker host c mod H, port sushyBase + c. */
export function sushyEndpoint(cfg: Pick<LabConfig, "dockerHosts" | "ports">, container: number): string {
    return `http://${cfg.dockerHosts[container % cfg.dockerHosts.length].address}:${cfg.ports.sushyBase + container}`;
}

export function makeHost(cfg: InventoryConfig, index: number, mac = macPrefix(cfg.stack)): Host {
    const name = hostName(cfg.slug, index);
    const uuid = nameUuid(`${cfg.stack}/${index}`);
    const sushy = index % cfg.sushyContainers;
    const endpoint = sushyEndpoint(cfg, sushy);
    const redfishSystemId = `/redfish/v1/Systems/${uuid}`;
    return {
        index,
        name,
        uuid,
        bootMac: macWithPrefix(mac, index),
        sushy,
        fakeIpa: sushy % cfg.fakeIpaContainers,
        sushyEndpoint: endpoint,
        redfishAddress: `redfish+${endpoint}${redfishSystemId}`,
        redfishSystemId,
    };
}

export function buildInventory(cfg: InventoryConfig): Host[] {
    const mac = macPrefix(cfg.stack);
    return Array.from({ length: cfg.nodes }, (_, i) => makeHost(cfg, i, mac));
}

/** The hosts of each sushy-tools container: container c gets exactly its own share. */
export function hostsBySushy(hosts: readonly Host[], sushyContainers: number): Host[][] {
    const shares: Host[][] = Array.from({ length: sushyContainers }, () => []);
    for (const h of hosts) shares[h.sushy].push(h);
    return shares;
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
