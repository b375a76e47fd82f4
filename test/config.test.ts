// The loader: defaults, derivations, and every bad input reported at once with key, value and what is allowed.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { SCALAR_DEFAULTS } from "../components/config/defaults";
import { LabConfigError, showValue } from "../components/config/errors";
import { isPinnedImage, loadLabConfig, RawConfig, stackSlug } from "../components/config/load";
import { rawStackConfig } from "./support/mockProgram";

function issuesOf(raw: RawConfig): LabConfigError["issues"] {
    try {
        loadLabConfig(raw, "dev");
    } catch (err) {
        assert.ok(err instanceof LabConfigError, `expected LabConfigError, got ${err}`);
        return err.issues;
    }
    assert.fail("expected the loader to reject the config");
}

describe("config loader", () => {
    it("loads both stack files into frozen configs with the sizes they promise", () => {
        const dev = loadLabConfig(rawStackConfig("dev"), "dev");
        assert.equal(dev.nodes, 10);
        assert.equal(dev.conductors, 2);
        assert.equal(dev.sushyContainers, 1);
        assert.equal(dev.fakeIpaContainers, 1);
        assert.ok(Object.isFrozen(dev) && Object.isFrozen(dev.network) && Object.isFrozen(dev.network.conductorIps));
        const big = loadLabConfig(rawStackConfig("scale1000"), "scale1000");
        assert.equal(big.nodes, 1000);
        assert.equal(big.conductors, 15);
        assert.equal(big.batchSize, 50);
        assert.equal(big.network.conductorIps.length, 15);
        assert.ok(big.sushyContainers * big.hostsPerSushy >= big.nodes);
    });

    it("keeps Pulumi.yaml's declared defaults equal to the loader's", () => {
        const project = parseYaml(fs.readFileSync(path.join(__dirname, "..", "Pulumi.yaml"), "utf8"));
        const declared = Object.fromEntries(Object.entries<any>(project.config).map(([k, v]) => [k, v.default]));
        assert.deepEqual(declared, { ...SCALAR_DEFAULTS });
        for (const [key, decl] of Object.entries<any>(project.config)) {
            assert.ok(decl.description && decl.type, `${key} needs a type and a description`);
            const jsType = typeof SCALAR_DEFAULTS[key as keyof typeof SCALAR_DEFAULTS];
            assert.equal(decl.type, jsType === "number" ? "integer" : jsType, key);
        }
    });

    it("derives sushy and fake-ipa counts, FKAS replicas and BMO concurrency", () => {
        const cfg = loadLabConfig({ nodes: "250" }, "dev");
        assert.equal(cfg.sushyContainers, 3, "one per 100 hosts");
        assert.equal(cfg.fakeIpaContainers, 3, "one per sushy container");
        assert.equal(cfg.fakeApiServers, 0, "no FKAS outside capi mode");
        assert.equal(cfg.bmo.concurrency, 3);
        assert.equal(cfg.bmo.provisioningLimit, 50);
        const capi = loadLabConfig({ mode: "capi", nodes: "300", clusters: "250" }, "dev");
        assert.equal(capi.fakeApiServers, 1, "one FKAS serves every cluster");
        assert.equal(capi.workersPerCluster, 0);
    });

    it("allocates conductor IPs from the provisioning CIDR, skipping the host IP and the DHCP range", () => {
        const cfg = loadLabConfig({ conductors: "5", network: { provisioningHostIp: "172.22.0.3", dhcpRange: "172.22.0.5,172.22.0.6" } }, "dev");
        assert.deepEqual(cfg.network.conductorIps, ["172.22.0.2", "172.22.0.4", "172.22.0.7", "172.22.0.8", "172.22.0.9"]);
        const more = loadLabConfig({ conductors: "6", network: { provisioningHostIp: "172.22.0.3", dhcpRange: "172.22.0.5,172.22.0.6" } }, "dev");
        assert.deepEqual(more.network.conductorIps.slice(0, 5), cfg.network.conductorIps, "adding a conductor keeps the others' IPs");
    });

    it("reads numbers and booleans as the CLI stores them (text)", () => {
        const cfg = loadLabConfig({ nodes: "12", inspectHosts: "false" }, "dev");
        assert.equal(cfg.nodes, 12);
        assert.equal(cfg.inspectHosts, false);
        assert.equal(loadLabConfig({}, "dev").inspectHosts, true, "hosts are inspected by default");
    });

    it("slugs stack names into DNS labels", () => {
        assert.equal(stackSlug("Scale_1000"), "scale-1000");
        assert.equal(stackSlug("org/project/dev"), "org-project-dev");
        assert.equal(stackSlug("___"), "lab");
    });

    it("accepts only immutable pins: release tags, dated branch builds, digests", () => {
        assert.ok(isPinnedImage("quay.io/metal3-io/ironic:v35.0.2"));
        assert.ok(isPinnedImage("quay.io/metal3-io/mariadb:capm3-v1.11.0"));
        assert.ok(isPinnedImage("docker.io/library/registry:2.8.3"));
        assert.ok(isPinnedImage("localhost:5000/localimages/ironic:v35.0.2"));
        assert.ok(isPinnedImage(`quay.io/metal3-io/fake-ipa:main_2026-04-02_${"f".repeat(40)}`));
        assert.ok(isPinnedImage(`quay.io/metal3-io/ironic:release-35.0_2026-08-19_${"0".repeat(40)}`));
        assert.ok(isPinnedImage(`quay.io/metal3-io/ironic@sha256:${"a".repeat(64)}`));
        assert.ok(isPinnedImage(`quay.io/metal3-io/fake-ipa:main@sha256:${"a".repeat(64)}`), "a digest pins whatever the tag says");
        for (const moving of ["quay.io/metal3-io/ironic", "quay.io/metal3-io/ironic:latest", "quay.io/metal3-io/fake-ipa:main", "quay.io/metal3-io/ironic:master", "quay.io/metal3-io/ironic:release-35.0", "quay.io/metal3-io/ironic:v35", "localhost:5000/ironic"]) {
            assert.ok(!isPinnedImage(moving), moving);
        }
    });

    it("every default image is an immutable pin that passes the compatibility rules in every mode", () => {
        for (const mode of ["ironic", "bmo", "capi"]) {
            const cfg = loadLabConfig({ mode }, "dev");
            for (const [name, ref] of Object.entries(cfg.images)) assert.ok(isPinnedImage(ref), `${name}: ${ref}`);
        }
    });

    // Each case: raw config, the key the message must name, and a fragment of what is allowed.
    const badCases: [string, Record<string, unknown>, string, RegExp][] = [
        ["unknown mode", { mode: "metal" }, "metal3-scale-lab:mode", /one of ironic, bmo, capi/],
        ["nodes not a number", { nodes: "many" }, "metal3-scale-lab:nodes", /whole number from 1 to 99999/],
        ["nodes zero", { nodes: "0" }, "metal3-scale-lab:nodes", /from 1/],
        ["nodes fractional", { nodes: "10.5" }, "metal3-scale-lab:nodes", /whole number/],
        ["conductors zero", { conductors: "0" }, "metal3-scale-lab:conductors", /from 1 to 250/],
        ["too many conductors for the CIDR", { conductors: "20", network: { provisioningCidr: "172.22.0.0/27", provisioningHostIp: "172.22.0.1", dhcpRange: "172.22.0.20,172.22.0.30" } }, "metal3-scale-lab:conductors", /fit in provisioningCidr 172.22.0.0\/27.*room for \d+/],
        ["more hosts than the sushy fleet carries", { nodes: "500", sushyContainers: "2" }, "metal3-scale-lab:sushyContainers", /carry all 500 nodes at hostsPerSushy=100: at least 5/],
        ["more sushy containers than hosts", { nodes: "3", sushyContainers: "5" }, "metal3-scale-lab:sushyContainers", /at most nodes \(3\)/],
        ["more fake-ipa than sushy", { nodes: "10", sushyContainers: "1", fakeIpaContainers: "2" }, "metal3-scale-lab:fakeIpaContainers", /at most sushyContainers \(1\)/],
        ["clusters above nodes", { mode: "capi", nodes: "5", clusters: "6" }, "metal3-scale-lab:clusters", /more than nodes \(5\)/],
        ["workers that do not fit the hosts", { mode: "capi", nodes: "10", clusters: "4", workersPerCluster: "2" }, "metal3-scale-lab:workersPerCluster", /clusters x \(1 \+ workersPerCluster\) = 12 is more than nodes \(10\)/],
        ["workers outside capi mode", { mode: "bmo", workersPerCluster: "1" }, "metal3-scale-lab:workersPerCluster", /0 unless mode is capi \(mode is bmo\)/],
        ["FKAS outside capi mode", { mode: "ironic", fakeApiServers: "1" }, "metal3-scale-lab:fakeApiServers", /0 unless mode is capi \(mode is ironic\)/],
        ["a workload Kubernetes version outside capi mode", { mode: "bmo", workloadKubernetesVersion: "v1.33.0" }, "metal3-scale-lab:workloadKubernetesVersion", /keep its default \(v1.34.1\) unless mode is capi/],
        ["a workload Kubernetes version that is not one", { mode: "capi", workloadKubernetesVersion: "1.34" }, "metal3-scale-lab:workloadKubernetesVersion", /Kubernetes version like v1.34.1/],
        ["FKAS on another port", { mode: "capi", ports: { fkas: 3334 } }, "metal3-scale-lab:ports.fkas", /be 3333: FKAS listens on that port/],
        ["more than one FKAS", { mode: "capi", clusters: "2", fakeApiServers: "3" }, "metal3-scale-lab:fakeApiServers", /be 0 or 1: one FKAS serves every workload cluster/],
        ["clusters outside capi mode", { mode: "bmo", clusters: "2" }, "metal3-scale-lab:clusters", /0 unless mode is capi/],
        ["batch size too big", { batchSize: "5000" }, "metal3-scale-lab:batchSize", /from 1 to 1000/],
        ["negative wait", { waitTimeoutMinutes: "-1" }, "metal3-scale-lab:waitTimeoutMinutes", /whole number/],
        ["unknown target state", { targetState: "active" }, "metal3-scale-lab:targetState", /available, manageable/],
        ["boot times reversed", { fakeIpaMinBootSeconds: "60", fakeIpaMaxBootSeconds: "30" }, "metal3-scale-lab:fakeIpaMaxBootSeconds", /at least fakeIpaMinBootSeconds \(60\)/],
        ["unknown top-level key", { node: "10" }, "metal3-scale-lab:node", /unknown key/],
        ["unpinned image", { images: { ironic: "quay.io/metal3-io/ironic:latest" } }, "metal3-scale-lab:images.ironic", /pinned to an immutable build: a release tag/],
        ["an image on a moving branch tag", { images: { fakeIpa: "quay.io/metal3-io/fake-ipa:main" } }, "metal3-scale-lab:images.fakeIpa", /dated build tag \(quay.io\/metal3-io\/fake-ipa:main_2026-04-02_<40-hex sha>\)/],
        ["an image on a release branch tag", { images: { ironic: "quay.io/metal3-io/ironic:release-35.0" } }, "metal3-scale-lab:images.ironic", /moving tags such as latest, main or release-0.13 are refused/],
        ["an ironic-image older than the rendering needs", { images: { ironic: "quay.io/metal3-io/ironic:v26.0.1" } }, "metal3-scale-lab:images.ironic", /v32.0.0 or newer: .*\/auth\/ironic-rpc/],
        ["a sushy-tools image that ignores NO_MEMOIZE", { images: { sushyTools: "quay.io/metal3-io/sushy-tools:v35.0.2" } }, "metal3-scale-lab:images.sushyTools", /v37.0.0 or newer: .*SUSHY_EMULATOR_NO_MEMOIZE/],
        ["a mariadb image that does not read /auth/mariadb", { images: { mariadb: "quay.io/metal3-io/mariadb:capm3-v1.9.0" } }, "metal3-scale-lab:images.mariadb", /v1.9.4 or newer: .*\/auth\/mariadb/],
        ["a CAPI core without v1beta2 Machines", { mode: "capi", images: { capiController: "registry.k8s.io/cluster-api/cluster-api-controller:v1.10.3", kubeadmBootstrapController: "registry.k8s.io/cluster-api/kubeadm-bootstrap-controller:v1.10.3", kubeadmControlPlaneController: "registry.k8s.io/cluster-api/kubeadm-control-plane-controller:v1.10.3" } }, "metal3-scale-lab:images.capiController", /v1.11.0 or newer: FKAS/],
        ["a CAPM3 of another minor than CAPI", { mode: "capi", images: { capm3Controller: "quay.io/metal3-io/cluster-api-provider-metal3:v1.12.3", ipamController: "quay.io/metal3-io/ip-address-manager:v1.12.3", bmo: "quay.io/metal3-io/baremetal-operator:v0.12.3" } }, "metal3-scale-lab:images.capm3Controller", /minor release with images.capiController \(v1.13\)/],
        ["an IPAM of another minor than CAPM3", { mode: "capi", images: { ipamController: "quay.io/metal3-io/ip-address-manager:v1.12.3" } }, "metal3-scale-lab:images.ipamController", /minor release with images.capm3Controller \(v1.13\)/],
        ["a BMO that does not pair with CAPM3", { mode: "capi", images: { bmo: "quay.io/metal3-io/baremetal-operator:v0.12.3" } }, "metal3-scale-lab:images.bmo", /v0.13.x release to pair with CAPM3 v1.13/],
        ["a management cluster too old for CAPI", { mode: "capi", managementCluster: { kubernetesVersion: "v1.31.4" } }, "metal3-scale-lab:managementCluster.kubernetesVersion", /v1.32 or newer: Cluster API v1.13/],
        ["the removed ironic-inspector", { ironic: { inspector: "true" } }, "metal3-scale-lab:ironic.inspector", /removed from ironic-image in v25.0.0/],
        ["the removed inspector port", { ports: { inspector: 5050 } }, "metal3-scale-lab:ports.inspector", /removed from ironic-image in v25.0.0/],
        ["inspectHosts not boolean", { inspectHosts: "yes" }, "metal3-scale-lab:inspectHosts", /true or false/],
        ["unknown image key", { images: { ironik: "quay.io/metal3-io/ironic:v1" } }, "metal3-scale-lab:images.ironik", /unknown key/],
        ["images not an object", { images: "quay.io/x:1" }, "metal3-scale-lab:images", /be an object/],
        ["a BMO image without a release tag", { images: { bmo: `quay.io/metal3-io/baremetal-operator@sha256:${"b".repeat(64)}` } }, "metal3-scale-lab:images.bmo", /release tag like v1.2.3/],
        ["a BMO release without a known CRD list", { images: { bmo: "quay.io/metal3-io/baremetal-operator:v0.2.0" } }, "metal3-scale-lab:images.bmo", /known minors: v0\.8/],
        ["CAPI kubeadm providers from another release", { mode: "capi", images: { kubeadmBootstrapController: "registry.k8s.io/cluster-api/kubeadm-bootstrap-controller:v1.8.0" } }, "metal3-scale-lab:images.kubeadmBootstrapController", /CAPI core release of images.capiController \(v1.13.5\)/],
        ["a renamed CAPM3 image clusterctl cannot re-home", { mode: "capi", images: { capm3Controller: "example.org/capm3:v1.13.2" } }, "metal3-scale-lab:images.capm3Controller", /keep the upstream image name cluster-api-provider-metal3/],
        ["two images mirrored to one local name", { images: { fakeIpa: "example.org/forks/ironic:v35.0.2" } }, "metal3-scale-lab:images.fakeIpa", /same local name as images.ironic/],
        ["bad CIDR", { network: { provisioningCidr: "172.22.0.0/33" } }, "metal3-scale-lab:network.provisioningCidr", /CIDR form/],
        ["CIDR with host bits", { network: { provisioningCidr: "172.22.0.5/24" } }, "metal3-scale-lab:network.provisioningCidr", /no host bits/],
        ["host IP outside its CIDR", { network: { provisioningHostIp: "10.0.0.1" } }, "metal3-scale-lab:network.provisioningHostIp", /inside provisioningCidr/],
        ["overlapping networks", { network: { baremetalCidr: "172.22.0.0/16", baremetalHostIp: "172.22.1.1" } }, "metal3-scale-lab:network.baremetalCidr", /not overlap provisioningCidr/],
        ["DHCP range outside CIDR", { network: { dhcpRange: "172.22.1.10,172.22.1.20" } }, "metal3-scale-lab:network.dhcpRange", /inside provisioningCidr/],
        ["port collision", { ports: { httpd: 5000 } }, "metal3-scale-lab:ports.httpd", /not collide with metal3-scale-lab:ports.registry/],
        ["sushy range runs into fake-ipa range", { nodes: "300", sushyContainers: "3", ports: { sushyBase: 9898 } }, "metal3-scale-lab:ports.fakeIpaBase", /not collide with metal3-scale-lab:ports.sushyBase \(ports 9898-9900/],
        ["port out of range", { ports: { registry: 70000 } }, "metal3-scale-lab:ports.registry", /from 1 to 65535/],
        ["unknown management cluster kind", { managementCluster: { kind: "kind" } }, "metal3-scale-lab:managementCluster.kind", /minikube, existing/],
        ["existing cluster without kubeconfig", { managementCluster: { kind: "existing" } }, "metal3-scale-lab:managementCluster.kubeconfig", /set to a kubeconfig path/],
        ["tiny VM", { managementCluster: { memoryMb: 1024 } }, "metal3-scale-lab:managementCluster.memoryMb", /from 4096/],
        ["docker hosts empty", { dockerHosts: [] }, "metal3-scale-lab:dockerHosts", /non-empty list/],
        ["docker host bad URL", { dockerHosts: [{ name: "rack1", url: "http://x", address: "10.0.0.2" }] }, "metal3-scale-lab:dockerHosts[0].url", /unix:\/\/\/path, ssh:\/\/user@host/],
        ["docker host names repeat", { dockerHosts: [{ name: "a", url: "ssh://u@h1", address: "h1" }, { name: "a", url: "ssh://u@h2", address: "h2" }] }, "metal3-scale-lab:dockerHosts[1].name", /unique/],
        ["ironic microversion", { ironic: { apiVersion: "2" } }, "metal3-scale-lab:ironic.apiVersion", /microversion like 1.81/],
    ];
    for (const [title, raw, key, allowed] of badCases) {
        it(`rejects ${title}, naming ${key}`, () => {
            const issues = issuesOf(raw);
            const issue = issues.find((i) => i.key === key);
            assert.ok(issue, `no issue for ${key}: ${JSON.stringify(issues)}`);
            assert.match(issue.allowed, allowed);
            const message = new LabConfigError(issues).message;
            assert.ok(message.includes(key) && message.includes(showValue(issue.value)), message);
        });
    }

    it("checks BMO and CAPI images only in the modes that run them", () => {
        const digestBmo = { images: { bmo: `quay.io/metal3-io/baremetal-operator@sha256:${"b".repeat(64)}`, kubeadmBootstrapController: "registry.k8s.io/cluster-api/kubeadm-bootstrap-controller:v1.8.0", capm3Controller: "quay.io/metal3-io/cluster-api-provider-metal3:v1.9.0" } };
        assert.equal(loadLabConfig({ mode: "ironic", ...digestBmo }, "dev").mode, "ironic");
        assert.equal(loadLabConfig({ mode: "ironic", managementCluster: { kubernetesVersion: "v1.30.0" } }, "dev").mode, "ironic", "no CAPI, no CAPI Kubernetes floor");
    });

    it("reports every problem together, before anything is declared", () => {
        const issues = issuesOf({ mode: "metal", nodes: "zero", batchSize: "0", images: { bmo: "x" }, ports: { httpd: 5000 }, typo: "1" });
        const keys = issues.map((i) => i.key).sort();
        assert.deepEqual(keys, [
            "metal3-scale-lab:batchSize",
            "metal3-scale-lab:images.bmo",
            "metal3-scale-lab:mode",
            "metal3-scale-lab:nodes",
            "metal3-scale-lab:ports.httpd",
            "metal3-scale-lab:typo",
        ]);
        const message = new LabConfigError(issues).message;
        assert.match(message, /^Invalid stack config \(6 problems\):/);
        assert.match(message, /metal3-scale-lab:mode = "metal": must be one of ironic, bmo, capi/);
    });
});
