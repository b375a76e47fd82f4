// FakeApiServer: FKAS (Metal3's fake Kubernetes API server) replicas serving the
// workload clusters' API servers with in-memory etcd, plus its RBAC.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { LabConfig } from "../config/types";
import { childName, typeToken } from "../naming";
import { LabImages } from "../ironic/ironicCluster";
import { k8sName, labels } from "../ironic/render";
import { FKAS_CONTAINER_PORT, fkasClusterRoleRules, fkasPodNames, fkasProxyPath, fkasStatefulSetSpec } from "./render";

export interface FakeApiServerArgs {
    readonly config: LabConfig;
    readonly provider: k8s.Provider;
    readonly images: LabImages;
    /**
     * The reconciler sidecar watches BareMetalHosts, Metal3Machines and Machines
     * and crash-loops until their CRDs exist: pass the ClusterApi here.
     */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export class FakeApiServer extends pulumi.ComponentResource {
    public readonly namespace: pulumi.Output<string>;
    /** Service in front of the replicas (config.ports.fkas -> 3333). */
    public readonly serviceName: pulumi.Output<string>;
    /** Stable replica pod names (`<name>-0` ...). */
    public readonly podNames: string[];
    /** Per replica: API-server proxy path of its /register endpoint. */
    public readonly registerPaths: string[];
    public readonly statefulSet: k8s.apps.v1.StatefulSet;

    constructor(name: string, args: FakeApiServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("capi", "FakeApiServer"), name, {}, opts);
        const { config, provider, images } = args;
        if (config.mode !== "capi") throw new Error(`FakeApiServer runs only in capi mode (mode is ${config.mode})`);
        const k = { parent: this, provider };
        const objectName = k8sName(name);

        const ns = new k8s.core.v1.Namespace(
            childName(name, "namespace"),
            { metadata: { name: config.namespaces.fkas, labels: labels(name, "namespace") } },
            { ...k, dependsOn: args.dependsOn ?? [] },
        );
        this.namespace = ns.metadata.name;
        const meta = (n: string, component: string) => ({ name: n, namespace: this.namespace, labels: labels(name, component) });

        const serviceAccount = new k8s.core.v1.ServiceAccount(childName(name, "service-account"), { metadata: meta(objectName, "rbac") }, k);
        const role = new k8s.rbac.v1.ClusterRole(
            childName(name, "role"),
            { metadata: { name: k8sName(childName(name, "role")), labels: labels(name, "rbac") }, rules: fkasClusterRoleRules() },
            k,
        );
        const binding = new k8s.rbac.v1.ClusterRoleBinding(
            childName(name, "rolebinding"),
            {
                metadata: { name: k8sName(childName(name, "rolebinding")), labels: labels(name, "rbac") },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: serviceAccount.metadata.name, namespace: this.namespace }],
            },
            k,
        );
        const service = new k8s.core.v1.Service(
            childName(name, "service"),
            {
                metadata: meta(objectName, "fkas"),
                spec: {
                    // Headless: the StatefulSet's governing Service; each replica keeps its own state.
                    clusterIP: "None",
                    selector: labels(name, "fkas"),
                    ports: [{ name: "fkas", port: config.ports.fkas, targetPort: FKAS_CONTAINER_PORT }],
                },
            },
            k,
        );
        this.serviceName = service.metadata.name;

        this.statefulSet = new k8s.apps.v1.StatefulSet(
            childName(name, "statefulset"),
            {
                metadata: meta(objectName, "fkas"),
                spec: fkasStatefulSetSpec({
                    instance: name,
                    image: images.fkas,
                    replicas: config.fakeApiServers,
                    serviceName: service.metadata.name,
                    serviceAccountName: serviceAccount.metadata.name,
                }),
            },
            { ...k, dependsOn: [binding, ...(args.dependsOn ?? [])] },
        );
        this.podNames = fkasPodNames(objectName, config.fakeApiServers);
        this.registerPaths = this.podNames.map((pod) => fkasProxyPath(config.namespaces.fkas, pod, FKAS_CONTAINER_PORT, "register"));

        this.registerOutputs({ namespace: this.namespace, serviceName: this.serviceName, podNames: this.podNames, registerPaths: this.registerPaths });
    }
}
