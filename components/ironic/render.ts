// Pure rendering for the Ironic cluster: names, per-conductor plans, env maps
// and Kubernetes manifests as plain objects. No resources are created here, so
// everything is unit-tested without the engine; ./ironicCluster.ts only wires
// these objects into resources.
import type * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import { LabConfig } from "../config/types";
import { childName, indexed } from "../naming";
import { DB_MAX_OVERFLOW, DB_POOL_SIZE } from "./sizing";
import { imageParts } from "../registry/images";
import { IPA_KERNEL, IPA_RAMDISK, IpaImageUrls } from "../registry/ipaImages";
import { shQuote, shScript } from "../shell";

type DeploymentSpec = k8s.types.input.apps.v1.DeploymentSpec;

/**
 * One replica, replaced rather than rolled: the old pod must be gone before the
 * new one binds its fixed IP:ports (host network) or its data.
 */
function singletonDeployment(selector: Record<string, string>, hostNetwork: boolean, pod: k8s.types.input.core.v1.PodSpec): DeploymentSpec {
    const spec = hostNetwork ? { hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet", ...pod } : pod;
    return { replicas: 1, strategy: { type: "Recreate" }, selector: { matchLabels: selector }, template: { metadata: { labels: selector }, spec } };
}
type Container = k8s.types.input.core.v1.Container;
type Volume = k8s.types.input.core.v1.Volume;
type VolumeMount = k8s.types.input.core.v1.VolumeMount;

/** Ironic's API user (htpasswd) and the database user; the passwords are generated. */
export const API_USERNAME = "ironic";
export const DB_USERNAME = "ironic";
export const DB_NAME = "ironic";
export const MARIADB_PORT = 3306;

/** Where cert-manager is installed (the Helm release's namespace). */
export const CERT_MANAGER_NAMESPACE = "cert-manager";
export const CERT_MANAGER_CHART_REPO = "https://charts.jetstack.io";

const PART_OF = "metal3-scale-lab";
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A Kubernetes object name; thrown on at program time rather than rejected by the API server. */
export function k8sName(name: string): string {
    if (name.length > 63 || !DNS_LABEL.test(name)) throw new Error(`"${name}" is not a valid Kubernetes name (DNS-1123 label, at most 63 characters)`);
    return name;
}

export function labels(instance: string, component: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
        ...extra,
    };
}

/** Names of the cluster-wide (not per-conductor) objects of an IronicCluster called `name`. */
export interface IronicNames {
    readonly ca: string;
    readonly credentials: string;
    readonly auth: string;
    readonly dbSecret: string;
    readonly mariadb: string;
    /** MariaDB's data (PersistentVolumeClaim). */
    readonly mariadbData: string;
    /** MariaDB's my.cnf read on every boot (ConfigMap). */
    readonly mariadbConfig: string;
    /** The Job applying a changed max_connections to the running MariaDB. */
    readonly mariadbLimit: string;
    readonly dnsmasq: string;
}

export function ironicNames(name: string): IronicNames {
    const n = (part: string) => k8sName(childName(name, part));
    return {
        ca: n("ca"),
        credentials: n("credentials"),
        auth: n("auth"),
        dbSecret: n("mariadb-credentials"),
        mariadb: n("mariadb"),
        mariadbData: n("mariadb-data"),
        mariadbConfig: n("mariadb-config"),
        mariadbLimit: n("mariadb-max-connections"),
        dnsmasq: n("dnsmasq"),
    };
}

/** Everything that is particular to one conductor, derived from its index only. */
export interface ConductorPlan {
    readonly index: number;
    /** Pulumi and Kubernetes name of its ConfigMap, Certificate and Deployment. */
    readonly name: string;
    readonly ip: string;
    /** https://<ip>:<ironicApi> */
    readonly endpoint: string;
    /** Secret cert-manager writes this conductor's certificate to. */
    readonly tlsSecretName: string;
}

export function planConductors(name: string, config: Pick<LabConfig, "conductors" | "network" | "ports">): ConductorPlan[] {
    const ips = config.network.conductorIps;
    if (ips.length < config.conductors) throw new Error(`only ${ips.length} conductor IPs allocated for ${config.conductors} conductors`);
    return ips.slice(0, config.conductors).map((ip, index) => {
        const objectName = k8sName(indexed(childName(name, "conductor"), index));
        return {
            index,
            name: objectName,
            ip,
            endpoint: `https://${ip}:${config.ports.ironicApi}`,
            tlsSecretName: k8sName(`${objectName}-tls`),
        };
    });
}

/** The conductor that also hosts the shared services (dnsmasq's boot server, the inspector, BMO's endpoint). */
export function primaryConductor(plans: readonly ConductorPlan[]): ConductorPlan {
    if (plans.length === 0) throw new Error("an Ironic cluster needs at least one conductor");
    return plans[0];
}

/** In-cluster DNS name of the MariaDB Service (conductors use ClusterFirstWithHostNet to resolve it). */
export function mariadbHost(names: IronicNames, namespace: string): string {
    return `${names.mariadb}.${namespace}.svc`;
}

export function ipaUrls(primary: ConductorPlan, httpPort: number): { kernel: string; ramdisk: string } {
    const base = `http://${primary.ip}:${httpPort}/images`;
    return { kernel: `${base}/${IPA_KERNEL}`, ramdisk: `${base}/${IPA_RAMDISK}` };
}

/** `user:bcrypt` as Ironic's http_basic auth (API and JSON-RPC server side) reads it. */
export function htpasswdLine(username: string, bcryptHash: string): string {
    if (username.includes(":")) throw new Error("htpasswd user names cannot contain ':'");
    return `${username}:${bcryptHash}\n`;
}

/**
 * An oslo.config section for keystoneauth's http_basic plugin, merged by the
 * ironic-image scripts (`crudini --merge`) from /auth/<service>/auth-config.
 * Passwords are generated alphanumeric: oslo.config would expand a '$'.
 */
export function clientAuthConfig(section: string, username: string, password: string): string {
    if (/[\s$]/.test(password) || /[\s$]/.test(username)) throw new Error("auth-config credentials must not contain whitespace or '$'");
    return `[${section}]\nauth_type = http_basic\nusername = ${username}\npassword = ${password}\n`;
}

/**
 * Environment of one conductor pod (its ConfigMap). Only this conductor's IP
 * appears here, so adding a conductor never changes another one's ConfigMap.
 */
export function conductorEnv(
    config: Pick<LabConfig, "ports" | "ironic">,
    plan: ConductorPlan,
    dbHost: string,
    inspectorUrl?: string,
): Record<string, string> {
    const env: Record<string, string> = {
        PROVISIONING_IP: plan.ip,
        IRONIC_CONDUCTOR_HOST: plan.ip,
        // All conductors share one node's network namespace: each binds only its own IP.
        LISTEN_ALL_INTERFACES: "false",
        IRONIC_ACCESS_PORT: String(config.ports.ironicApi),
        IRONIC_LISTEN_PORT: String(config.ports.ironicApi),
        HTTP_PORT: String(config.ports.httpd),
        NUMWORKERS: String(config.ironic.apiWorkers),
        IRONIC_USE_MARIADB: "true",
        MARIADB_HOST: dbHost,
        MARIADB_USER: DB_USERNAME,
        MARIADB_DATABASE: DB_NAME,
        OS_DATABASE__MAX_POOL_SIZE: String(DB_POOL_SIZE),
        OS_DATABASE__MAX_OVERFLOW: String(DB_MAX_OVERFLOW),
        IRONIC_EXPOSE_JSON_RPC: "true",
        // Newer images template the port from IRONIC_JSON_RPC_PORT, older ones need the oslo override.
        IRONIC_JSON_RPC_PORT: String(config.ports.ironicJsonRpc),
        OS_JSON_RPC__PORT: String(config.ports.ironicJsonRpc),
        RESTART_CONTAINER_CERTIFICATE_UPDATED: "true",
        USE_IRONIC_INSPECTOR: config.ironic.inspector ? "true" : "false",
    };
    if (config.ironic.inspector) {
        if (!inspectorUrl) throw new Error("inspector enabled but no inspector URL given");
        env.IRONIC_INSPECTOR_BASE_URL = inspectorUrl;
    }
    return env;
}

// Mount points the ironic-image scripts look at (scripts/tls-common.sh, auth-common.sh).
const CERTS_IRONIC = "/certs/ironic";
const CA_IRONIC = "/certs/ca/ironic";
const CERTS_INSPECTOR = "/certs/ironic-inspector";
const CA_INSPECTOR = "/certs/ca/ironic-inspector";

/** Keys of the shared auth Secret (see ironicCluster.ts). */
export const AUTH_KEYS = {
    htpasswd: "htpasswd",
    jsonRpc: "json-rpc-auth-config",
    inspectorClient: "inspector-auth-config",
    ironicClient: "ironic-auth-config",
} as const;

function certVolumes(tlsSecretName: string): Volume[] {
    return [
        { name: "cert", secret: { secretName: tlsSecretName, items: [{ key: "tls.crt", path: "tls.crt" }, { key: "tls.key", path: "tls.key" }] } },
        // cert-manager's CA issuer puts the CA next to the certificate.
        { name: "ca", secret: { secretName: tlsSecretName, items: [{ key: "ca.crt", path: "tls.crt" }] } },
    ];
}

function authVolume(name: string, secretName: pulumi.Input<string>, key: string, path: string): Volume {
    return { name, secret: { secretName, items: [{ key, path }] } };
}

export interface ConductorDeploymentInput {
    readonly instance: string;
    readonly plan: ConductorPlan;
    readonly image: pulumi.Input<string>;
    readonly configMapName: pulumi.Input<string>;
    readonly authSecretName: pulumi.Input<string>;
    readonly dbSecretName: pulumi.Input<string>;
    readonly ports: LabConfig["ports"];
    readonly inspector: boolean;
}

/** One conductor: runironic + runhttpd + runlogwatch.sh, host network, its own IP, cert and ConfigMap. */
export function conductorDeploymentSpec(p: ConductorDeploymentInput): DeploymentSpec {
    const selector = labels(p.instance, "conductor", { "metal3-scale-lab/conductor": p.plan.name });
    const envFrom = [{ configMapRef: { name: p.configMapName } }];
    const shared: VolumeMount = { name: "shared", mountPath: "/shared" };
    const images: VolumeMount = { name: "ipa-images", mountPath: "/shared/html/images", readOnly: true };
    const tlsMounts: VolumeMount[] = [
        { name: "cert", mountPath: CERTS_IRONIC, readOnly: true },
        { name: "ca", mountPath: CA_IRONIC, readOnly: true },
        ...(p.inspector ? [{ name: "ca", mountPath: CA_INSPECTOR, readOnly: true }] : []),
    ];
    // "/" (version discovery) is unauthenticated: the same URL the image's own probe script checks.
    const apiProbe = { httpGet: { host: p.plan.ip, port: p.ports.ironicApi, path: "/", scheme: "HTTPS" }, timeoutSeconds: 5 };
    const ironic: Container = {
        name: "ironic",
        image: p.image,
        command: ["/bin/runironic"],
        envFrom,
        env: [{ name: "MARIADB_PASSWORD", valueFrom: { secretKeyRef: { name: p.dbSecretName, key: "password" } } }],
        volumeMounts: [
            shared,
            images,
            ...tlsMounts,
            { name: "htpasswd", mountPath: "/auth/ironic", readOnly: true },
            { name: "json-rpc-auth", mountPath: "/auth/ironic-rpc", readOnly: true },
            ...(p.inspector ? [{ name: "inspector-auth", mountPath: "/auth/ironic-inspector", readOnly: true }] : []),
        ],
        // dbsync retries until MariaDB answers: give start-up ten minutes before liveness counts.
        startupProbe: { ...apiProbe, periodSeconds: 10, failureThreshold: 60 },
        readinessProbe: { ...apiProbe, periodSeconds: 10, failureThreshold: 3 },
        livenessProbe: { ...apiProbe, periodSeconds: 30, failureThreshold: 5 },
    };
    const httpdProbe = { tcpSocket: { host: p.plan.ip, port: p.ports.httpd }, timeoutSeconds: 5 };
    const httpd: Container = {
        name: "httpd",
        image: p.image,
        command: ["/bin/runhttpd"],
        envFrom,
        volumeMounts: [shared, images, ...tlsMounts, { name: "htpasswd", mountPath: "/auth/ironic", readOnly: true }],
        readinessProbe: { ...httpdProbe, periodSeconds: 10 },
        livenessProbe: { ...httpdProbe, periodSeconds: 30, failureThreshold: 5 },
    };
    const logWatch: Container = {
        name: "ironic-log-watch",
        image: p.image,
        command: ["/bin/runlogwatch.sh"],
        volumeMounts: [shared],
    };
    const volumes: Volume[] = [
        { name: "shared", emptyDir: {} },
        { name: "ipa-images", hostPath: { path: `${IPA_CACHE_HOST_PATH}/html/images`, type: "DirectoryOrCreate" } },
        ...certVolumes(p.plan.tlsSecretName),
        authVolume("htpasswd", p.authSecretName, AUTH_KEYS.htpasswd, "htpasswd"),
        authVolume("json-rpc-auth", p.authSecretName, AUTH_KEYS.jsonRpc, "auth-config"),
        ...(p.inspector ? [authVolume("inspector-auth", p.authSecretName, AUTH_KEYS.inspectorClient, "auth-config")] : []),
    ];
    return singletonDeployment(selector, true, {
        containers: [ironic, httpd, logWatch],
        volumes,
    });
}

export interface MariadbInput {
    readonly instance: string;
    readonly image: pulumi.Input<string>;
    readonly dbSecretName: pulumi.Input<string>;
    readonly maxConnections: number;
}

/**
 * MariaDB on the pod network behind a ClusterIP Service. The image creates its
 * user for MARIADB_HOST; "%" lets the conductors connect from the node's
 * addresses (they run with hostNetwork) with the generated password, and keeps
 * port 3306 off the provisioning network.
 */
export function mariadbDeploymentSpec(p: MariadbInput): DeploymentSpec {
    const selector = labels(p.instance, "mariadb");
    const secretEnv = (name: string, key: string) => ({ name, valueFrom: { secretKeyRef: { name: p.dbSecretName, key } } });
    return singletonDeployment(selector, false, {
        containers: [
            {
                name: "mariadb",
                image: p.image,
                env: [
                    secretEnv("MARIADB_USER", "username"),
                    secretEnv("MARIADB_PASSWORD", "password"),
                    { name: "MARIADB_DATABASE", value: DB_NAME },
                    { name: "MARIADB_HOST", value: "%" },
                    { name: "MARIADB_MAX_CONNECTIONS", value: String(p.maxConnections) },
                ],
                ports: [{ name: "mysql", containerPort: MARIADB_PORT }],
                volumeMounts: [{ name: "data", mountPath: "/var/lib/mysql" }],
                // Ready only once the generated user can log in (the image creates it on first start).
                readinessProbe: {
                    exec: { command: ["sh", "-c", 'MYSQL_PWD="$MARIADB_PASSWORD" mysqladmin status --user="$MARIADB_USER"'] },
                    initialDelaySeconds: 5,
                    periodSeconds: 10,
                    timeoutSeconds: 5,
                },
                // Conservative: a restarted container comes back without the image's first-boot config.
                livenessProbe: { tcpSocket: { port: MARIADB_PORT }, initialDelaySeconds: 30, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 6 },
            },
        ],
        volumes: [{ name: "data", emptyDir: {} }],
    });
}

export interface DnsmasqInput {
    readonly instance: string;
    readonly ironicImage: pulumi.Input<string>;
    readonly ipaDownloaderImage: pulumi.Input<string>;
    readonly primary: ConductorPlan;
    readonly config: Pick<LabConfig, "network" | "ports">;
}

/**
 * The one shared boot-services pod: dnsmasq (DHCP/TFTP on the provisioning
 * bridge, chaining to the primary conductor's httpd) and, as its init
 * container, the IPA downloader filling the node's IPA cache that every
 * conductor's httpd serves.
 */
export function dnsmasqDeploymentSpec(p: DnsmasqInput): DeploymentSpec {
    const selector = labels(p.instance, "dnsmasq");
    return singletonDeployment(selector, true, {
        initContainers: [
            {
                name: "ipa-downloader",
                image: p.ipaDownloaderImage,
                env: [{ name: "SHARED_DIR", value: "/shared" }],
                volumeMounts: [{ name: "ipa-cache", mountPath: "/shared" }],
            },
        ],
        containers: [
            {
                name: "dnsmasq",
                image: p.ironicImage,
                command: ["/bin/rundnsmasq"],
                env: [
                    // The interface is found from this IP (the bridge carrying the conductor IPs).
                    { name: "PROVISIONING_IP", value: p.primary.ip },
                    { name: "DHCP_RANGE", value: p.config.network.dhcpRange },
                    { name: "HTTP_PORT", value: String(p.config.ports.httpd) },
                    { name: "DNS_PORT", value: "0" },
                ],
                securityContext: { capabilities: { add: ["NET_ADMIN", "NET_RAW", "NET_BIND_SERVICE"] } },
                volumeMounts: [{ name: "shared", mountPath: "/shared" }],
            },
        ],
        volumes: [
            { name: "shared", emptyDir: {} },
            { name: "ipa-cache", hostPath: { path: IPA_CACHE_HOST_PATH, type: "DirectoryOrCreate" } },
        ],
    });
}

export interface InspectorInput {
    readonly instance: string;
    readonly image: pulumi.Input<string>;
    readonly primary: ConductorPlan;
    readonly authSecretName: pulumi.Input<string>;
    readonly ports: LabConfig["ports"];
}

/** ironic-inspector for images that still need it: on the primary conductor's IP, with its certificate. */
export function inspectorDeploymentSpec(p: InspectorInput): DeploymentSpec {
    const selector = labels(p.instance, "inspector");
    const probe = { tcpSocket: { host: p.primary.ip, port: p.ports.inspector }, timeoutSeconds: 5 };
    return singletonDeployment(selector, true, {
        containers: [
            {
                name: "ironic-inspector",
                image: p.image,
                command: ["/bin/runironic-inspector"],
                env: [
                    { name: "PROVISIONING_IP", value: p.primary.ip },
                    { name: "LISTEN_ALL_INTERFACES", value: "false" },
                    { name: "USE_IRONIC_INSPECTOR", value: "true" },
                    { name: "IRONIC_INSPECTOR_ACCESS_PORT", value: String(p.ports.inspector) },
                    { name: "IRONIC_ACCESS_PORT", value: String(p.ports.ironicApi) },
                    { name: "INSPECTOR_HTPASSWD", valueFrom: { secretKeyRef: { name: p.authSecretName, key: AUTH_KEYS.htpasswd } } },
                ],
                volumeMounts: [
                    { name: "shared", mountPath: "/shared" },
                    { name: "cert", mountPath: CERTS_INSPECTOR, readOnly: true },
                    { name: "ca", mountPath: CA_IRONIC, readOnly: true },
                    { name: "ironic-auth", mountPath: "/auth/ironic", readOnly: true },
                ],
                readinessProbe: { ...probe, periodSeconds: 10 },
                livenessProbe: { ...probe, initialDelaySeconds: 60, periodSeconds: 30, failureThreshold: 5 },
            },
        ],
        volumes: [
            { name: "shared", emptyDir: {} },
            ...certVolumes(p.primary.tlsSecretName),
            authVolume("ironic-auth", p.authSecretName, AUTH_KEYS.ironicClient, "auth-config"),
        ],
    });
}

export function inspectorUrl(primary: ConductorPlan, ports: LabConfig["ports"]): string {
    return `https://${primary.ip}:${ports.inspector}`;
}

/** The lab CA as a cert-manager namespaced CA Issuer. */
export function caIssuerSpec(caSecretName: string): Record<string, unknown> {
    return { ca: { secretName: caSecretName } };
}

/** One certificate per conductor, valid for exactly that conductor's IP (API, JSON-RPC and httpd). */
export function conductorCertificateSpec(plan: ConductorPlan, issuerName: string): Record<string, unknown> {
    return {
        secretName: plan.tlsSecretName,
        issuerRef: { name: issuerName, kind: "Issuer", group: "cert-manager.io" },
        ipAddresses: [plan.ip],
        duration: "8760h",
        renewBefore: "720h",
        privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
        usages: ["server auth", "client auth", "digital signature"],
    };
}

/** Helm image values for one cert-manager component from a local-registry ref. */
export function helmImage(ref: string): Record<string, string> {
    const img = imageParts(ref);
    if (img.digest) return { repository: img.repository, digest: img.digest };
    if (!img.tag) throw new Error(`image "${ref}" has no tag or digest`);
    return { repository: img.repository, tag: img.tag };
}

/** Values for the jetstack cert-manager chart: CRDs installed, every image from the local registry. */
export function certManagerValues(images: { controller: string; webhook: string; cainjector: string }): Record<string, unknown> {
    return {
        crds: { enabled: true, keep: false },
        image: helmImage(images.controller),
        webhook: { image: helmImage(images.webhook) },
        cainjector: { image: helmImage(images.cainjector) },
        // Its image is not mirrored, and Pulumi already waits for the webhook to be ready.
        startupapicheck: { enabled: false },
    };
}
