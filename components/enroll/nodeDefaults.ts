// An IronicNodeBatch's nodes as declared: what they all share (driver,
// interfaces, the common driver_info and properties) once per batch in
// `nodeDefaults`, and per host only its own fields (name, uuid, boot MAC, its
// BMC's address...). The SDK serializes each value of a resource's inputs on
// its own, so full specs cost a batch about four times the values. The split is
// fixed by the declaration, never derived from the hosts: a batch that gains or
// changes one host shows only that host's entry changed in `pulumi preview --diff`.
// The provider expands the entries back here (pure, no SDK: it runs in
// `__provider`), and state written before node defaults existed (full specs,
// no `nodeDefaults`) expands to the same nodes, so it diffs as unchanged.
import type { IronicNodeSpec } from "./ironicNodeBatch";

/** What every node of a batch has unless its host's entry says otherwise. */
export interface IronicNodeDefaults {
    readonly driver?: string;
    readonly interfaces?: Record<string, string>;
    readonly driverInfo?: Record<string, string>;
    readonly properties?: Record<string, string | number>;
}

/** One host as a batch declares it: its own fields over the batch's node defaults. A full IronicNodeSpec is one too. */
export type IronicNodeEntry = Pick<IronicNodeSpec, "name" | "uuid" | "bootMac"> & IronicNodeDefaults;

/** The declared shape of a batch's hosts: entries, and the defaults they stand on (absent in state from before them). */
export interface DeclaredNodes {
    readonly hosts?: readonly IronicNodeEntry[];
    readonly nodeDefaults?: IronicNodeDefaults;
}

/**
 * The node a host's entry stands for: the entry's fields over the defaults, record by record
 * (a host's driverInfo key wins over the batch's). An empty interfaces or properties record is
 * left out, so a spec and its split expand to the same JSON.
 */
export function expandNode(defaults: IronicNodeDefaults | undefined, entry: IronicNodeEntry): IronicNodeSpec {
    const interfaces = merged(defaults?.interfaces, entry.interfaces);
    const properties = merged(defaults?.properties, entry.properties);
    return {
        name: entry.name,
        uuid: entry.uuid,
        bootMac: entry.bootMac,
        driver: entry.driver ?? defaults?.driver ?? "",
        ...(interfaces ? { interfaces } : {}),
        driverInfo: merged(defaults?.driverInfo, entry.driverInfo) ?? {},
        ...(properties ? { properties } : {}),
    };
}

/** Every host of a batch in full, whichever shape its inputs have; not a list (inputs check() refuses): none. */
export function expandHosts(declared: DeclaredNodes): IronicNodeSpec[] {
    if (!Array.isArray(declared.hosts)) return [];
    const defaults = isRecord(declared.nodeDefaults) ? declared.nodeDefaults : undefined;
    return declared.hosts.map((entry: unknown) => (isRecord(entry) ? expandNode(defaults, entry as IronicNodeEntry) : (entry as IronicNodeSpec)));
}

/** The inputs with every host in full and no nodeDefaults: what the provider works on, and the shape of state from before node defaults. */
export function withHostsInFull<T extends DeclaredNodes>(declared: T): Omit<T, "hosts" | "nodeDefaults"> & { hosts: IronicNodeSpec[] } {
    const { nodeDefaults: _, hosts: __, ...rest } = declared;
    return { ...rest, hosts: expandHosts(declared) };
}

function merged<V>(base: Record<string, V> | undefined, own: Record<string, V> | undefined): Record<string, V> | undefined {
    const all = { ...(isRecord(base) ? base : {}), ...(isRecord(own) ? own : {}) };
    return Object.keys(all).length > 0 ? all : undefined;
}

function isRecord(value: unknown): value is Record<string, any> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}
