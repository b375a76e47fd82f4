// Pure rendering for the baremetal-operator: its `ironic` ConfigMap, RBAC
// rules, Deployment spec, CRD manifest URLs at the pinned release, and sizing.
import type * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import { LabConfig } from "../config/types";
import { labels } from "../kube";
import { minorOf } from "../registry/images";
import { IRONIC_ENDPOINT_BRIDGE } from "../cluster/managementCluster";

type DeploymentSpec = k8s.types.input.apps.v1.DeploymentSpec;
/** An RBAC rule as plain data (assignable to the provider's PolicyRule input). */
export interface Rule {
    readonly apiGroups: string[];
    readonly resources: string[];
    readonly verbs: string[];
}

/** Object names BMO's upstream overlay (config/overlays/basic-auth_tls) expects; kept for familiarity. */
export const BMO_NAMES = {
    configMap: "ironic",
    credentials: "ironic-credentials",
    caCert: "ironic-cacert",
    serviceAccount: "baremetal-operator-controller-manager",
    deployment: "baremetal-operator-controller-manager",
    clusterRole: "baremetal-operator-manager-role",
    clusterRoleBinding: "baremetal-operator-manager-rolebinding",
} as const;

/** Where BMO reads its Ironic credentials and CA (pkg/provisioner/ironic/clients, factory.go). */
export const BMO_AUTH_DIR = "/opt/metal3/auth/ironic";
export const BMO_CA_DIR = "/opt/metal3/certs/ca";
export const BMO_HEALTH_PORT = 9440;

/**
 * CRDs in config/base/crds/kustomization.yaml of each BMO minor release (read
 * from the upstream tags). Extend this table when pinning a newer BMO.
 */
export const BMO_CRDS_BY_MINOR: Readonly<Record<string, readonly string[]>> = {
    "v0.8": ["baremetalhosts", "hostfirmwarecomponents", "hostfirmwaresettings", "firmwareschemas", "preprovisioningimages", "bmceventsubscriptions", "hardwaredata", "dataimages"],
    "v0.9": ["baremetalhosts", "hostfirmwarecomponents", "hostfirmwaresettings", "firmwareschemas", "preprovisioningimages", "bmceventsubscriptions", "hardwaredata", "dataimages", "hostupdatepolicies"],
    "v0.10": ["baremetalhosts", "hostfirmwarecomponents", "hostfirmwaresettings", "firmwareschemas", "preprovisioningimages", "bmceventsubscriptions", "hardwaredata", "dataimages", "hostupdatepolicies"],
    "v0.11": ["baremetalhosts", "hostfirmwarecomponents", "hostfirmwaresettings", "firmwareschemas", "preprovisioningimages", "bmceventsubscriptions", "hardwaredata", "dataimages", "hostupdatepolicies"],
    "v0.12": ["baremetalhosts", "hostfirmwarecomponents", "hostfirmwaresettings", "firmwareschemas", "preprovisioningimages", "bmceventsubscriptions", "hardwaredata", "dataimages", "hostupdatepolicies"],
    "v0.13": [
        "baremetalhosts",
        "hostfirmwarecomponents",
        "hostfirmwaresettings",
        "firmwareschemas",
        "preprovisioningimages",
        "bmceventsubscriptions",
        "hardwaredata",
        "dataimages",
        "hostupdatepolicies",
        "hostclaims",
        "hostdeploypolicies",
    ],
};

/** The pinned release's CRD manifests (the plain bases: no webhook conversion, no CA-injection placeholders). */
export function bmoCrdUrls(version: string): string[] {
    const crds = BMO_CRDS_BY_MINOR[minorOf(version)];
    if (!crds) throw new Error(`no CRD list for baremetal-operator ${version}; known minors: ${Object.keys(BMO_CRDS_BY_MINOR).join(", ")}`);
    return crds.map((plural) => `https://raw.githubusercontent.com/metal3-io/baremetal-operator/${version}/config/base/crds/bases/metal3.io_${plural}.yaml`);
}

/**
 * Kubernetes API client rate for BMO. Its defaults (20 qps, burst 30) suit the
 * default 2-8 workers; every concurrent reconcile issues a few requests (host,
 * BMC secret, status, events), so the rate follows BMO_CONCURRENCY: 5 qps per
 * worker, within 20-200. Derived from the concurrency, not the host count, so
 * adding hosts leaves the running controller alone.
 */
export function bmoKubeApiRate(concurrency: number): { qps: number; burst: number } {
    const qps = Math.min(200, Math.max(20, 5 * concurrency));
    return { qps, burst: Math.ceil(qps * 1.5) };
}

export interface BmoIronicInput {
    /** Ironic API BMO talks to; any conductor's API sees and controls every node. */
    readonly ironicEndpoint: string;
    readonly deployKernelUrl: string;
    readonly deployRamdiskUrl: string;
}

/**
 * The `ironic` ConfigMap (envFrom). BMO takes one IRONIC_ENDPOINT: it is the
 * primary conductor's, so adding conductors never changes this ConfigMap.
 * HTTP_PORT, PROVISIONING_INTERFACE and DHCP_RANGE are not read by BMO; they
 * mirror upstream's ironic.env for anyone comparing with it.
 */
export function bmoIronicEnv(config: Pick<LabConfig, "bmo" | "ports" | "network">, ironic: BmoIronicInput): Record<string, string> {
    if (!/^https:\/\//.test(ironic.ironicEndpoint)) throw new Error(`BMO talks TLS to Ironic; got endpoint ${ironic.ironicEndpoint}`);
    return {
        IRONIC_ENDPOINT: `${ironic.ironicEndpoint.replace(/\/+$/, "")}/v1/`,
        DEPLOY_KERNEL_URL: ironic.deployKernelUrl,
        DEPLOY_RAMDISK_URL: ironic.deployRamdiskUrl,
        IRONIC_CACERT_FILE: `${BMO_CA_DIR}/tls.crt`,
        IRONIC_INSECURE: "false",
        BMO_CONCURRENCY: String(config.bmo.concurrency),
        PROVISIONING_LIMIT: String(config.bmo.provisioningLimit),
        HTTP_PORT: String(config.ports.httpd),
        // The bridge carrying the conductor IPs, as metal3-dev-env's ironic.env names it (03_launch_mgmt_cluster.sh:153).
        PROVISIONING_INTERFACE: IRONIC_ENDPOINT_BRIDGE,
        DHCP_RANGE: config.network.dhcpRange,
    };
}

/** What the controller does: manage every metal3.io object, BMC secrets, events; authorize metrics scrapes. */
export function bmoClusterRoleRules(): Rule[] {
    return [
        { apiGroups: ["metal3.io"], resources: ["*"], verbs: ["create", "delete", "get", "list", "patch", "update", "watch"] },
        { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch", "update", "patch", "delete"] },
        { apiGroups: [""], resources: ["events"], verbs: ["create", "get", "list", "patch", "update", "watch"] },
        { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
        { apiGroups: ["authorization.k8s.io"], resources: ["subjectaccessreviews"], verbs: ["create"] },
    ];
}

export interface BmoDeploymentInput {
    readonly instance: string;
    readonly image: pulumi.Input<string>;
    /** BMO_CONCURRENCY; sizes the API client rate. */
    readonly concurrency: number;
    readonly configMapName: pulumi.Input<string>;
    readonly credentialsSecretName: pulumi.Input<string>;
    readonly caSecretName: pulumi.Input<string>;
    readonly serviceAccountName: pulumi.Input<string>;
}

export function bmoDeploymentSpec(p: BmoDeploymentInput): DeploymentSpec {
    const selector = labels(p.instance, "controller-manager", { "control-plane": "controller-manager" });
    const rate = bmoKubeApiRate(p.concurrency);
    const health = (path: string) => ({
        httpGet: { path, port: BMO_HEALTH_PORT },
        initialDelaySeconds: 10,
        periodSeconds: 10,
        timeoutSeconds: 2,
        failureThreshold: 10,
    });
    return {
        replicas: 1,
        selector: { matchLabels: selector },
        template: {
            metadata: { labels: selector },
            spec: {
                serviceAccountName: p.serviceAccountName,
                terminationGracePeriodSeconds: 10,
                securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
                containers: [
                    {
                        name: "manager",
                        image: p.image,
                        command: ["/baremetal-operator"],
                        args: [
                            // No admission webhook: it would need its own serving certificate and Service.
                            "--webhook-port=0",
                            `--health-addr=:${BMO_HEALTH_PORT}`,
                            `--kube-api-qps=${rate.qps}`,
                            `--kube-api-burst=${rate.burst}`,
                        ],
                        envFrom: [{ configMapRef: { name: p.configMapName } }],
                        env: [
                            { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                            { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                        ],
                        volumeMounts: [
                            { name: "ironic-credentials", mountPath: BMO_AUTH_DIR, readOnly: true },
                            { name: "ironic-cacert", mountPath: BMO_CA_DIR, readOnly: true },
                        ],
                        securityContext: {
                            allowPrivilegeEscalation: false,
                            privileged: false,
                            runAsUser: 65532,
                            runAsGroup: 65532,
                            capabilities: { drop: ["ALL"] },
                        },
                        livenessProbe: health("/healthz"),
                        readinessProbe: health("/readyz"),
                    },
                ],
                volumes: [
                    { name: "ironic-credentials", secret: { secretName: p.credentialsSecretName } },
                    { name: "ironic-cacert", secret: { secretName: p.caSecretName } },
                ],
            },
        },
    };
}
