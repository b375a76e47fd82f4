// FakeApiServer: FKAS (Metal3's fake Kubernetes API server) serving every
// workload cluster's API server with in-memory etcd, plus its RBAC. One
// instance on the host network, as upstream's scalability e2e runs it
// (components/capi/fkas.ts says why).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { LabConfig } from "../config/types";
import { childName, typeToken } from "../naming";
import { LabImages } from "../ironic/ironicCluster";
import { k8sName, labels } from "../kube";
import { fkasDeploymentSpec, fkasRules, fkasUrl } from "./fkas";

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
    /**
     * Where clusters register (`POST <url>/register`): the first conductor IP,
     * which the node carries on its provisioning bridge and the lab host reaches
     * (CAPM3's e2e registers at http://172.22.0.2:3333 the same way).
     */
    public readonly url: string;
    public readonly deployment: k8s.apps.v1.Deployment;

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
            { metadata: { name: k8sName(childName(name, "role")), labels: labels(name, "rbac") }, rules: fkasRules() },
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
        this.deployment = new k8s.apps.v1.Deployment(
            childName(name, "deployment"),
            {
                metadata: meta(objectName, "fkas"),
                spec: fkasDeploymentSpec({ instance: name, image: images.fkas, serviceAccountName: serviceAccount.metadata.name }),
            },
            { ...k, dependsOn: [binding, ...(args.dependsOn ?? [])] },
        );
        this.url = fkasUrl(config.network.conductorIps[0]);
        this.registerOutputs({ namespace: this.namespace, url: this.url });
    }
}
