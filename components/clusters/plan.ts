// Which clusters a stack has, which hosts each one gets and which node image
// they deploy (pure). Cluster k takes the 1 + workersPerCluster hosts that
// follow cluster k-1's in inventory order, so adding clusters never moves an
// existing one to other hosts.
import { LabConfig } from "../config/types";
import { Host } from "../inventory/inventory";
import { ipaImageUrls, NODE_IMAGE } from "../registry/ipaImages";
import { ClusterSpec, NodeImage } from "./render";

export type ClusterPlanConfig = Pick<LabConfig, "slug" | "clusters" | "workersPerCluster">;

export function clusterName(slug: string, index: number): string {
    return `${slug}-cluster-${String(index).padStart(5, "0")}`;
}

/** `clusters` clusters on the first clusters x (1 + workersPerCluster) hosts, in inventory order. */
export function planClusters(cfg: ClusterPlanConfig, hosts: readonly Pick<Host, "name">[]): ClusterSpec[] {
    const per = 1 + cfg.workersPerCluster;
    if (cfg.clusters * per > hosts.length) {
        throw new Error(`${cfg.clusters} clusters of ${per} machines need ${cfg.clusters * per} hosts; the inventory has ${hosts.length}`);
    }
    return Array.from({ length: cfg.clusters }, (_, k) => ({
        name: clusterName(cfg.slug, k),
        controlPlaneHost: hosts[k * per].name,
        workerHosts: hosts.slice(k * per + 1, (k + 1) * per).map((h) => h.name),
    }));
}

/** The node image at the lab host's image cache; its checksum is the `<file>.sha256sum` file next to it. */
export function nodeImage(cfg: Pick<LabConfig, "network" | "ports" | "managementCluster" | "dockerHosts">): NodeImage {
    const url = `${ipaImageUrls(cfg).base}/${NODE_IMAGE.file}`;
    return { url, checksum: `${url}.${NODE_IMAGE.checksumType}sum`, checksumType: NODE_IMAGE.checksumType, format: NODE_IMAGE.format };
}
