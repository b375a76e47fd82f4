// Kubernetes helpers every cluster-side component shares (pure): object names,
// the lab's labels, and the one-replica Deployment shape.
import type * as k8s from "@pulumi/kubernetes";

type DeploymentSpec = k8s.types.input.apps.v1.DeploymentSpec;

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

/**
 * One replica, replaced rather than rolled: the old pod must be gone before the
 * new one binds its fixed IP:ports (host network) or its data.
 */
export function singletonDeployment(selector: Record<string, string>, hostNetwork: boolean, pod: k8s.types.input.core.v1.PodSpec): DeploymentSpec {
    const spec = hostNetwork ? { hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet", ...pod } : pod;
    return { replicas: 1, strategy: { type: "Recreate" }, selector: { matchLabels: selector }, template: { metadata: { labels: selector }, spec } };
}
