// metal3-scale-lab: reads stack config and composes the lab. Everything else
// lives in components/, one folder per domain.
import * as pulumi from "@pulumi/pulumi";
import { deployClusterSide } from "./components/capi/clusterSide";
import { ManagementCluster } from "./components/cluster/managementCluster";
import { loadLabConfig } from "./components/config/load";
import { readRawConfig } from "./components/config/read";
import { WorkloadClusters } from "./components/clusters/workloadClusters";
import { HostEnrollment } from "./components/enroll/hostEnrollment";
import { FakeIpa } from "./components/fleet/fakeIpa";
import { SushyFleet } from "./components/fleet/sushyFleet";
import { buildInventory } from "./components/inventory/inventory";
import { HostNetwork } from "./components/network/hostNetwork";
import { startRun } from "./components/record/run";
import { IpaCache } from "./components/registry/ipaCache";
import { IronicApiProxy } from "./components/ironic/ironicApiProxy";
import { needsIronicApiProxy } from "./components/ironic/apiProxy";
import { LocalRegistry } from "./components/registry/localRegistry";

export = async () => {
    // All config problems are reported here, together, before any resource is declared.
    const config = loadLabConfig(readRawConfig(), pulumi.getStack());
    const hosts = buildInventory(config);
    // This run's record (runs/<stack>/<runId>/): created on `up`, "" on a preview (nothing written).
    const runDir = startRun(config);

    const network = new HostNetwork("network", { config });
    const registry = new LocalRegistry("registry", { config }, { dependsOn: [network] });
    // The IPA kernel/ramdisk, cached and served on the lab host's provisioning address.
    const ipa = new IpaCache("ipa", { config, downloaderImage: registry.loopbackImages.ipaDownloader, serverImage: registry.loopbackImages.ironic }, { dependsOn: [network] });
    const cluster = new ManagementCluster("management", { config, registryAddress: registry.address, dependsOn: [network, registry] });

    // Ironic always; BMO in bmo/capi modes; CAPI providers and FKAS in capi mode.
    const { ironic, bmo, clusterApi, fakeApiServer } = deployClusterSide({
        config,
        provider: cluster.provider,
        // An existing cluster's nodes cannot reach the lab's plain-HTTP registry on the provisioning bridge.
        images: config.managementCluster.kind === "existing" ? config.images : registry.images,
        ipaImages: ipa.urls,
        kubeconfig: cluster.kubeconfig,
        dependsOn: cluster.conductorIpCommands,
    });
    // The fleet's Docker daemons reach the registry on loopback when it is theirs; remote daemons pull upstream.
    const fleetImages = config.dockerHosts.length === 1 ? registry.loopbackImages : config.images;
    // sushy-tools notifies its fake-ipa inside each Redfish power request: fake-ipa comes first.
    // Remote fleets reach Ironic through the lab host's proxy over every conductor.
    const apiProxy = needsIronicApiProxy(config)
        ? new IronicApiProxy("ironic-api-proxy", { config, image: registry.loopbackImages.ironic, conductorEndpoints: ironic.endpoints }, { dependsOn: [network] })
        : undefined;
    const fakeIpa = new FakeIpa(
        "fake-ipa",
        { config, image: fleetImages.fakeIpa, ironicApiUrl: ironic.primaryEndpoint, remoteIronicApiUrl: apiProxy?.url, ironicCaPem: ironic.caCertPem },
        { dependsOn: [network, ...(apiProxy ? [apiProxy] : [])] },
    );
    const sushy = new SushyFleet("sushy", { config, hosts, image: fleetImages.sushyTools, fakeIpa }, { dependsOn: [network] });

    const enrollment = new HostEnrollment("hosts", {
        config,
        hosts,
        bmc: { username: sushy.bmcUsername, password: sushy.bmcPassword },
        ironic: config.mode === "ironic"
            ? { endpoints: ironic.endpoints, username: ironic.username, password: ironic.password, caPem: ironic.caCertPem }
            : undefined,
        kubernetes: bmo ? { kubeconfig: cluster.kubeconfig, namespace: bmo.hostsNamespace } : undefined,
        // Hosts wait until the IPA images are served (inspection and cleaning boot them).
        dependsOn: [bmo ?? ironic, sushy, fakeIpa, ipa.server],
        runDir,
    });

    // capi mode: `clusters` workload clusters on FKAS, after every host batch.
    const workload =
        clusterApi && fakeApiServer && bmo
            ? new WorkloadClusters("clusters", {
                  config,
                  hosts,
                  kubernetes: { kubeconfig: cluster.kubeconfig, namespace: bmo.hostsNamespace },
                  fkasUrl: fakeApiServer.url,
                  hostBatches: enrollment.batches,
                  dependsOn: [clusterApi, fakeApiServer, ipa.server],
                  runDir,
              })
            : undefined;

    return {
        mode: config.mode,
        hostCount: hosts.length,
        batches: enrollment.batches.length,
        readyHosts: enrollment.readyHosts,
        clusterBatches: workload?.batches.length ?? 0,
        readyClusters: workload?.readyClusters ?? 0,
        ironicEndpoints: ironic.endpoints,
        registryUrl: registry.address,
        bmcEndpoints: sushy.endpoints,
        // What a user needs to look for themselves (README "Run record").
        kubeconfig: pulumi.secret(cluster.kubeconfig),
        ironicApi: { endpoints: ironic.endpoints, username: ironic.username, password: pulumi.secret(ironic.password), caCertPem: ironic.caCertPem },
        runDir,
    };
};
