// metal3-scale-lab: reads stack config and composes the lab. Everything else
// lives in components/, one folder per domain.
import * as pulumi from "@pulumi/pulumi";
import { deployClusterSide } from "./components/capi/clusterSide";
import { ManagementCluster } from "./components/cluster/managementCluster";
import { loadLabConfig } from "./components/config/load";
import { readRawConfig } from "./components/config/read";
import { HostEnrollment } from "./components/enroll/hostEnrollment";
import { DockerHosts } from "./components/fleet/dockerHosts";
import { FakeIpa } from "./components/fleet/fakeIpa";
import { SushyFleet } from "./components/fleet/sushyFleet";
import { buildInventory } from "./components/inventory/inventory";
import { HostNetwork } from "./components/network/hostNetwork";
import { LocalRegistry } from "./components/registry/localRegistry";

export = async () => {
    // All config problems are reported here, together, before any resource is declared.
    const config = loadLabConfig(readRawConfig(), pulumi.getStack());
    const hosts = buildInventory(config);

    const network = new HostNetwork("network", { config });
    const docker = new DockerHosts("docker", { config });
    const registry = new LocalRegistry("registry", { config, dockerProvider: docker.providers[0] }, { dependsOn: [network] });
    const cluster = new ManagementCluster("management", { config, registryAddress: registry.address, dependsOn: [network, registry] });

    // Ironic always; BMO in bmo/capi modes; CAPI providers and FKAS in capi mode.
    const { ironic, bmo } = deployClusterSide({ config, provider: cluster.provider, images: registry.images, kubeconfig: cluster.kubeconfig, dependsOn: cluster.conductorIpCommands });
    // The fleet's Docker daemons reach the registry on loopback when it is theirs; remote daemons pull upstream.
    const fleetImages = config.dockerHosts.length === 1 ? registry.loopbackImages : config.images;
    const sushy = new SushyFleet("sushy", { config, hosts, image: fleetImages.sushyTools, providers: docker.providers }, { dependsOn: [network] });
    const fakeIpa = new FakeIpa("fake-ipa", {
        config,
        image: fleetImages.fakeIpa,
        providers: docker.providers,
        ironicApiUrl: ironic.primaryEndpoint,
        ironicCaPem: ironic.caCertPem,
        bmc: { username: sushy.bmcUsername, password: sushy.bmcPassword },
    }, { dependsOn: [network] });

    const enrollment = new HostEnrollment("hosts", {
        config,
        hosts,
        bmc: { username: sushy.bmcUsername, password: sushy.bmcPassword },
        ironic: config.mode === "ironic"
            ? { endpoints: ironic.endpoints, username: ironic.username, password: ironic.password, caPem: ironic.caCertPem, deployKernelUrl: ironic.deployKernelUrl, deployRamdiskUrl: ironic.deployRamdiskUrl }
            : undefined,
        kubernetes: bmo ? { kubeconfig: cluster.kubeconfig, namespace: bmo.hostsNamespace } : undefined,
        dependsOn: [bmo ?? ironic, sushy, fakeIpa],
    });

    return {
        mode: config.mode,
        hostCount: hosts.length,
        batches: enrollment.batches.length,
        readyHosts: enrollment.readyHosts,
        ironicEndpoints: ironic.endpoints,
        registryUrl: registry.address,
        bmcEndpoints: sushy.endpoints,
    };
};
