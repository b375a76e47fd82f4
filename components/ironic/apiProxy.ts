// The Ironic API as remote fleets reach it (pure): with remote docker hosts the
// lab host publishes the API on its routable address (dockerHosts[0].address)
// through a TCP proxy over every conductor, because the conductors' own
// addresses live on the lab's isolated provisioning network (or, on an
// existing cluster, wherever its nodes are). ./ironicApiProxy.ts runs it.
import * as fs from "fs";
import * as path from "path";
import { DockerHostConfig, LabConfig } from "../config/types";
import { parseIpv4 } from "../network/ipv4";
import { shQuote } from "../shell";

export type ApiProxyInputs = Pick<LabConfig, "slug" | "dockerHosts" | "ports">;

/** Where the proxy program and its config are put in the container. */
export const API_PROXY_SCRIPT_PATH = "/etc/metal3-scale-lab/tcp-proxy.py";
export const API_PROXY_CONF_PATH = "/etc/metal3-scale-lab/tcp-proxy.json";
/** The proxy program (standard-library Python, run by the ironic image's python3.12). */
export const API_PROXY_SCRIPT_FILE = path.join(__dirname, "tcpProxy.py");
export const API_PROXY_PYTHON = "python3.12";
export const API_PROXY_CONNECT_TIMEOUT_SECONDS = 5;
export const API_PROXY_WAIT_SECONDS = 60;

let script: string | undefined;
/** The proxy program's source, read once. */
export function apiProxyScript(): string {
    script ??= fs.readFileSync(API_PROXY_SCRIPT_FILE, "utf8");
    return script;
}

/** Only remote fleets need the proxy: lab-host containers reach the conductors directly. */
export function needsIronicApiProxy(cfg: Pick<LabConfig, "dockerHosts">): boolean {
    return cfg.dockerHosts.length > 1;
}

/** The address the proxy listens on and every conductor certificate names too; undefined without remote docker hosts. */
export function ironicApiProxyAddress(cfg: Pick<LabConfig, "dockerHosts">): string | undefined {
    return needsIronicApiProxy(cfg) ? cfg.dockerHosts[0].address : undefined;
}

export function ironicApiProxyUrl(cfg: Pick<LabConfig, "dockerHosts" | "ports">): string {
    const address = ironicApiProxyAddress(cfg);
    if (!address) throw new Error("the Ironic API proxy runs only with remote docker hosts");
    return `https://${address}:${cfg.ports.ironicApi}`;
}

/** A certificate's subject names for extra addresses: IPs as ipAddresses, host names as dnsNames. */
export function subjectNames(addresses: readonly string[]): { ipAddresses: string[]; dnsNames: string[] } {
    const ipAddresses = addresses.filter((a) => parseIpv4(a) !== undefined);
    return { ipAddresses, dnsNames: addresses.filter((a) => !ipAddresses.includes(a)) };
}

export interface HostPort {
    readonly host: string;
    readonly port: number;
}

export interface ApiProxyPlan {
    readonly containerName: string;
    readonly dockerHost: DockerHostConfig;
    readonly listen: HostPort;
    readonly backends: readonly HostPort[];
}

function hostPort(url: string): HostPort {
    const u = new URL(url);
    if (!u.port) throw new Error(`conductor endpoint ${url} has no port`);
    return { host: u.hostname, port: Number(u.port) };
}

/** The proxy on the lab host: listen on dockerHosts[0].address at the Ironic API port, one backend per conductor endpoint. */
export function ironicApiProxyPlan(cfg: ApiProxyInputs, conductorEndpoints: readonly string[]): ApiProxyPlan {
    const address = ironicApiProxyAddress(cfg);
    if (!address) throw new Error("the Ironic API proxy runs only with remote docker hosts");
    if (conductorEndpoints.length === 0) throw new Error("the Ironic API proxy needs at least one conductor");
    return {
        containerName: `${cfg.slug}-ironic-api-proxy`,
        dockerHost: cfg.dockerHosts[0],
        listen: { host: address, port: cfg.ports.ironicApi },
        backends: conductorEndpoints.map(hostPort),
    };
}

/** The proxy's config file (JSON, read by tcpProxy.py). */
export function renderApiProxyConfig(plan: Pick<ApiProxyPlan, "listen" | "backends">): string {
    return JSON.stringify({ listen: plan.listen, backends: plan.backends, connectTimeoutSeconds: API_PROXY_CONNECT_TIMEOUT_SECONDS }, null, 2) + "\n";
}

/** Healthy once the proxy accepts connections on its listen address. */
export function apiProxyHealthCmd(listen: HostPort): string {
    return `${API_PROXY_PYTHON} -c ${shQuote(`import socket; socket.create_connection((${JSON.stringify(listen.host)}, ${listen.port}), 2).close()`)}`;
}
