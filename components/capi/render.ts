// Pure rendering for the capi mode: clusterctl provider versions, its config
// (image overrides to the local registry), the scripts the clusterctl Command
// runs, and the FKAS (Metal3 fake Kubernetes API server) manifests.
import { createHash } from "crypto";
import type * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import { ImagesConfig, LabConfig } from "../config/types";
import { imageParts, releaseVersion } from "../registry/images";
import { labels } from "../ironic/render";

/** An RBAC rule as plain data (assignable to the provider's PolicyRule input). */
export interface Rule {
    readonly apiGroups: string[];
    readonly resources: string[];
    readonly verbs: string[];
}
type StatefulSetSpec = k8s.types.input.apps.v1.StatefulSetSpec;

/** The providers clusterctl installs, keyed by the image each one runs. */
export const CLUSTERCTL_PROVIDERS = {
    capiController: { flag: "--core", provider: "cluster-api", component: "cluster-api", image: "cluster-api-controller" },
    kubeadmBootstrapController: { flag: "--bootstrap", provider: "kubeadm", component: "bootstrap-kubeadm", image: "kubeadm-bootstrap-controller" },
    kubeadmControlPlaneController: { flag: "--control-plane", provider: "kubeadm", component: "control-plane-kubeadm", image: "kubeadm-control-plane-controller" },
    capm3Controller: { flag: "--infrastructure", provider: "metal3", component: "infrastructure-metal3", image: "cluster-api-provider-metal3" },
    ipamController: { flag: "--ipam", provider: "metal3", component: "ipam-metal3", image: "ip-address-manager" },
} as const;
export type ClusterctlImage = keyof typeof CLUSTERCTL_PROVIDERS;
export const CLUSTERCTL_IMAGES = Object.keys(CLUSTERCTL_PROVIDERS) as ClusterctlImage[];

/** IPAM's clusterctl repository (declared explicitly: older clusterctl releases do not list it). */
export const METAL3_IPAM_REPOSITORY = "https://github.com/metal3-io/ip-address-manager/releases/latest/ipam-components.yaml";

/** Provider versions = the tags of the pinned upstream images. */
export function clusterctlVersions(images: Pick<ImagesConfig, ClusterctlImage>): Record<ClusterctlImage, string> {
    const out = {} as Record<ClusterctlImage, string>;
    for (const key of CLUSTERCTL_IMAGES) out[key] = releaseVersion(images[key], CLUSTERCTL_PROVIDERS[key].component);
    if (out.kubeadmBootstrapController !== out.capiController || out.kubeadmControlPlaneController !== out.capiController) {
        throw new Error(`CAPI core and kubeadm providers must share one release (core ${out.capiController}, bootstrap ${out.kubeadmBootstrapController}, control plane ${out.kubeadmControlPlaneController})`);
    }
    return out;
}

/** `--core cluster-api:v1.9.4 --bootstrap kubeadm:v1.9.4 ...` */
export function clusterctlProviderFlags(versions: Record<ClusterctlImage, string>): string[] {
    return CLUSTERCTL_IMAGES.flatMap((key) => [CLUSTERCTL_PROVIDERS[key].flag, `${CLUSTERCTL_PROVIDERS[key].provider}:${versions[key]}`]);
}

/**
 * clusterctl's config: the IPAM repository and per-image overrides so every
 * controller runs from the local registry. clusterctl overrides repository and
 * tag but keeps the image name, so the local ref must keep the upstream name.
 * Returned as JSON (valid YAML) to need no YAML library at run time.
 */
export function clusterctlConfig(localRefs: Record<ClusterctlImage, string>): string {
    const images: Record<string, { repository: string; tag: string }> = {};
    for (const key of CLUSTERCTL_IMAGES) {
        const { component, image } = CLUSTERCTL_PROVIDERS[key];
        const ref = imageParts(localRefs[key]);
        if (ref.name !== image) throw new Error(`clusterctl can only re-home ${image}: local image "${localRefs[key]}" must keep that name`);
        if (!ref.tag || ref.digest) throw new Error(`clusterctl image overrides take a tag: local image "${localRefs[key]}" must be pinned by tag`);
        images[`${component}/${image}`] = { repository: ref.prefix, tag: ref.tag };
    }
    return JSON.stringify({ providers: [{ name: "metal3", url: METAL3_IPAM_REPOSITORY, type: "IPAMProvider" }], images }, null, 2);
}

/** The line create/update print last; update skips the upgrade when it is unchanged. */
export function clusterctlMarker(versions: Record<ClusterctlImage, string>, config: string): string {
    const digest = createHash("sha256").update(config).digest("hex").slice(0, 16);
    return `metal3-scale-lab clusterctl ${clusterctlProviderFlags(versions).join(" ")} config=${digest}`;
}

/** Environment variables the scripts read (the kubeconfig one is a secret). */
export const CLUSTERCTL_ENV = { kubeconfig: "LAB_KUBECONFIG", config: "LAB_CLUSTERCTL_CONFIG" } as const;

function preamble(clusterctlVersion: string): string {
    const url = `https://github.com/kubernetes-sigs/cluster-api/releases/download/${clusterctlVersion}/clusterctl`;
    return [
        "set -euo pipefail",
        "umask 077",
        'work="$(mktemp -d)"',
        "trap 'rm -rf \"$work\"' EXIT",
        // Never echoed: the kubeconfig only exists in this private temp directory.
        `printf '%s\\n' "$${CLUSTERCTL_ENV.kubeconfig}" > "$work/kubeconfig"`,
        `printf '%s\\n' "$${CLUSTERCTL_ENV.config}" > "$work/clusterctl.yaml"`,
        'cache="${XDG_CACHE_HOME:-$HOME/.cache}/metal3-scale-lab"',
        `bin="$cache/clusterctl-${clusterctlVersion}"`,
        'if [ ! -x "$bin" ]; then',
        '  os="$(uname -s | tr "[:upper:]" "[:lower:]")"',
        '  case "$(uname -m)" in x86_64|amd64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; *) echo "clusterctl: unsupported architecture $(uname -m)" >&2; exit 1 ;; esac',
        '  mkdir -p "$cache"',
        `  curl -fsSL --retry 3 -o "$work/clusterctl" "${url}-$os-$arch"`,
        '  chmod 0755 "$work/clusterctl"',
        `  got="$("$work/clusterctl" version -o short)"`,
        `  if [ "$got" != "${clusterctlVersion}" ]; then echo "clusterctl: downloaded $got, wanted ${clusterctlVersion}" >&2; exit 1; fi`,
        '  mv "$work/clusterctl" "$bin"',
        "fi",
        'cc() { "$bin" --kubeconfig "$work/kubeconfig" --config "$work/clusterctl.yaml" "$@"; }',
    ].join("\n");
}

export interface ClusterctlScripts {
    readonly create: string;
    readonly update: string;
    readonly delete: string;
}

/**
 * create: `clusterctl init` of the pinned providers, waiting for them.
 * update: `clusterctl upgrade apply` to the pinned versions, skipped when the
 *   previous run's marker matches (e.g. only the kubeconfig's text changed).
 * delete: `clusterctl delete --all`, keeping the CRDs (and so any objects of
 *   them) so a provider upgrade through replacement cannot wipe clusters.
 */
export function clusterctlScripts(versions: Record<ClusterctlImage, string>, config: string, waitSeconds = 900): ClusterctlScripts {
    const flags = clusterctlProviderFlags(versions).join(" ");
    const marker = clusterctlMarker(versions, config);
    const head = preamble(versions.capiController);
    const wait = `--wait-providers --wait-provider-timeout ${waitSeconds}`;
    return {
        create: `${head}\ncc init ${flags} ${wait}\necho '${marker}'\n`,
        update: [
            head,
            `if printf '%s\\n' "\${PULUMI_COMMAND_STDOUT:-}" | grep -qxF '${marker}'; then`,
            "  echo 'clusterctl providers unchanged'",
            "else",
            `  cc upgrade apply ${flags} ${wait}`,
            "fi",
            `echo '${marker}'`,
            "",
        ].join("\n"),
        delete: `${head}\ncc delete --all --include-namespace\n`,
    };
}

// ---- FKAS -------------------------------------------------------------------

/** FKAS listens on :3333, hard-coded upstream (config.ports.fkas is the Service port in front of it). */
export const FKAS_CONTAINER_PORT = 3333;

/** What FKAS and its reconciler sidecar read: hosts, Metal3Machines, Machines, and the clusters' CA/etcd secrets. */
export function fkasClusterRoleRules(): Rule[] {
    return [
        { apiGroups: ["metal3.io"], resources: ["baremetalhosts"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["infrastructure.cluster.x-k8s.io"], resources: ["metal3machines"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["cluster.x-k8s.io"], resources: ["machines"], verbs: ["get", "list", "watch"] },
        { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list"] },
    ];
}

/** Stable pod names of the StatefulSet: cluster i can be pinned to replica i mod replicas. */
export function fkasPodNames(statefulSetName: string, replicas: number): string[] {
    return Array.from({ length: replicas }, (_, i) => `${statefulSetName}-${i}`);
}

/**
 * Paths to reach one replica's /register through the Kubernetes API server's
 * pod proxy: works from the lab host with just the kubeconfig, no routing to
 * the pod network needed.
 */
export function fkasProxyPath(namespace: string, podName: string, port: number, endpoint: "register" | "updateNode"): string {
    return `/api/v1/namespaces/${namespace}/pods/${podName}:${port}/proxy/${endpoint}`;
}

export interface FkasInput {
    readonly instance: string;
    readonly image: pulumi.Input<string>;
    readonly replicas: number;
    readonly serviceName: pulumi.Input<string>;
    readonly serviceAccountName: pulumi.Input<string>;
}

/**
 * FKAS on the pod network: each replica serves its fake API servers (with their
 * in-memory etcd) on its own pod IP, which the CAPI controllers reach. A
 * StatefulSet gives every replica a stable name, because a cluster registered
 * on one replica only exists there. Its reconciler sidecar updates nodes on
 * the local replica when a host is provisioned.
 */
export function fkasStatefulSetSpec(p: FkasInput): StatefulSetSpec {
    if (!Number.isInteger(p.replicas) || p.replicas < 1) throw new Error(`FKAS needs at least one replica, got ${p.replicas}`);
    const selector = labels(p.instance, "fkas");
    const probe = { tcpSocket: { port: FKAS_CONTAINER_PORT }, timeoutSeconds: 2 };
    return {
        replicas: p.replicas,
        serviceName: p.serviceName,
        podManagementPolicy: "Parallel",
        selector: { matchLabels: selector },
        template: {
            metadata: { labels: selector },
            spec: {
                serviceAccountName: p.serviceAccountName,
                containers: [
                    {
                        name: "metal3-fkas",
                        image: p.image,
                        ports: [{ name: "fkas", containerPort: FKAS_CONTAINER_PORT }],
                        env: [
                            { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
                            { name: "DEBUG", value: "false" },
                        ],
                        readinessProbe: { ...probe, periodSeconds: 5 },
                        livenessProbe: { ...probe, initialDelaySeconds: 10, periodSeconds: 20, failureThreshold: 5 },
                    },
                    {
                        name: "metal3-fkas-reconciler",
                        image: p.image,
                        command: ["/reconciler"],
                        env: [{ name: "DEBUG", value: "false" }],
                    },
                ],
            },
        },
    };
}

/** The mode rules for the cluster side. */
export function modeRunsCapi(mode: LabConfig["mode"]): boolean {
    return mode === "capi";
}
