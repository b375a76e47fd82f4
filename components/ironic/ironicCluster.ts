// IronicCluster: one Ironic with `conductors` conductors sharing one MariaDB,
// talking JSON-RPC over TLS, each on its own provisioning IP with its own
// cert-manager certificate. The constructor only wires the plain objects of
// ./render.ts into resources.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { ImageName, LabConfig } from "../config/types";
import { childName, typeToken } from "../naming";
import { releaseVersion } from "../registry/images";
import { IpaImageUrls } from "../registry/ipaImages";
import { mariadbMaxConnections } from "./sizing";
import {
    API_USERNAME,
    AUTH_KEYS,
    CERT_MANAGER_CHART_REPO,
    CERT_MANAGER_NAMESPACE,
    DB_USERNAME,
    MARIADB_CONF_KEY,
    MARIADB_PORT,
    caIssuerSpec,
    certManagerValues,
    conductorCertificateSpec,
    conductorDeploymentSpec,
    conductorEnv,
    dnsmasqDeploymentSpec,
    htpasswdLine,
    ironicNames,
    mariadbConfigFile,
    mariadbDeploymentSpec,
    mariadbHost,
    mariadbLimitJobSpec,
    mariadbPvcSpec,
    planConductors,
    primaryConductor,
    runsDnsmasq,
    runsMigrations,
} from "./render";
import { ironicApiProxyAddress } from "./apiProxy";
import { labels } from "../kube";

/** Local-registry refs of every image the cluster runs (the registry image itself runs on the lab host). */
export type LabImages = Record<Exclude<ImageName, "registry">, pulumi.Input<string>>;

export interface IronicClusterArgs {
    readonly config: LabConfig;
    /** The management cluster's provider; every Kubernetes child uses it. */
    readonly provider: k8s.Provider;
    /** Local-registry refs for every image. */
    readonly images: LabImages;
    /** IPA kernel/ramdisk served by the lab host (components/registry/ipaImages.ts). */
    readonly ipaImages: IpaImageUrls;
    /** E.g. the commands putting the conductor IPs on the node's bridge. */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export class IronicCluster extends pulumi.ComponentResource {
    /** `https://<conductorIp>:<ironicApi>` per conductor, in index order. */
    public readonly endpoints: string[];
    /** The first conductor's endpoint: BMO's IRONIC_ENDPOINT, dnsmasq's boot server. */
    public readonly primaryEndpoint: string;
    public readonly conductorIps: string[];
    /** PEM of the lab CA that signs every conductor certificate. */
    public readonly caCertPem: pulumi.Output<string>;
    public readonly username: string;
    /** Ironic API password (secret). */
    public readonly password: pulumi.Output<string>;
    /** Secret in the Ironic namespace with `username` and `password` for Ironic's API. */
    public readonly credentialsSecretName: pulumi.Output<string>;
    public readonly namespace: pulumi.Output<string>;
    /** IPA images served by the lab host (the conductors' and BMO's DEPLOY_KERNEL_URL / DEPLOY_RAMDISK_URL). */
    public readonly deployKernelUrl: string;
    public readonly deployRamdiskUrl: string;
    public readonly certManager: k8s.helm.v3.Release;
    public readonly mariadb: k8s.apps.v1.Deployment;
    /** Applies a changed max_connections to the running MariaDB. */
    public readonly mariadbLimit: k8s.batch.v1.Job;
    public readonly certificates: k8s.apiextensions.CustomResource[];
    public readonly conductorDeployments: k8s.apps.v1.Deployment[];

    constructor(name: string, args: IronicClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("ironic", "IronicCluster"), name, {}, opts);
        const { config, provider, images, ipaImages } = args;
        const names = ironicNames(name);
        const plans = planConductors(name, config);
        const primary = primaryConductor(plans);
        const k = { parent: this, provider };
        const external = args.dependsOn ?? [];

        this.conductorIps = plans.map((p) => p.ip);
        this.endpoints = plans.map((p) => p.endpoint);
        this.primaryEndpoint = primary.endpoint;
        this.username = API_USERNAME;
        this.deployKernelUrl = ipaImages.kernel;
        this.deployRamdiskUrl = ipaImages.ramdisk;

        const ns = new k8s.core.v1.Namespace(
            childName(name, "namespace"),
            { metadata: { name: config.namespaces.ironic, labels: labels(name, "namespace") } },
            { ...k, dependsOn: external },
        );
        this.namespace = ns.metadata.name;
        const meta = (objectName: string, component: string, extra: Record<string, string> = {}) => ({
            name: objectName,
            namespace: this.namespace,
            labels: labels(name, component, extra),
        });

        // cert-manager at the release the pinned controller image belongs to.
        this.certManager = new k8s.helm.v3.Release(
            childName(name, "cert-manager"),
            {
                name: "cert-manager",
                chart: "cert-manager",
                version: releaseVersion(config.images.certManagerController, "cert-manager"),
                repositoryOpts: { repo: CERT_MANAGER_CHART_REPO },
                namespace: CERT_MANAGER_NAMESPACE,
                createNamespace: true,
                values: pulumi
                    .all([images.certManagerController, images.certManagerWebhook, images.certManagerCainjector])
                    .apply(([controller, webhook, cainjector]) => certManagerValues({ controller, webhook, cainjector })),
                timeout: 600,
            },
            { ...k, dependsOn: external },
        );

        // The lab CA lives in Pulumi state so fake-ipa, BMO and the batch providers can trust it.
        const caKey = new tls.PrivateKey(childName(name, "ca-key"), { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
        const caCert = new tls.SelfSignedCert(
            childName(name, "ca-cert"),
            {
                privateKeyPem: caKey.privateKeyPem,
                isCaCertificate: true,
                subject: { commonName: `${config.slug} metal3 lab CA`, organization: "metal3-scale-lab" },
                validityPeriodHours: 10 * 365 * 24,
                allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
            },
            { parent: this },
        );
        this.caCertPem = caCert.certPem;
        const caSecret = new k8s.core.v1.Secret(
            childName(name, "ca"),
            {
                metadata: meta(names.ca, "ca"),
                type: "kubernetes.io/tls",
                stringData: { "tls.crt": caCert.certPem, "tls.key": caKey.privateKeyPem },
            },
            k,
        );
        const issuer = new k8s.apiextensions.CustomResource(
            childName(name, "issuer"),
            {
                apiVersion: "cert-manager.io/v1",
                kind: "Issuer",
                metadata: { ...meta(names.ca, "issuer"), annotations: { "pulumi.com/waitFor": "condition=Ready" } },
                spec: caIssuerSpec(names.ca),
            },
            { ...k, dependsOn: [this.certManager, caSecret] },
        );

        // Credentials: generated, alphanumeric (they end up in URLs and oslo.config files).
        const apiPassword = new random.RandomPassword(childName(name, "api-password"), { length: 32, special: false }, { parent: this });
        const dbPassword = new random.RandomPassword(childName(name, "db-password"), { length: 32, special: false }, { parent: this });
        this.password = apiPassword.result;
        const credentials = new k8s.core.v1.Secret(
            childName(name, "credentials"),
            { metadata: meta(names.credentials, "credentials"), stringData: { username: API_USERNAME, password: apiPassword.result } },
            k,
        );
        this.credentialsSecretName = credentials.metadata.name;
        // The API user's htpasswd (server side); conductors also mount `credentials` as their JSON-RPC client login.
        const auth = new k8s.core.v1.Secret(
            childName(name, "auth"),
            {
                metadata: meta(names.auth, "auth"),
                stringData: { [AUTH_KEYS.htpasswd]: apiPassword.bcryptHash.apply((hash) => htpasswdLine(API_USERNAME, hash)) },
            },
            k,
        );
        const dbSecret = new k8s.core.v1.Secret(
            childName(name, "mariadb-credentials"),
            { metadata: meta(names.dbSecret, "mariadb"), stringData: { username: DB_USERNAME, password: dbPassword.result } },
            k,
        );

        // MariaDB, shared by all conductors. Its pod template is independent of the
        // conductor count; the limit lives in a ConfigMap (read at every boot) and
        // a Job applies a changed limit to the running server.
        const maxConnections = mariadbMaxConnections(config.conductors, config.ironic.apiWorkers);
        const mariadbData = new k8s.core.v1.PersistentVolumeClaim(
            childName(name, "mariadb-data"),
            { metadata: meta(names.mariadbData, "mariadb"), spec: mariadbPvcSpec() },
            k,
        );
        const mariadbConfig = new k8s.core.v1.ConfigMap(
            childName(name, "mariadb-config"),
            { metadata: meta(names.mariadbConfig, "mariadb"), data: { [MARIADB_CONF_KEY]: mariadbConfigFile(maxConnections) } },
            k,
        );
        this.mariadb = new k8s.apps.v1.Deployment(
            childName(name, "mariadb"),
            {
                metadata: meta(names.mariadb, "mariadb"),
                spec: mariadbDeploymentSpec({
                    instance: name,
                    image: images.mariadb,
                    dbSecretName: dbSecret.metadata.name,
                    // The plain name, not the ConfigMap's output: a new limit must not make this
                    // pod template unknown (an update) in a preview.
                    configMapName: names.mariadbConfig,
                    pvcName: mariadbData.metadata.name,
                }),
            },
            { ...k, dependsOn: [mariadbConfig] },
        );
        const mariadbService = new k8s.core.v1.Service(
            childName(name, "mariadb"),
            {
                metadata: meta(names.mariadb, "mariadb"),
                spec: {
                    type: "ClusterIP",
                    selector: labels(name, "mariadb"),
                    ports: [{ name: "mysql", port: MARIADB_PORT, targetPort: MARIADB_PORT }],
                },
            },
            k,
        );
        const dbHost = mariadbHost(names, config.namespaces.ironic);
        this.mariadbLimit = new k8s.batch.v1.Job(
            childName(name, "mariadb-max-connections"),
            {
                // A Job that failed (MariaDB away too long) runs again on the next `pulumi up`.
                metadata: { ...meta(names.mariadbLimit, "mariadb"), annotations: { "pulumi.com/replaceUnready": "true" } },
                spec: mariadbLimitJobSpec({ instance: name, image: images.mariadb, dbSecretName: dbSecret.metadata.name, host: dbHost, maxConnections }),
            },
            { ...k, dependsOn: [this.mariadb, mariadbService, mariadbConfig] },
        );

        // Per conductor: ConfigMap, Certificate, Deployment, all named by index.
        // The primary migrates the schema; the others start after it is ready.
        this.certificates = [];
        this.conductorDeployments = [];
        // Remote fleets reach every conductor through the lab host's proxy: each certificate names it too.
        const proxyAddress = ironicApiProxyAddress(config);
        const sharedAddresses = proxyAddress ? [proxyAddress] : [];
        for (const plan of plans) {
            const configMap = new k8s.core.v1.ConfigMap(
                plan.name,
                { metadata: meta(plan.name, "conductor"), data: conductorEnv(config, plan, dbHost, ipaImages) },
                k,
            );
            const certificate = new k8s.apiextensions.CustomResource(
                plan.name,
                {
                    apiVersion: "cert-manager.io/v1",
                    kind: "Certificate",
                    metadata: { ...meta(plan.name, "conductor"), annotations: { "pulumi.com/waitFor": "condition=Ready" } },
                    spec: conductorCertificateSpec(plan, names.ca, sharedAddresses),
                },
                { ...k, dependsOn: [this.certManager, issuer] },
            );
            this.certificates.push(certificate);
            this.conductorDeployments.push(
                new k8s.apps.v1.Deployment(
                    plan.name,
                    {
                        metadata: meta(plan.name, "conductor"),
                        spec: conductorDeploymentSpec({
                            instance: name,
                            plan,
                            image: images.ironic,
                            configMapName: configMap.metadata.name,
                            authSecretName: auth.metadata.name,
                            credentialsSecretName: credentials.metadata.name,
                            dbSecretName: dbSecret.metadata.name,
                            ports: config.ports,
                        }),
                    },
                    {
                        ...k,
                        dependsOn: [...external, this.mariadb, mariadbService, certificate, ...(runsMigrations(plan) ? [] : [this.conductorDeployments[primary.index]])],
                    },
                ),
            );
        }

        // One shared dnsmasq on the VM's provisioning network, chaining PXE clients to the primary conductor.
        if (runsDnsmasq(config)) {
            new k8s.apps.v1.Deployment(
                childName(name, "dnsmasq"),
                {
                    metadata: meta(names.dnsmasq, "dnsmasq"),
                    spec: dnsmasqDeploymentSpec({ instance: name, ironicImage: images.ironic, primary, config }),
                },
                { ...k, dependsOn: external },
            );
        }

        this.registerOutputs({
            endpoints: this.endpoints,
            primaryEndpoint: this.primaryEndpoint,
            conductorIps: this.conductorIps,
            caCertPem: this.caCertPem,
            username: this.username,
            password: this.password,
            credentialsSecretName: this.credentialsSecretName,
            namespace: this.namespace,
            deployKernelUrl: this.deployKernelUrl,
            deployRamdiskUrl: this.deployRamdiskUrl,
        });
    }
}
