// The loader: defaults, derivations, and every bad input reported at once with key, value and what is allowed.
import * as pulumi from "@pulumi/pulumi";
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { HOSTS_PER_CPU, SCALAR_DEFAULTS } from "../components/config/defaults";
import { LabConfigError, showValue } from "../components/config/errors";
import { derivedBmoConcurrency, dockerDaemonOf, hostsPerDockerHost, isPinnedImage, loadLabConfig, RawConfig, stackSlug, thisLabHost } from "../components/config/load";
import { rawConfigOf, readRawConfig } from "../components/config/read";
import { editDistance, isNearMiss } from "../components/config/spelling";
import { rawStackConfig, stackConfig } from "./support/mockProgram";

/** The loader counts the lab host's CPUs; the table pins them so results do not depend on the test machine. */
const LAB_HOST = { cpus: 4 };

/** A kubeconfig file that exists for the whole run (the loader refuses a path that does not). */
const KUBECONFIG_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "metal3-lab-config-"));
const KUBECONFIG = path.join(KUBECONFIG_DIR, "kubeconfig");
fs.writeFileSync(KUBECONFIG, "apiVersion: v1\nkind: Config\n");
process.on("exit", () => fs.rmSync(KUBECONFIG_DIR, { recursive: true, force: true }));

/** The lab host on its LAN (an address remote machines route to), a remote docker host, two cluster nodes. */
const LAB_ON_LAN = { name: "local", url: "unix:///var/run/docker.sock", address: "10.0.0.1" };
const REMOTE = { name: "r2", url: "ssh://lab@rack2.example", address: "10.0.0.2" };
const NODES = [{ name: "node-a", address: "10.0.1.11" }, { name: "node-b", address: "10.0.1.12" }];

function issuesOf(raw: RawConfig): LabConfigError["issues"] {
    try {
        loadLabConfig(raw, "dev", LAB_HOST);
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
        assert.equal(cfg.sushyStripe, 10, "derived: blocks of 10 containers");
        assert.equal(cfg.sushyContainers, 10, "250 hosts fill 10 containers of the first block (25 each)");
        assert.equal(cfg.fakeIpaContainers, 10, "one per sushy container");
        assert.equal(loadLabConfig({ nodes: "1001" }, "dev").sushyContainers, 11, "host 1000 opens the second block");
        assert.equal(loadLabConfig({ nodes: "250", sushyContainers: "3" }, "dev").sushyStripe, 3, "a set count is one block");
        assert.equal(cfg.fakeApiServers, 0, "no FKAS outside capi mode");
        assert.equal(cfg.bmo.concurrency, 10, "one worker per 5 hosts in flight (50 x 1)");
        assert.equal(cfg.bmo.provisioningLimit, 50);
        const capi = loadLabConfig({ mode: "capi", nodes: "300", clusters: "250" }, "dev");
        assert.equal(capi.fakeApiServers, 1, "one FKAS serves every cluster");
        assert.equal(capi.workersPerCluster, 0);
    });

    it("derives BMO concurrency from the hosts in flight, never from nodes, so growth does not restart BMO", () => {
        for (const nodes of ["10", "700", "770", "5000"]) {
            assert.equal(loadLabConfig({ nodes, hostsPerSushy: "1000" }, "dev", { cpus: 64 }).bmo.concurrency, 10, nodes);
        }
        assert.equal(derivedBmoConcurrency(5, 1), 2, "at least 2, BMO's own floor");
        assert.equal(derivedBmoConcurrency(50, 3), 20, "at most 20");
        assert.equal(derivedBmoConcurrency(20, 2), 8);
        assert.equal(loadLabConfig({ batchSize: "20", maxBatchesInFlight: "2" }, "dev").bmo.concurrency, 8);
        assert.equal(loadLabConfig({ bmoConcurrency: "7" }, "dev").bmo.concurrency, 7, "a set value wins");
    });

    it("accepts what the defaults and every stack file declare in every mode (Pulumi passes declared defaults as config)", () => {
        for (const stack of ["dev", "scale1000"]) {
            for (const mode of ["ironic", "bmo", "capi"]) {
                const cfg = loadLabConfig(rawStackConfig(stack, { mode, ...(mode === "ironic" && stack === "scale1000" ? { bmoConcurrency: 0 } : {}) }), stack, { cpus: 20 });
                assert.equal(cfg.mode, mode);
            }
        }
        const existing = loadLabConfig({ managementCluster: { kind: "existing", kubeconfig: KUBECONFIG, context: "admin", conductorNodes: NODES }, dockerHosts: [LAB_ON_LAN] }, "dev");
        assert.equal(existing.managementCluster.kubeconfig, KUBECONFIG);
    });

    it("on an existing cluster, gives conductor i the address of conductorNodes[i], not a provisioning IP", () => {
        const cfg = loadLabConfig({ conductors: "2", managementCluster: { kind: "existing", kubeconfig: KUBECONFIG, conductorNodes: [...NODES, { name: "spare", address: "10.0.1.13" }] }, dockerHosts: [LAB_ON_LAN] }, "dev");
        assert.deepEqual(cfg.network.conductorIps, ["10.0.1.11", "10.0.1.12"]);
        assert.deepEqual(cfg.managementCluster.conductorNodes.map((n) => n.name), ["node-a", "node-b", "spare"]);
        // More conductors than a /24 provisioning network holds: the provisioning network does not count here.
        const many = Array.from({ length: 300 }, (_, i) => ({ name: `n${i}`, address: `10.1.${i >> 7}.${(i & 127) + 1}` }));
        assert.equal(loadLabConfig({ conductors: "250", managementCluster: { kind: "existing", kubeconfig: KUBECONFIG, conductorNodes: many }, dockerHosts: [LAB_ON_LAN] }, "dev").network.conductorIps.length, 250);
        assert.deepEqual(loadLabConfig({}, "dev").managementCluster.conductorNodes, [], "minikube: none");
    });

    it("accepts remote docker hosts when every address is off the lab's own networks", () => {
        const cfg = loadLabConfig({ dockerHosts: [LAB_ON_LAN, REMOTE] }, "dev", LAB_HOST);
        assert.deepEqual(cfg.dockerHosts.map((h) => h.address), ["10.0.0.1", "10.0.0.2"]);
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
        ["sushy range moved into the fake-ipa range (blames the port the user set)", { nodes: "300", sushyContainers: "3", ports: { sushyBase: 9898 } }, "metal3-scale-lab:ports.sushyBase", /not collide with metal3-scale-lab:ports.fakeIpaBase \(ports 9900-9902; sushyBase uses 9898-9900\)/],
        ["registry moved onto httpd's port (blames registry, not httpd)", { ports: { registry: 6180 } }, "metal3-scale-lab:ports.registry", /not collide with metal3-scale-lab:ports.httpd \(ports 6180; registry uses 6180\)/],
        ["fake-ipa range moved into the sushy range", { ports: { fakeIpaBase: 8000 } }, "metal3-scale-lab:ports.fakeIpaBase", /not collide with metal3-scale-lab:ports.sushyBase/],
        ["a sushy range that growth pushed into fake-ipa's", { nodes: "901", hostsPerSushy: "1", ports: { sushyBase: 9000 } }, "metal3-scale-lab:ports.sushyBase", /not collide with metal3-scale-lab:ports.fakeIpaBase \(ports 9900-10800; sushyBase uses 9000-9900\)/],
        ["FKAS port outside capi mode", { mode: "bmo", ports: { fkas: 3333 } }, "metal3-scale-lab:ports.fkas", /not be set unless mode is capi \(mode is bmo\)/],
        ["port out of range", { ports: { registry: 70000 } }, "metal3-scale-lab:ports.registry", /from 1 to 65535/],
        ["unknown management cluster kind", { managementCluster: { kind: "kind" } }, "metal3-scale-lab:managementCluster.kind", /minikube, existing/],
        ["existing cluster without kubeconfig", { managementCluster: { kind: "existing" } }, "metal3-scale-lab:managementCluster.kubeconfig", /set to a kubeconfig path/],
        ["tiny VM", { managementCluster: { memoryMb: 1024 } }, "metal3-scale-lab:managementCluster.memoryMb", /from 4096/],
        ["docker hosts empty", { dockerHosts: [] }, "metal3-scale-lab:dockerHosts", /non-empty list/],
        ["docker host bad URL", { dockerHosts: [{ name: "rack1", url: "http://x", address: "10.0.0.2" }] }, "metal3-scale-lab:dockerHosts[0].url", /unix:\/\/\/path, ssh:\/\/user@host/],
        ["docker host names repeat", { dockerHosts: [{ name: "a", url: "unix:///var/run/docker.sock", address: "192.168.111.1" }, { name: "a", url: "ssh://u@h2", address: "h2" }] }, "metal3-scale-lab:dockerHosts[1].name", /unique/],
        ["a first docker host that is not the lab host", { dockerHosts: [{ name: "rack1", url: "ssh://root@10.1.0.1", address: "10.1.0.1" }] }, "metal3-scale-lab:dockerHosts[0].url", /be this lab host's own Docker daemon \(a unix:\/\/ socket, or ssh:\/\/ or tcp:\/\/ to localhost, 172.22.0.1 or 192.168.111.1\)/],
        ["a first docker host on tcp to another machine", { dockerHosts: [{ name: "rack1", url: "tcp://10.1.0.1:2376", address: "10.1.0.1" }] }, "metal3-scale-lab:dockerHosts[0].url", /lab host's own Docker daemon/],
        ["the same remote daemon listed twice", { dockerHosts: [{ name: "local", url: "unix:///var/run/docker.sock", address: "192.168.111.1" }, { name: "r2", url: "ssh://lab@rack2.example", address: "10.0.0.2" }, { name: "r2b", url: "tcp://RACK2.example:2376", address: "10.0.0.2" }] }, "metal3-scale-lab:dockerHosts[2].url", /dockerHosts\[1\] already reaches the daemon on rack2.example/],
        ["the lab host's daemon listed again", { dockerHosts: [{ name: "local", url: "unix:///var/run/docker.sock", address: "192.168.111.1" }, { name: "again", url: "ssh://root@192.168.111.1", address: "192.168.111.1" }] }, "metal3-scale-lab:dockerHosts[1].url", /dockerHosts\[0\] already reaches this lab host's daemon/],
        ["cpus declared for the lab host", { dockerHosts: [{ name: "local", url: "unix:///var/run/docker.sock", address: "192.168.111.1", cpus: 64 }] }, "metal3-scale-lab:dockerHosts[0].cpus", /not be set on the lab host's entry: its CPUs are counted \(4; METAL3_LAB_HOST_CPUS overrides/],
        // Scale-out: addresses other machines use must be off the lab's own networks; an existing cluster names its conductor nodes.
        ["a lab host address on the baremetal network with a remote docker host", { dockerHosts: [{ name: "local", url: "unix:///var/run/docker.sock", address: "192.168.111.1" }, REMOTE] }, "metal3-scale-lab:dockerHosts[0].address", /be an address the other machines route to, not one on the lab's own network 192.168.111.0\/24 .*remote docker hosts call the Ironic API proxy at dockerHosts\[0\].address/],
        ["a remote docker host on the provisioning network", { dockerHosts: [LAB_ON_LAN, { name: "r2", url: "ssh://lab@rack2", address: "172.22.0.50" }] }, "metal3-scale-lab:dockerHosts[1].address", /not one on the lab's own network 172.22.0.0\/24/],
        ["an existing cluster without dockerHosts", { managementCluster: { kind: "existing", kubeconfig: KUBECONFIG, conductorNodes: NODES } }, "metal3-scale-lab:dockerHosts", /be set when managementCluster.kind is existing, with dockerHosts\[0\].address this lab host's address the cluster's nodes reach/],
        ["an existing cluster's lab host on the baremetal network", { managementCluster: { kind: "existing", kubeconfig: KUBECONFIG, conductorNodes: NODES }, dockerHosts: [{ name: "local", url: "unix:///var/run/docker.sock", address: "192.168.111.1" }] }, "metal3-scale-lab:dockerHosts[0].address", /the existing cluster's nodes call every docker host's sushy-tools and fake-ipa/],
        ["an existing cluster without conductor nodes", { managementCluster: { kind: "existing", kubeconfig: KUBECONFIG }, dockerHosts: [LAB_ON_LAN] }, "metal3-scale-lab:managementCluster.conductorNodes", /be set when kind is existing, to a list of \{name, address\}.*one node per conductor \(2\)/],
        ["fewer conductor nodes than conductors", { conductors: "3", managementCluster: { kind: "existing", kubeconfig: KUBECONFIG, conductorNodes: NODES }, dockerHosts: [LAB_ON_LAN] }, "metal3-scale-lab:managementCluster.conductorNodes", /3 conductors need 3 nodes, 2 given/],
        ["a conductor node listed twice", { managementCluster: { kind: "existing", kubeconfig: KUBECONFIG, conductorNodes: [NODES[0], { name: "node-a", address: "10.0.1.99" }] }, dockerHosts: [LAB_ON_LAN] }, "metal3-scale-lab:managementCluster.conductorNodes[1].name", /unique among conductorNodes: one conductor per node/],
        ["a conductor node without an IPv4 address", { managementCluster: { kind: "existing", kubeconfig: KUBECONFIG, conductorNodes: [NODES[0], { name: "node-b", address: "node-b.example" }] }, dockerHosts: [LAB_ON_LAN] }, "metal3-scale-lab:managementCluster.conductorNodes[1].address", /be the node's IPv4 address/],
        ["a conductor node with an unknown key", { managementCluster: { kind: "existing", kubeconfig: KUBECONFIG, conductorNodes: [NODES[0], { ...NODES[1], ip: "10.0.1.12" }] }, dockerHosts: [LAB_ON_LAN] }, "metal3-scale-lab:managementCluster.conductorNodes[1].ip", /unknown key/],
        ["conductor nodes with minikube", { managementCluster: { conductorNodes: NODES } }, "metal3-scale-lab:managementCluster.conductorNodes", /not be set when kind is minikube/],
        ["a conductor node at the proxy's address", { managementCluster: { kind: "existing", kubeconfig: KUBECONFIG, conductorNodes: [NODES[0], { name: "lab", address: "10.0.0.1" }] }, dockerHosts: [LAB_ON_LAN, REMOTE] }, "metal3-scale-lab:managementCluster.conductorNodes[1].address", /differ from dockerHosts\[0\].address: with remote docker hosts the Ironic API proxy listens there/],
        ["a remote docker host with no CPUs", { dockerHosts: [{ name: "local", url: "unix:///var/run/docker.sock", address: "192.168.111.1" }, { name: "r2", url: "ssh://lab@rack2", address: "10.0.0.2", cpus: 0 }] }, "metal3-scale-lab:dockerHosts[1].cpus", /whole number from 1 to 4096/],
        ["a fleet larger than the lab host carries", { nodes: String(4 * HOSTS_PER_CPU + 1), hostsPerSushy: "1000" }, "metal3-scale-lab:nodes", new RegExp(`fit the docker hosts at ${HOSTS_PER_CPU} hosts per CPU: dockerHosts\\[0\\] \\(local, 4 CPUs on the lab host\\) carries ${4 * HOSTS_PER_CPU} but would serve ${4 * HOSTS_PER_CPU + 1}`)],
        ["a fleet larger than a remote host's declared CPUs", { nodes: String(4 * HOSTS_PER_CPU), hostsPerSushy: "100", dockerHosts: [{ name: "local", url: "unix:///var/run/docker.sock", address: "192.168.111.1" }, { name: "small", url: "ssh://lab@small", address: "10.0.0.9", cpus: 1 }] }, "metal3-scale-lab:nodes", new RegExp(`dockerHosts\\[1\\] \\(small, 1 CPU\\) carries ${HOSTS_PER_CPU} but would serve ${2 * HOSTS_PER_CPU}; lower nodes or add docker hosts`)],
        ["ironic microversion", { ironic: { apiVersion: "2" } }, "metal3-scale-lab:ironic.apiVersion", /microversion like 1.81/],
        // Keys that do nothing in the chosen mode.
        ["a target state BMO does not use (bmo mode)", { mode: "bmo", targetState: "manageable" }, "metal3-scale-lab:targetState", /be available unless mode is ironic \(mode is bmo\)/],
        ["a target state BMO does not use (capi mode)", { mode: "capi", targetState: "manageable" }, "metal3-scale-lab:targetState", /unless mode is ironic \(mode is capi\)/],
        ["BMO concurrency in ironic mode", { mode: "ironic", bmoConcurrency: "8" }, "metal3-scale-lab:bmoConcurrency", /be 0 unless mode is bmo or capi \(mode is ironic\): only BMO reads it/],
        ["BMO provisioning limit in ironic mode", { mode: "ironic", provisioningLimit: "100" }, "metal3-scale-lab:provisioningLimit", /only BMO reads it/],
        ["VM size with an existing cluster", { managementCluster: { kind: "existing", kubeconfig: KUBECONFIG, cpus: 8 } }, "metal3-scale-lab:managementCluster.cpus", /not be set when kind is existing: only the minikube VM reads it/],
        ["VM memory with an existing cluster", { managementCluster: { kind: "existing", kubeconfig: KUBECONFIG, memoryMb: 16384 } }, "metal3-scale-lab:managementCluster.memoryMb", /only the minikube VM reads it/],
        ["a minikube profile with an existing cluster", { managementCluster: { kind: "existing", kubeconfig: KUBECONFIG, profile: "lab" } }, "metal3-scale-lab:managementCluster.profile", /only the minikube VM reads it/],
        ["a kubeconfig context with minikube", { managementCluster: { kind: "minikube", context: "admin" } }, "metal3-scale-lab:managementCluster.context", /not be set when kind is minikube: the lab uses minikube's own context \(the profile, metal3-dev\)/],
        // Config under a namespace that is a misspelling of the project's.
        ["config under a misspelt namespace", { "metal3-scalelab:nodes": "20" }, "metal3-scalelab:nodes", /be set as metal3-scale-lab:nodes: the namespace "metal3-scalelab" is not this project's/],
        ["config under a namespace with a stray letter", { "metal3-scale-labs:mode": "capi" }, "metal3-scale-labs:mode", /be set as metal3-scale-lab:mode/],
        ["config under a namespace in another case", { "Metal3-Scale-Lab:network": "{}" }, "Metal3-Scale-Lab:network", /be set as metal3-scale-lab:network/],
        ["a misspelt top-level key, with a suggestion", { nodse: "10" }, "metal3-scale-lab:nodse", /unknown key \(did you mean nodes\?\)/],
        ["a misspelt object key, with a suggestion", { network: { conductorIPOffset: 3 } }, "metal3-scale-lab:network.conductorIPOffset", /did you mean conductorIpOffset\?/],
        // Host addresses that no host can have.
        ["the provisioning network's own address as the host IP", { network: { provisioningHostIp: "172.22.0.0" } }, "metal3-scale-lab:network.provisioningHostIp", /usable host address of 172.22.0.0\/24 \(172.22.0.1-172.22.0.254\), not its network or broadcast address/],
        ["the provisioning broadcast address as the host IP", { network: { provisioningHostIp: "172.22.0.255" } }, "metal3-scale-lab:network.provisioningHostIp", /not its network or broadcast address/],
        ["the baremetal network's own address as the host IP", { network: { baremetalHostIp: "192.168.111.0" } }, "metal3-scale-lab:network.baremetalHostIp", /usable host address of 192.168.111.0\/24/],
        ["the baremetal broadcast address as the host IP", { network: { baremetalHostIp: "192.168.111.255" } }, "metal3-scale-lab:network.baremetalHostIp", /not its network or broadcast address/],
        ["a host IP inside the DHCP range", { network: { provisioningHostIp: "172.22.0.150" } }, "metal3-scale-lab:network.provisioningHostIp", /lie outside dhcpRange 172.22.0.100,172.22.0.200: dnsmasq would lease/],
        ["a host IP on the DHCP range's edge", { network: { provisioningHostIp: "172.22.0.100" } }, "metal3-scale-lab:network.provisioningHostIp", /lie outside dhcpRange/],
        ["a DHCP range from the network address", { network: { dhcpRange: "172.22.0.0,172.22.0.50" } }, "metal3-scale-lab:network.dhcpRange", /usable addresses of provisioningCidr 172.22.0.0\/24 \(172.22.0.1-172.22.0.254\)/],
        ["a DHCP range up to the broadcast address", { network: { dhcpRange: "172.22.0.100,172.22.0.255" } }, "metal3-scale-lab:network.dhcpRange", /cannot lease the network or broadcast address/],
        // Blamed on the key to change.
        ["a conductor offset past the CIDR", { network: { conductorIpOffset: 300 } }, "metal3-scale-lab:network.conductorIpOffset", /be at most 254: provisioningCidr 172.22.0.0\/24 has host numbers 1 to 254/],
        ["a conductor offset too high for the conductors", { conductors: "10", network: { conductorIpOffset: 250 } }, "metal3-scale-lab:network.conductorIpOffset", /be at most 245: from offset 250, provisioningCidr 172.22.0.0\/24 has room for 5 of the 10 conductors/],
        ["a conductor offset that leaves too little room above the DHCP range", { conductors: "60", network: { conductorIpOffset: 150 } }, "metal3-scale-lab:network.conductorIpOffset", /be at most 94: from offset 150, provisioningCidr 172.22.0.0\/24 has room for 54 of the 60 conductors/],
        // A kubeconfig the lab cannot read.
        ["an existing cluster's kubeconfig that does not exist", { managementCluster: { kind: "existing", kubeconfig: "/nonexistent/metal3/kubeconfig" } }, "metal3-scale-lab:managementCluster.kubeconfig", /name an existing kubeconfig file on this machine \(\/nonexistent\/metal3\/kubeconfig is not a file\)/],
        ["an existing cluster's kubeconfig that is a directory", { managementCluster: { kind: "existing", kubeconfig: KUBECONFIG_DIR } }, "metal3-scale-lab:managementCluster.kubeconfig", /is not a file/],
        ["a home-relative kubeconfig that does not exist", { managementCluster: { kind: "existing", kubeconfig: "~/.kube/metal3-lab-does-not-exist" } }, "metal3-scale-lab:managementCluster.kubeconfig", new RegExp(`${os.homedir()}/.kube/metal3-lab-does-not-exist is not a file`)],
        // Sizes the derivations cannot serve.
        ["so few hosts per container that more than 1000 are needed", { nodes: "3000", hostsPerSushy: "2" }, "metal3-scale-lab:hostsPerSushy", /at most 1000 sushy-tools containers \(they need 1500\)/],
        ["a set sushy count that shrinking nodes left too large", { nodes: "15", sushyContainers: "20" }, "metal3-scale-lab:sushyContainers", /at most nodes \(15\)/],
        ["a set fake-ipa count the derived sushy fleet no longer feeds", { nodes: "4", fakeIpaContainers: "5" }, "metal3-scale-lab:fakeIpaContainers", /at most sushyContainers \(4\)/],
    ];
    it("keeps a table of at least 60 bad configs", () => assert.ok(badCases.length >= 60, `${badCases.length} cases`));

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

    it("reads config under a near-miss namespace whole, and ignores other projects' and providers' namespaces", () => {
        const all = { ...stackConfig("dev"), "metal3-scalelab:nodes": "20", "kubernetes:context": "x", "pulumi:tags": "{}", "metal3:nodes": "1" };
        const raw = rawConfigOf(all);
        assert.equal(raw["metal3-scalelab:nodes"], "20");
        assert.equal(raw.nodes, "10");
        assert.ok(!Object.keys(raw).some((k) => k.startsWith("kubernetes") || k.startsWith("pulumi") || k.startsWith("metal3:")), Object.keys(raw).join(", "));
        // The same through the Pulumi runtime, as index.ts reads it.
        const saved = pulumi.runtime.allConfig();
        try {
            pulumi.runtime.setAllConfig(all, []);
            const issues = (() => {
                try {
                    loadLabConfig(readRawConfig(), "dev", LAB_HOST);
                } catch (err) {
                    return (err as LabConfigError).issues;
                }
                return [];
            })();
            assert.deepEqual(issues.map((i) => i.key), ["metal3-scalelab:nodes"]);
        } finally {
            pulumi.runtime.setAllConfig(saved, []);
        }
    });

    it("spells near misses: edit distance up to 2, ignoring case", () => {
        assert.equal(editDistance("metal3-scalelab", "metal3-scale-lab"), 1);
        assert.equal(editDistance("kitten", "sitting"), 3);
        assert.equal(editDistance("nodse", "nodes"), 1, "a swap of neighbours is one edit");
        assert.ok(isNearMiss("metal3-scale-lba", "metal3-scale-lab"));
        assert.ok(isNearMiss("METAL3-SCALE-LAB", "metal3-scale-lab"));
        assert.ok(!isNearMiss("metal3-scale-lab", "metal3-scale-lab"), "our own namespace is not a miss");
        assert.ok(!isNearMiss("kubernetes", "metal3-scale-lab"));
        assert.ok(!isNearMiss("metal3", "metal3-scale-lab"));
    });

    it("tells docker daemons apart by machine; every way to reach the lab host is the lab host", () => {
        const lab = new Set(["localhost", "127.0.0.1", "172.22.0.1", "192.168.111.1"]);
        for (const url of ["unix:///var/run/docker.sock", "unix:///run/user/1000/docker.sock", "ssh://root@localhost", "tcp://127.0.0.1:2375", "ssh://lab@192.168.111.1:2222"]) assert.equal(dockerDaemonOf(url, lab), "lab host", url);
        assert.equal(dockerDaemonOf("ssh://lab@Rack2.example", lab), "rack2.example");
        assert.equal(dockerDaemonOf("tcp://rack2.example:2376", lab), "rack2.example");
    });

    it("counts hosts on the docker host of their sushy-tools container; the lab host's CPUs are this machine's", () => {
        assert.deepEqual(hostsPerDockerHost({ nodes: 25, sushyStripe: 10, hostsPerSushy: 100 }, 2), [13, 12]);
        assert.deepEqual(hostsPerDockerHost({ nodes: 1000, sushyStripe: 20, hostsPerSushy: 100 }, 3), [350, 350, 300]);
        assert.ok(thisLabHost({}).cpus >= 1);
        assert.equal(thisLabHost({ METAL3_LAB_HOST_CPUS: "20" }).cpus, 20, "previewing away from the lab host");
        assert.equal(thisLabHost({ METAL3_LAB_HOST_CPUS: "lots" }).cpus, thisLabHost({}).cpus, "a bad value is ignored");
        // At the limit, accepted; one host more, refused.
        assert.equal(loadLabConfig({ nodes: String(HOSTS_PER_CPU), hostsPerSushy: "1000" }, "dev", { cpus: 1 }).nodes, HOSTS_PER_CPU);
        assert.throws(() => loadLabConfig({ nodes: String(HOSTS_PER_CPU + 1), hostsPerSushy: "1000" }, "dev", { cpus: 1 }), new RegExp(`carries ${HOSTS_PER_CPU} but would serve ${HOSTS_PER_CPU + 1}`));
        // A remote host without cpus is assumed as large as the lab host.
        const two = [LAB_ON_LAN, { name: "r2", url: "ssh://lab@r2", address: "10.0.0.2" }];
        assert.equal(loadLabConfig({ nodes: String(2 * HOSTS_PER_CPU), hostsPerSushy: "100", dockerHosts: two }, "dev", { cpus: 1 }).nodes, 2 * HOSTS_PER_CPU);
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
