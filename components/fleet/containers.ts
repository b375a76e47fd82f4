// Settings every lab container shares (pure).
import { DockerHostConfig, LabConfig } from "../config/types";

/** The label whose value names the stack owning a container or volume. */
export function stackLabel(cfg: Pick<LabConfig, "project">): string {
    return `${cfg.project}.stack`;
}

/** Labels that let `docker ps --filter label=...` find a stack's containers on any docker host. */
export function labLabels(cfg: Pick<LabConfig, "project" | "stack">, role: string, host: DockerHostConfig): Record<string, string> {
    return {
        [stackLabel(cfg)]: cfg.stack,
        [`${cfg.project}.role`]: role,
        [`${cfg.project}.docker-host`]: host.name,
    };
}

/**
 * Health = something accepts TCP on the port. The sushy-tools and fake-ipa
 * images are python:3-slim (no curl), and neither serves an unauthenticated
 * GET that every version answers with 200, so a connect is the honest check.
 */
export function tcpHealthCmd(port: number): string {
    return `python3 -c 'import socket; socket.create_connection(("127.0.0.1", ${port}), 2).close()'`;
}

/** Container i of a fleet runs on docker host i mod H. */
export function dockerHostFor(cfg: Pick<LabConfig, "dockerHosts">, index: number): { host: DockerHostConfig; hostIndex: number } {
    const hostIndex = index % cfg.dockerHosts.length;
    return { host: cfg.dockerHosts[hostIndex], hostIndex };
}

/**
 * The lab host's docker daemon: the one that owns provisioningHostIp, where the
 * registry and the IPA image server run. dockerHosts[0] unless a URL is given.
 */
export function labDockerHost(cfg: Pick<LabConfig, "dockerHosts" | "network">, url?: string): DockerHostConfig {
    const wanted = url ?? cfg.dockerHosts[0].url;
    return cfg.dockerHosts.find((h) => h.url === wanted) ?? { name: "lab-host", url: wanted, address: cfg.network.provisioningHostIp };
}
