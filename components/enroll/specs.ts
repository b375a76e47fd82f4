// What each kind of batch is told about a host, derived from the inventory
// (pure: the same host always gives the same spec, so unchanged hosts never
// show up in a diff).
import { LabConfig } from "../config/types";
import { Host } from "../inventory/inventory";
import type { BmhSpec } from "./bareMetalHostBatch";
import type { IronicNodeSpec } from "./ironicNodeBatch";

/** IPA kernel/ramdisk served by the first conductor's httpd; fake-ipa never boots them, Ironic requires them. */
export function deployImageUrls(cfg: Pick<LabConfig, "network" | "ports">): { kernel: string; ramdisk: string } {
    const base = `http://${cfg.network.conductorIps[0]}:${cfg.ports.httpd}/images`;
    return { kernel: `${base}/ironic-python-agent.kernel`, ramdisk: `${base}/ironic-python-agent.initramfs` };
}

/** A lab host as a redfish Ironic node pointing at its own sushy-tools container. */
export function redfishNodeSpec(host: Host, images: { kernel: string; ramdisk: string }, bmcUsername: string): IronicNodeSpec {
    return {
        name: host.name,
        uuid: host.uuid,
        bootMac: host.bootMac,
        driver: "redfish",
        driverInfo: {
            redfish_address: host.sushyEndpoint,
            redfish_system_id: host.redfishSystemId,
            redfish_username: bmcUsername,
            redfish_verify_ca: "false",
            deploy_kernel: images.kernel,
            deploy_ramdisk: images.ramdisk,
        },
        properties: { cpu_arch: "x86_64" },
    };
}

/** The same host for an Ironic with the fake-hardware type only (tests, dry runs): no BMC at all. */
export function fakeHardwareNodeSpec(host: Host): IronicNodeSpec {
    return { name: host.name, uuid: host.uuid, bootMac: host.bootMac, driver: "fake-hardware", driverInfo: {}, properties: { cpu_arch: "x86_64" } };
}

/** A lab host as a BareMetalHost, as the study's create_nodes.py wrote it (legacy boot, online). */
export function bareMetalHostSpec(host: Host): BmhSpec {
    return { name: host.name, bootMac: host.bootMac, bmcAddress: host.redfishAddress, bootMode: "legacy", online: true };
}
