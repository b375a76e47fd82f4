// The whole cluster side in dependency order, by mode: Ironic always; BMO in
// bmo and capi modes; CAPI providers and FKAS in capi mode. index.ts may call
// this or wire the components the same way.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { LabConfig } from "../config/types";
import { Bmo, modeRunsBmo } from "../bmo/bmo";
import { IronicCluster, LabImages } from "../ironic/ironicCluster";
import { IpaImageUrls } from "../registry/ipaImages";
import { ClusterApi } from "./clusterApi";
import { FakeApiServer } from "./fakeApiServer";
import { modeRunsCapi } from "./render";

export interface ClusterSideArgs {
    readonly config: LabConfig;
    readonly provider: k8s.Provider;
    readonly images: LabImages;
    /** IPA kernel/ramdisk URLs on the lab host (ipaImageUrls(config)). */
    readonly ipaImages: IpaImageUrls;
    /** Management cluster kubeconfig text (secret), for clusterctl in capi mode. */
    readonly kubeconfig: pulumi.Input<string>;
    /** E.g. the bridge-IP commands of the management cluster. */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export interface ClusterSide {
    readonly ironic: IronicCluster;
    readonly bmo?: Bmo;
    readonly clusterApi?: ClusterApi;
    readonly fakeApiServer?: FakeApiServer;
}

export function deployClusterSide(args: ClusterSideArgs, opts?: pulumi.ComponentResourceOptions): ClusterSide {
    const { config, provider, images } = args;
    const ironic = new IronicCluster("ironic", { config, provider, images, ipaImages: args.ipaImages, dependsOn: args.dependsOn }, opts);
    if (!modeRunsBmo(config.mode)) return { ironic };
    const bmo = new Bmo("bmo", { config, provider, images, ironic }, opts);
    if (!modeRunsCapi(config.mode)) return { ironic, bmo };
    // CAPM3 needs BMO's CRDs; clusterctl must find cert-manager installed (or it installs its own).
    const clusterApi = new ClusterApi("capi", { config, provider, images, kubeconfig: args.kubeconfig, dependsOn: [bmo, ironic.certManager] }, opts);
    const fakeApiServer = new FakeApiServer("fkas", { config, provider, images, dependsOn: [clusterApi] }, opts);
    return { ironic, bmo, clusterApi, fakeApiServer };
}
