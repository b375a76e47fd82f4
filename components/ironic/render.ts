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
import { IpaImageUrls } from "../registry/ipaImages";
import { shQuote, shScript } from "../shell";
import { k8sName, labels, singletonDeployment } from "../kube";
import { subjectNames } from "./apiProxy";

type DeploymentSpec = k8s.types.input.apps.v1.DeploymentSpec;

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
    /** Existing cluster: the node (kubernetes.io/hostname) it runs on, whose address is `ip`. */
    readonly nodeName?: string;
}

/** The label a conductor pod is pinned to its node by. */
export const NODE_HOSTNAME_LABEL = "kubernetes.io/hostname";

export type ConductorInputs = Pick<LabConfig, "conductors" | "network" | "ports"> & Partial<Pick<LabConfig, "managementCluster">>;

/**
 * minikube: conductor IPs on the VM's ironicendpoint bridge. Existing cluster:
 * conductor i on conductorNodes[i] with the host network, its IP the node's
 * (the loader puts those addresses in network.conductorIps).
 */
export function planConductors(name: string, config: ConductorInputs): ConductorPlan[] {
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
            ...(config.managementCluster?.kind === "existing" ? { nodeName: config.managementCluster.conductorNodes[index].name } : {}),
        };
    });
}

/** The conductor that also hosts the shared services (dnsmasq's boot server, BMO's endpoint) and runs the migrations. */
export function primaryConductor(plans: readonly ConductorPlan[]): ConductorPlan {
    if (plans.length === 0) throw new Error("an Ironic cluster needs at least one conductor");
    return plans[0];
}

/**
 * Only the primary conductor runs `ironic-dbsync upgrade` at start; every other
 * conductor skips it (IRONIC_SKIP_DBSYNC) and is deployed after the primary is
 * ready, so the schema is migrated once and exists before any of them serves.
 */
export function runsMigrations(plan: ConductorPlan): boolean {
    return plan.index === 0;
}

/** In-cluster DNS name of the MariaDB Service (conductors use ClusterFirstWithHostNet to resolve it). */
export function mariadbHost(names: IronicNames, namespace: string): string {
    return `${names.mariadb}.${namespace}.svc`;
}

/** `user:bcrypt` as Ironic's http_basic auth (API and JSON-RPC server side) reads it. */
export function htpasswdLine(username: string, bcryptHash: string): string {
    if (username.includes(":")) throw new Error("htpasswd user names cannot contain ':'");
    return `${username}:${bcryptHash}\n`;
}

/**
 * Environment of one conductor pod (its ConfigMap). Only this conductor's IP
 * (and whether it migrates) appears here, so adding a conductor never changes
 * another one's ConfigMap.
 */
export function conductorEnv(config: Pick<LabConfig, "ports" | "ironic">, plan: ConductorPlan, dbHost: string, ipa: IpaImageUrls): Record<string, string> {
    return {
        PROVISIONING_IP: plan.ip,
        IRONIC_CONDUCTOR_HOST: plan.ip,
        // All conductors share one node's network namespace: each binds only its own IP.
        LISTEN_ALL_INTERFACES: "false",
        IRONIC_ACCESS_PORT: String(config.ports.ironicApi),
        IRONIC_LISTEN_PORT: String(config.ports.ironicApi),
        HTTP_PORT: String(config.ports.httpd),
        NUMWORKERS: String(config.ironic.apiWorkers),
        IRONIC_USE_MARIADB: "true",
        // User and password come from the files under /auth/mariadb.
        MARIADB_HOST: dbHost,
        MARIADB_DATABASE: DB_NAME,
        OS_DATABASE__MAX_POOL_SIZE: String(DB_POOL_SIZE),
        OS_DATABASE__MAX_OVERFLOW: String(DB_MAX_OVERFLOW),
        IRONIC_SKIP_DBSYNC: runsMigrations(plan) ? "false" : "true",
        IRONIC_EXPOSE_JSON_RPC: "true",
        IRONIC_JSON_RPC_PORT: String(config.ports.ironicJsonRpc),
        RESTART_CONTAINER_CERTIFICATE_UPDATED: "true",
        // IPA is served by the lab host, not by the conductors' httpd.
        DEPLOY_KERNEL_URL: ipa.kernel,
        DEPLOY_RAMDISK_URL: ipa.ramdisk,
        IRONIC_IPA_BASE_URL: ipa.root,
    };
}

// Mount points the ironic-image scripts read (scripts/tls-common.sh, auth-common.sh).
export const CERTS_IRONIC = "/certs/ironic";
export const CA_IRONIC = "/certs/ca/ironic";
export const AUTH_IRONIC = "/auth/ironic";
export const AUTH_JSON_RPC = "/auth/ironic-rpc";
/** Read by both ironic-image (auth-common.sh) and the mariadb image (runmariadb). */
export const AUTH_MARIADB = "/auth/mariadb";

/** Keys of the shared auth Secret (see ironicCluster.ts). */
export const AUTH_KEYS = {
    htpasswd: "htpasswd",
} as const;

function certVolumes(tlsSecretName: string): Volume[] {
    return [
        { name: "cert", secret: { secretName: tlsSecretName, items: [{ key: "tls.crt", path: "tls.crt" }, { key: "tls.key", path: "tls.key" }] } },
        // cert-manager's CA issuer puts the CA next to the certificate.
        { name: "ca", secret: { secretName: tlsSecretName, items: [{ key: "ca.crt", path: "tls.crt" }] } },
    ];
}

/** A Secret's `username` and `password` keys as the files of the same names. */
function credentialFilesVolume(name: string, secretName: pulumi.Input<string>): Volume {
    return { name, secret: { secretName, items: [{ key: "username", path: "username" }, { key: "password", path: "password" }] } };
}

export interface ConductorDeploymentInput {
    readonly instance: string;
    readonly plan: ConductorPlan;
    readonly image: pulumi.Input<string>;
    readonly configMapName: pulumi.Input<string>;
    /** Secret with the API htpasswd (server side of the API and of JSON-RPC). */
    readonly authSecretName: pulumi.Input<string>;
    /** Secret with `username`/`password` of the API user: the JSON-RPC client credentials. */
    readonly credentialsSecretName: pulumi.Input<string>;
    /** Secret with `username`/`password` of the database user. */
    readonly dbSecretName: pulumi.Input<string>;
    readonly ports: LabConfig["ports"];
}

/** One conductor: runironic + runhttpd + runlogwatch.sh, host network, its own IP, cert and ConfigMap. */
export function conductorDeploymentSpec(p: ConductorDeploymentInput): DeploymentSpec {
    const selector = labels(p.instance, "conductor", { "metal3-scale-lab/conductor": p.plan.name });
    const envFrom = [{ configMapRef: { name: p.configMapName } }];
    const shared: VolumeMount = { name: "shared", mountPath: "/shared" };
    const tlsMounts: VolumeMount[] = [
        { name: "cert", mountPath: CERTS_IRONIC, readOnly: true },
        { name: "ca", mountPath: CA_IRONIC, readOnly: true },
    ];
    const htpasswd: VolumeMount = { name: "htpasswd", mountPath: AUTH_IRONIC, readOnly: true };
    // "/" (version discovery) is unauthenticated: the same URL the image's own probe script checks.
    const apiProbe = { httpGet: { host: p.plan.ip, port: p.ports.ironicApi, path: "/", scheme: "HTTPS" }, timeoutSeconds: 5 };
    const ironic: Container = {
        name: "ironic",
        image: p.image,
        command: ["/bin/runironic"],
        envFrom,
        volumeMounts: [
            shared,
            ...tlsMounts,
            htpasswd,
            { name: "json-rpc-client", mountPath: AUTH_JSON_RPC, readOnly: true },
            { name: "mariadb-auth", mountPath: AUTH_MARIADB, readOnly: true },
        ],
        // The migrator's dbsync retries until MariaDB answers: give start-up ten minutes before liveness counts.
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
        volumeMounts: [shared, ...tlsMounts, htpasswd],
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
        ...certVolumes(p.plan.tlsSecretName),
        { name: "htpasswd", secret: { secretName: p.authSecretName, items: [{ key: AUTH_KEYS.htpasswd, path: "htpasswd" }] } },
        credentialFilesVolume("json-rpc-client", p.credentialsSecretName),
        credentialFilesVolume("mariadb-auth", p.dbSecretName),
    ];
    // On an existing cluster each conductor binds its own node's address: pinned to that node.
    const placement = p.plan.nodeName ? { nodeSelector: { [NODE_HOSTNAME_LABEL]: p.plan.nodeName } } : {};
    return singletonDeployment(selector, true, { ...placement, containers: [ironic, httpd, logWatch], volumes });
}

/** uid/gid of `mysql` in the mariadb image; BMO's mariadb component runs it as this user. */
export const MARIADB_UID = 27;
export const MARIADB_DATA_DIR = "/var/lib/mysql";
/** Where the lab's my.cnf is mounted; MYSQL_HOME points mysqld at it. */
export const MARIADB_LAB_CONF_DIR = "/etc/metal3-scale-lab/mariadb";
export const MARIADB_CONF_KEY = "my.cnf";
/** Ironic's database is small: a few MB per thousand nodes. */
export const MARIADB_STORAGE = "2Gi";

/**
 * The lab's MariaDB option file. The image writes max_connections into
 * my.cnf.d only on its first boot; mysqld reads $MYSQL_HOME/my.cnf after
 * /etc/my.cnf (and its my.cnf.d) on every boot, so this value wins and survives
 * restarts.
 */
export function mariadbConfigFile(maxConnections: number): string {
    if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new Error(`max_connections must be a positive integer, got ${maxConnections}`);
    return `[mysqld]\nmax_connections = ${maxConnections}\n`;
}

/**
 * Storage from the cluster's default StorageClass. On minikube that is the
 * hostpath provisioner, whose volumes live under /tmp/hostpath-provisioner on
 * the VM's persistent disk, so the database survives pod and VM restarts.
 */
export function mariadbPvcSpec(): k8s.types.input.core.v1.PersistentVolumeClaimSpec {
    return { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: MARIADB_STORAGE } } };
}

/** Runs as mysql (uid/gid 27), as BMO does: mysqld needs no `user=` then, so a restart does not depend on first-boot config. */
function mariadbSecurity(): { pod: k8s.types.input.core.v1.PodSecurityContext; container: k8s.types.input.core.v1.SecurityContext } {
    return {
        pod: { runAsUser: MARIADB_UID, runAsGroup: MARIADB_UID, fsGroup: MARIADB_UID, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
        container: { allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ["ALL"] } },
    };
}

/** A shell fragment exporting MYSQL_PWD and DB_USER from the mounted credential files. */
function dbLogin(authDir: string): string[] {
    return [`MYSQL_PWD="$(cat ${shQuote(`${authDir}/password`)})"`, "export MYSQL_PWD", `DB_USER="$(cat ${shQuote(`${authDir}/username`)})"`];
}

export interface MariadbInput {
    readonly instance: string;
    readonly image: pulumi.Input<string>;
    readonly dbSecretName: pulumi.Input<string>;
    readonly configMapName: pulumi.Input<string>;
    readonly pvcName: pulumi.Input<string>;
}

/**
 * MariaDB on the pod network behind a ClusterIP Service. The image creates its
 * user for MARIADB_HOST; "%" lets the conductors connect from the node's
 * addresses (they run with hostNetwork) with the generated password, and keeps
 * port 3306 off the provisioning network. Nothing here depends on the
 * conductor count: growing the cluster never restarts the database.
 */
export function mariadbDeploymentSpec(p: MariadbInput): DeploymentSpec {
    const selector = labels(p.instance, "mariadb");
    const security = mariadbSecurity();
    const status = shScript([...dbLogin(AUTH_MARIADB), 'exec mysqladmin status --user="$DB_USER"']);
    return singletonDeployment(selector, false, {
        securityContext: security.pod,
        containers: [
            {
                name: "mariadb",
                image: p.image,
                securityContext: security.container,
                env: [
                    { name: "MARIADB_DATABASE", value: DB_NAME },
                    { name: "MARIADB_HOST", value: "%" },
                    { name: "MYSQL_HOME", value: MARIADB_LAB_CONF_DIR },
                ],
                ports: [{ name: "mysql", containerPort: MARIADB_PORT }],
                volumeMounts: [
                    { name: "data", mountPath: MARIADB_DATA_DIR },
                    { name: "config", mountPath: MARIADB_LAB_CONF_DIR, readOnly: true },
                    { name: "auth", mountPath: AUTH_MARIADB, readOnly: true },
                ],
                // Ready only once the generated user can log in (the image creates it on first start).
                readinessProbe: { exec: { command: ["sh", "-c", status] }, initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 5 },
                livenessProbe: { tcpSocket: { port: MARIADB_PORT }, initialDelaySeconds: 30, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 6 },
            },
        ],
        volumes: [
            { name: "data", persistentVolumeClaim: { claimName: p.pvcName } },
            { name: "config", configMap: { name: p.configMapName, items: [{ key: MARIADB_CONF_KEY, path: "my.cnf" }], defaultMode: 0o444 } },
            credentialFilesVolume("auth", p.dbSecretName),
        ],
    });
}

/**
 * POSIX sh applying `maxConnections` to the running server (SET GLOBAL needs
 * no restart; the ConfigMap carries the same value for the next boot).
 * Retries while MariaDB is not reachable, then checks the value took.
 */
export function mariadbLimitScript(host: string, port: number, maxConnections: number, authDir: string = AUTH_MARIADB): string {
    mariadbConfigFile(maxConnections); // same validation as the file
    const mysql = `mysql --host=${shQuote(host)} --port=${port} --user="$DB_USER" --batch --skip-column-names`;
    return shScript([
        ...dbLogin(authDir),
        "tries=0",
        `until ${mysql} --execute=${shQuote(`SET GLOBAL max_connections = ${maxConnections}`)}; do`,
        '    tries=$((tries + 1)); [ "$tries" -lt 60 ] || exit 1; sleep 5',
        "done",
        `now="$(${mysql} --execute=${shQuote("SELECT @@GLOBAL.max_connections")})"`,
        `[ "$now" = ${maxConnections} ] || { echo "max_connections is $now, wanted ${maxConnections}" >&2; exit 1; }`,
        `echo "max_connections = $now"`,
    ]);
}

export interface MariadbLimitInput {
    readonly instance: string;
    readonly image: pulumi.Input<string>;
    readonly dbSecretName: pulumi.Input<string>;
    readonly host: string;
    readonly maxConnections: number;
}

/**
 * A Job that sets max_connections on the running MariaDB. Its spec carries the
 * value, so Pulumi replaces (re-runs) it exactly when the limit changes.
 */
export function mariadbLimitJobSpec(p: MariadbLimitInput): k8s.types.input.batch.v1.JobSpec {
    const security = mariadbSecurity();
    return {
        backoffLimit: 3,
        activeDeadlineSeconds: 900,
        template: {
            metadata: { labels: labels(p.instance, "mariadb-max-connections") },
            spec: {
                restartPolicy: "OnFailure",
                securityContext: security.pod,
                containers: [
                    {
                        name: "set-max-connections",
                        image: p.image,
                        securityContext: security.container,
                        command: ["sh", "-c", mariadbLimitScript(p.host, MARIADB_PORT, p.maxConnections)],
                        volumeMounts: [{ name: "auth", mountPath: AUTH_MARIADB, readOnly: true }],
                    },
                ],
                volumes: [credentialFilesVolume("auth", p.dbSecretName)],
            },
        },
    };
}

/**
 * dnsmasq answers DHCP/TFTP on the lab's own provisioning network, which only
 * the minikube VM is attached to. On an existing cluster it would run a DHCP
 * server on a real node's network, and the simulated hosts never PXE-boot.
 */
export function runsDnsmasq(cfg: Pick<LabConfig, "managementCluster">): boolean {
    return cfg.managementCluster.kind === "minikube";
}

export interface DnsmasqInput {
    readonly instance: string;
    readonly ironicImage: pulumi.Input<string>;
    readonly primary: ConductorPlan;
    readonly config: Pick<LabConfig, "network" | "ports">;
}

/**
 * The one shared boot-services pod: dnsmasq (DHCP/TFTP on the provisioning
 * bridge, chaining iPXE to the primary conductor's httpd).
 */
export function dnsmasqDeploymentSpec(p: DnsmasqInput): DeploymentSpec {
    const selector = labels(p.instance, "dnsmasq");
    return singletonDeployment(selector, true, {
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
        volumes: [{ name: "shared", emptyDir: {} }],
    });
}

/** The lab CA as a cert-manager namespaced CA Issuer. */
export function caIssuerSpec(caSecretName: string): Record<string, unknown> {
    return { ca: { secretName: caSecretName } };
}

/**
 * One certificate per conductor, valid for that conductor's IP (API, JSON-RPC
 * and httpd) and for `sharedAddresses`: the lab host's Ironic API proxy, which
 * passes TLS through to any conductor (./apiProxy.ts).
 */
export function conductorCertificateSpec(plan: ConductorPlan, issuerName: string, sharedAddresses: readonly string[] = []): Record<string, unknown> {
    const extra = subjectNames(sharedAddresses);
    return {
        secretName: plan.tlsSecretName,
        issuerRef: { name: issuerName, kind: "Issuer", group: "cert-manager.io" },
        ipAddresses: [plan.ip, ...extra.ipAddresses],
        ...(extra.dnsNames.length > 0 ? { dnsNames: extra.dnsNames } : {}),
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
