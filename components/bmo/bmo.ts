// Bmo: the baremetal-operator at the pinned release, pointed at the
// IronicCluster with its own copy of the credentials and the lab CA.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { LabConfig } from "../config/types";
import { childName, typeToken } from "../naming";
import { releaseVersion } from "../registry/images";
import { IronicCluster, LabImages } from "../ironic/ironicCluster";
import { labels } from "../kube";
import { BMO_NAMES, bmoClusterRoleRules, bmoCrdUrls, bmoDeploymentSpec, bmoIronicEnv } from "./render";

export interface BmoArgs {
    readonly config: LabConfig;
    readonly provider: k8s.Provider;
    readonly images: LabImages;
    readonly ironic: IronicCluster;
}

/** Modes that run BMO. */
export function modeRunsBmo(mode: LabConfig["mode"]): boolean {
    return mode === "bmo" || mode === "capi";
}

export class Bmo extends pulumi.ComponentResource {
    /** Namespace BMO runs in (baremetal-operator-system). */
    public readonly namespace: pulumi.Output<string>;
    /** Namespace for the BareMetalHosts and their BMC secrets. */
    public readonly hostsNamespace: pulumi.Output<string>;
    /** BMO's CRDs at the pinned release. */
    public readonly crds: k8s.yaml.v2.ConfigGroup;
    public readonly deployment: k8s.apps.v1.Deployment;

    constructor(name: string, args: BmoArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("bmo", "Bmo"), name, {}, opts);
        const { config, provider, images, ironic } = args;
        if (!modeRunsBmo(config.mode)) throw new Error(`Bmo runs only in bmo and capi modes (mode is ${config.mode})`);
        const k = { parent: this, provider };
        const version = releaseVersion(config.images.bmo, "baremetal-operator");

        const ns = new k8s.core.v1.Namespace(childName(name, "namespace"), { metadata: { name: config.namespaces.bmo, labels: labels(name, "namespace") } }, k);
        this.namespace = ns.metadata.name;
        const hosts = new k8s.core.v1.Namespace(childName(name, "hosts-namespace"), { metadata: { name: config.namespaces.hosts, labels: labels(name, "hosts") } }, k);
        this.hostsNamespace = hosts.metadata.name;
        const meta = (objectName: string, component: string) => ({ name: objectName, namespace: this.namespace, labels: labels(name, component) });

        this.crds = new k8s.yaml.v2.ConfigGroup(childName(name, "crds"), { files: bmoCrdUrls(version) }, k);

        const configMap = new k8s.core.v1.ConfigMap(
            childName(name, "ironic"),
            {
                metadata: meta(BMO_NAMES.configMap, "config"),
                data: bmoIronicEnv(config, {
                    ironicEndpoint: ironic.primaryEndpoint,
                    deployKernelUrl: ironic.deployKernelUrl,
                    deployRamdiskUrl: ironic.deployRamdiskUrl,
                }),
            },
            k,
        );
        // Secrets cannot be mounted across namespaces: BMO gets its own copy of the API credentials.
        const credentials = new k8s.core.v1.Secret(
            childName(name, "ironic-credentials"),
            { metadata: meta(BMO_NAMES.credentials, "credentials"), stringData: { username: ironic.username, password: ironic.password } },
            k,
        );
        const caCert = new k8s.core.v1.Secret(
            childName(name, "ironic-cacert"),
            { metadata: meta(BMO_NAMES.caCert, "ca"), stringData: { "tls.crt": ironic.caCertPem, "ca.crt": ironic.caCertPem } },
            k,
        );
        const serviceAccount = new k8s.core.v1.ServiceAccount(childName(name, "service-account"), { metadata: meta(BMO_NAMES.serviceAccount, "rbac") }, k);
        const role = new k8s.rbac.v1.ClusterRole(
            childName(name, "manager-role"),
            { metadata: { name: BMO_NAMES.clusterRole, labels: labels(name, "rbac") }, rules: bmoClusterRoleRules() },
            k,
        );
        const binding = new k8s.rbac.v1.ClusterRoleBinding(
            childName(name, "manager-rolebinding"),
            {
                metadata: { name: BMO_NAMES.clusterRoleBinding, labels: labels(name, "rbac") },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: serviceAccount.metadata.name, namespace: this.namespace }],
            },
            k,
        );

        this.deployment = new k8s.apps.v1.Deployment(
            childName(name, "controller-manager"),
            {
                metadata: meta(BMO_NAMES.deployment, "controller-manager"),
                spec: bmoDeploymentSpec({
                    instance: name,
                    image: images.bmo,
                    concurrency: config.bmo.concurrency,
                    configMapName: configMap.metadata.name,
                    credentialsSecretName: credentials.metadata.name,
                    caSecretName: caCert.metadata.name,
                    serviceAccountName: serviceAccount.metadata.name,
                }),
            },
            // BMO registers hosts as soon as it starts: Ironic (every conductor) must be up first.
            { ...k, dependsOn: [...ironic.conductorDeployments, this.crds, binding] },
        );

        this.registerOutputs({ namespace: this.namespace, hostsNamespace: this.hostsNamespace });
    }
}
