// Where the IPA kernel/ramdisk live (pure). ironic-ipa-downloader fills a cache
// directory on the lab host, and the lab host serves it over plain HTTP on the
// provisioning network (an existing cluster's nodes: on its routable address),
// so conductors, BMO and node specs all name the same URLs and a rebuilt
// management cluster never downloads the images again.
import { LabConfig } from "../config/types";

/** File names ironic-ipa-downloader writes under <SHARED_DIR>/html/images (get-resource.sh). */
export const IPA_KERNEL = "ironic-python-agent.kernel";
export const IPA_RAMDISK = "ironic-python-agent.initramfs";

export interface IpaImageUrls {
    /** http://<imageCacheHost>:<imageCache>: the cache's document root (ironic-image's IRONIC_IPA_BASE_URL). */
    readonly root: string;
    /** <root>/images */
    readonly base: string;
    readonly kernel: string;
    readonly ramdisk: string;
}

type CacheInputs = Pick<LabConfig, "network" | "ports" | "managementCluster" | "dockerHosts">;

/**
 * The address the cache is served on: the provisioning bridge, which minikube's VM is attached to;
 * for an existing cluster, whose nodes are on no lab bridge, the lab host's routable address
 * (dockerHosts[0], which the loader requires to be routable there).
 */
export function imageCacheHost(cfg: CacheInputs): string {
    return cfg.managementCluster.kind === "existing" ? cfg.dockerHosts[0].address : cfg.network.provisioningHostIp;
}

export function ipaImageUrls(cfg: CacheInputs): IpaImageUrls {
    const root = `http://${imageCacheHost(cfg)}:${cfg.ports.imageCache}`;
    const base = `${root}/images`;
    return { root, base, kernel: `${base}/${IPA_KERNEL}`, ramdisk: `${base}/${IPA_RAMDISK}` };
}

/**
 * The node image every workload machine "deploys" in capi mode: a placeholder
 * the same server hosts next to the IPA images, with its checksum file
 * (fake-ipa writes no disk; Ironic only needs the URL and its checksum to answer).
 */
export const NODE_IMAGE = { file: "node-image.raw", checksumType: "sha256", format: "raw", bytes: 1024 * 1024 } as const;
