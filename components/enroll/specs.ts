// What each kind of batch is told about a host, derived from the inventory
// (pure: the same host always gives the same spec, so unchanged hosts never
// show up in a diff).
import { LabConfig } from "../config/types";
import { Host } from "../inventory/inventory";
import { ipaImageUrls } from "../registry/ipaImages";
import type { BmhSpec } from "./bareMetalHostBatch";
import type { IronicNodeSpec } from "./ironicNodeBatch";
import { expandNode, IronicNodeDefaults, IronicNodeEntry } from "./nodeDefaults";

/**
 * Hardware interfaces every lab node pins instead of taking whatever the conductor's
 * image defaults to: the lab works only with these. Each is enabled in ironic-image
 * v35.0.2 (ironic-config/ironic.conf.j2; test/contracts/ironicNodeSpec.test.ts).
 */
export const REDFISH_NODE_INTERFACES: Readonly<Record<string, string>> = {
    // Same as BMO for a redfish:// BMC (pkg/hardwareutils/bmc/redfish.go BootInterface).
    boot_interface: "ipxe",
    deploy_interface: "direct",
    // In-band inspection by the agent: fake-ipa posts the inventory to /v1/continue_inspection.
    inspect_interface: "agent",
    management_interface: "redfish",
    power_interface: "redfish",
};

/** What every lab node shares, declared once per batch: redfish via sushy-tools with the fleet's BMC user, IPA from the lab host's image cache. */
export function redfishNodeDefaults(cfg: Pick<LabConfig, "network" | "ports" | "managementCluster" | "dockerHosts">, bmcUsername: string): IronicNodeDefaults {
    const ipa = ipaImageUrls(cfg);
    return {
        driver: "redfish",
        interfaces: { ...REDFISH_NODE_INTERFACES },
        driverInfo: { redfish_username: bmcUsername, redfish_verify_ca: "false", deploy_kernel: ipa.kernel, deploy_ramdisk: ipa.ramdisk },
        properties: { cpu_arch: "x86_64" },
    };
}

/** A lab host's own part of its node: name, uuid, boot MAC, and its BMC (its sushy-tools container and system there). */
export function redfishNodeEntry(host: Host): IronicNodeEntry {
    return {
        name: host.name,
        uuid: host.uuid,
        bootMac: host.bootMac,
        driverInfo: { redfish_address: host.sushyEndpoint, redfish_system_id: host.redfishSystemId },
    };
}

/** A lab host as a redfish Ironic node pointing at its own sushy-tools container; IPA from the lab host's image cache. */
export function redfishNodeSpec(host: Host, cfg: Pick<LabConfig, "network" | "ports" | "managementCluster" | "dockerHosts">, bmcUsername: string): IronicNodeSpec {
    return expandNode(redfishNodeDefaults(cfg, bmcUsername), redfishNodeEntry(host));
}

/** What every node shares on an Ironic with the fake-hardware type only (tests, dry runs): no BMC at all. */
export function fakeHardwareNodeDefaults(): IronicNodeDefaults {
    return { driver: "fake-hardware", properties: { cpu_arch: "x86_64" } };
}

/** A host's own part of its fake-hardware node. */
export function fakeHardwareNodeEntry(host: Host): IronicNodeEntry {
    return { name: host.name, uuid: host.uuid, bootMac: host.bootMac };
}

/** The same host for an Ironic with the fake-hardware type only, in full. */
export function fakeHardwareNodeSpec(host: Host): IronicNodeSpec {
    return expandNode(fakeHardwareNodeDefaults(), fakeHardwareNodeEntry(host));
}

/** A lab host as a BareMetalHost, as the study's create_nodes.py wrote it (legacy boot, online). */
export function bareMetalHostSpec(host: Host, cfg: Pick<LabConfig, "inspectHosts">): BmhSpec {
    const spec: BmhSpec = { name: host.name, bootMac: host.bootMac, bmcAddress: host.redfishAddress, bootMode: "legacy", online: true };
    // Only a skip is written: an inspected host's spec stays as before, so turning the key on changes no batch.
    return cfg.inspectHosts ? spec : { ...spec, inspectionMode: "disabled" };
}
