// Settings every lab container shares (pure).
import * as docker from "@pulumi/docker";
import { DockerHostConfig, LabConfig } from "../config/types";

/** Labels that let `docker ps --filter label=...` find a stack's containers on any docker host. */
export function labLabels(cfg: Pick<LabConfig, "project" | "stack">, role: string, host: DockerHostConfig): docker.types.input.ContainerLabel[] {
    return [
        { label: `${cfg.project}.stack`, value: cfg.stack },
        { label: `${cfg.project}.role`, value: role },
        { label: `${cfg.project}.docker-host`, value: host.name },
    ];
}

/**
 * Health = something accepts TCP on the port. The sushy-tools and fake-ipa
 * images are python:3-slim (no curl), and neither serves an unauthenticated
 * GET that every version answers with 200, so a connect is the honest check.
 * With `wait`, the container resource only succeeds once the service listens.
 */
export function tcpHealthcheck(port: number): docker.types.input.ContainerHealthcheck {
    return {
        tests: ["CMD", "python3", "-c", `import socket; socket.create_connection(("127.0.0.1", ${port}), 2).close()`],
        interval: "5s",
        timeout: "3s",
        startPeriod: "10s",
        retries: 6,
    };
}

/** Fleets place container i with providers[i mod H]: the providers must match config.dockerHosts one to one. */
export function requireProviderPerHost(component: string, cfg: Pick<LabConfig, "dockerHosts">, providers: readonly unknown[]): void {
    if (providers.length !== cfg.dockerHosts.length) {
        throw new Error(`${component} needs one docker provider per dockerHosts entry (${cfg.dockerHosts.length}), got ${providers.length}`);
    }
}

/** Container i of a fleet runs on docker host i mod H. */
export function dockerHostFor(cfg: Pick<LabConfig, "dockerHosts">, index: number): { host: DockerHostConfig; hostIndex: number } {
    const hostIndex = index % cfg.dockerHosts.length;
    return { host: cfg.dockerHosts[hostIndex], hostIndex };
}
