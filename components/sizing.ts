// What a stack needs from its lab host (pure): CPUs, memory and disk, from the
// management VM's own settings plus what the lab host runs beside it. Used by
// scripts/check-prereqs.sh (through scripts/sizing.ts) and quoted in README.
import { HOSTS_PER_CPU } from "./config/defaults";
import { hostsPerDockerHost } from "./config/load";
import { LabConfig } from "./config/types";

/**
 * Resident memory of one sushy-tools emulator, measured here with the
 * renderer's own conf.py (100 and 1,000 fake systems: 83 and 85 MiB RSS, the
 * system list is small next to Python and Flask), rounded up.
 */
export const SUSHY_MIB = 96;
/** fake-ipa keeps one in-memory agent per powered-on host: an estimate (not measured here), per container. */
export const FAKE_IPA_MIB = 128;
/** registry:2 and the IPA image server (Python's http.server): an estimate. */
export const LAB_HOST_SERVICES_MIB = 256;
/** What the lab host itself keeps for its OS, libvirt, Docker and `pulumi up` (Node, the providers). */
export const LAB_HOST_RESERVED_MIB = 2048;
/** CPUs the lab host keeps beside the VM (Docker, libvirt, the fleet's Python processes, Pulumi). */
export const LAB_HOST_RESERVED_CPUS = 2;
/**
 * Disk on the lab host besides the VM's: the mirrored images are pulled once
 * and pushed once (two copies), the IPA cache, libvirt and Docker overhead. An
 * estimate: the images' sizes could not be fetched here.
 */
export const LAB_HOST_DISK_GIB = 40;

export interface LabHostSizing {
    readonly cpus: number;
    readonly memoryMib: number;
    readonly diskGib: number;
    /** How each figure is made up, for messages. */
    readonly parts: { readonly vm: { cpus: number; memoryMib: number; diskGib: number }; readonly fleetContainers: number; readonly fleetHosts: number };
}

export function labHostSizing(cfg: Pick<LabConfig, "managementCluster" | "nodes" | "sushyStripe" | "hostsPerSushy" | "sushyContainers" | "fakeIpaContainers" | "dockerHosts">): LabHostSizing {
    // Only the lab host's share of the fleet runs here (container i on docker host i mod H).
    const share = (count: number) => Math.ceil(count / cfg.dockerHosts.length);
    const sushy = share(cfg.sushyContainers);
    const fakeIpa = share(cfg.fakeIpaContainers);
    const vm = cfg.managementCluster.kind === "minikube" ? { cpus: cfg.managementCluster.cpus, memoryMib: cfg.managementCluster.memoryMb, diskGib: cfg.managementCluster.diskGb } : { cpus: 0, memoryMib: 0, diskGib: 0 };
    const fleetContainers = sushy + fakeIpa;
    // The loader's rule: HOSTS_PER_CPU simulated hosts per CPU of the docker host their sushy-tools runs on.
    const fleetHosts = hostsPerDockerHost(cfg, cfg.dockerHosts.length)[0];
    return {
        cpus: vm.cpus + LAB_HOST_RESERVED_CPUS + Math.ceil(fleetHosts / HOSTS_PER_CPU),
        memoryMib: vm.memoryMib + LAB_HOST_RESERVED_MIB + LAB_HOST_SERVICES_MIB + sushy * SUSHY_MIB + fakeIpa * FAKE_IPA_MIB,
        diskGib: vm.diskGib + LAB_HOST_DISK_GIB,
        parts: { vm, fleetContainers, fleetHosts },
    };
}
