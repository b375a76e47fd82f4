// FKAS (Metal3's fake Kubernetes API server) as upstream's scalability e2e
// runs it (CAPM3 test/e2e/data/fkas/resources.yaml): ONE replica on the host
// network, the reconciler sidecar (`/reconciler`) next to it. The sidecar
// only ever calls its own localhost:3333/updateNode and FKAS keeps its
// clusters in unlocked in-memory maps, so one instance serves every workload
// cluster (pure rendering).
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { labels, singletonDeployment } from "../kube";

type DeploymentSpec = k8s.types.input.apps.v1.DeploymentSpec;

/** FKAS listens on :3333, hard-coded (cmd/metal3-fkas/main.go); on the host network that is the node's port too. */
export const FKAS_PORT = 3333;

export const FKAS_CONTAINERS = { server: "metal3-fkas", reconciler: "metal3-fkas-reconciler" } as const;

/** An RBAC rule as plain data. */
export interface FkasRule {
    readonly apiGroups: string[];
    readonly resources: string[];
    readonly verbs: string[];
}

/** What FKAS and its sidecar read: hosts, Metal3Machines, Machines, and the clusters' `<c>-ca`/`<c>-etcd` Secrets. */
export function fkasRules(): FkasRule[] {
    return [
        { apiGroups: ["metal3.io", "infrastructure.cluster.x-k8s.io"], resources: ["baremetalhosts", "metal3machines"], verbs: ["get", "list", "watch"] },
        { apiGroups: ["cluster.x-k8s.io"], resources: ["machines"], verbs: ["get", "list", "watch"] },
        { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list"] },
    ];
}

export interface FkasDeploymentInput {
    /** Component name: the pods' labels derive from it. */
    readonly instance: string;
    readonly image: pulumi.Input<string>;
    readonly serviceAccountName: pulumi.Input<string>;
    /** FKAS's DEBUG env (both containers). */
    readonly debug?: boolean;
}

/**
 * One FKAS pod on the host network: the workload clusters' API servers open
 * on the node's address (POD_IP is the node IP there), which the CAPI
 * controllers and the lab host reach without a Service.
 */
export function fkasDeploymentSpec(p: FkasDeploymentInput): DeploymentSpec {
    const debug = { name: "DEBUG", value: p.debug ? "true" : "false" };
    // Recreate: the new pod needs the node's port 3333 the old one holds.
    return singletonDeployment(labels(p.instance, "fkas"), true, {
        serviceAccountName: p.serviceAccountName,
        containers: [
            {
                name: FKAS_CONTAINERS.reconciler,
                image: p.image,
                command: ["/reconciler"],
                env: [debug],
            },
            {
                name: FKAS_CONTAINERS.server,
                image: p.image,
                ports: [{ name: "fkas", containerPort: FKAS_PORT }],
                env: [{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }, debug],
                readinessProbe: { tcpSocket: { port: FKAS_PORT }, periodSeconds: 5, timeoutSeconds: 2 },
            },
        ],
    });
}

/** Where `pulumi up` registers clusters: FKAS on the management cluster node's address. */
export function fkasUrl(nodeAddress: string): string {
    return `http://${nodeAddress}:${FKAS_PORT}`;
}
