// ClusterApi: CAPI core + kubeadm bootstrap/control-plane + CAPM3 + Metal3 IPAM
// at the pinned versions, brought in by a checksum-verified clusterctl (run by
// @pulumi/command) with every controller image re-homed to the local registry.
// Providers that were there before the lab are adopted and left on destroy.
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { LabConfig } from "../config/types";
import { childName, typeToken } from "../naming";
import { LabImages } from "../ironic/ironicCluster";
import { CLUSTERCTL_ENV, CLUSTERCTL_IMAGES, ClusterctlImage, clusterctlConfig, clusterctlScripts, clusterctlVersions } from "./render";

export interface ClusterApiArgs {
    readonly config: LabConfig;
    /**
     * The management cluster's provider. clusterctl itself talks to the cluster
     * through `kubeconfig`, which must describe the same cluster; the provider
     * is accepted so every cluster-side component has the same signature.
     */
    readonly provider: k8s.Provider;
    readonly images: LabImages;
    /** Kubeconfig text of the management cluster (secret); written to a private temp file inside the command only. */
    readonly kubeconfig: pulumi.Input<string>;
    /** At least the Bmo (CAPM3 needs BMO's CRDs) and cert-manager. */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export class ClusterApi extends pulumi.ComponentResource {
    /** Provider versions installed, e.g. { capiController: "v1.13.5", capm3Controller: "v1.13.2", ... }. */
    public readonly versions: Record<ClusterctlImage, string>;
    public readonly clusterctl: command.local.Command;

    constructor(name: string, args: ClusterApiArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("capi", "ClusterApi"), name, {}, opts);
        const { config, images } = args;
        if (config.mode !== "capi") throw new Error(`ClusterApi runs only in capi mode (mode is ${config.mode})`);
        this.versions = clusterctlVersions(config.images);
        const versions = this.versions;

        const configText = pulumi.all(CLUSTERCTL_IMAGES.map((key) => images[key])).apply((refs) => {
            const local = {} as Record<ClusterctlImage, string>;
            CLUSTERCTL_IMAGES.forEach((key, i) => (local[key] = refs[i]));
            return clusterctlConfig(local, versions.capiController);
        });
        const scripts = clusterctlScripts(versions);

        this.clusterctl = new command.local.Command(
            childName(name, "clusterctl"),
            {
                create: scripts.create,
                update: scripts.update,
                delete: scripts.delete,
                environment: {
                    [CLUSTERCTL_ENV.kubeconfig]: pulumi.secret(args.kubeconfig),
                    [CLUSTERCTL_ENV.config]: configText,
                },
                // delete reads create's record of which providers the lab installed.
                addPreviousOutputInEnv: true,
            },
            {
                parent: this,
                dependsOn: args.dependsOn ?? [],
                // A replacement deletes (the lab's providers) before it creates: never the other way round,
                // or the old resource's delete would remove what the new one just ensured.
                deleteBeforeReplace: true,
                customTimeouts: { create: "30m", update: "30m", delete: "15m" },
            },
        );

        this.registerOutputs({ versions: this.versions });
    }
}
