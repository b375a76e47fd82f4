// Bmo: pure rendering, and its place in the cluster side under mocks.
import { strict as assert } from "node:assert";
import * as k8s from "@pulumi/kubernetes";
import { Bmo } from "../components/bmo/bmo";
import { BMO_CRDS_BY_MINOR, bmoClusterRoleRules, bmoCrdUrls, bmoDeploymentSpec, bmoIronicEnv, bmoKubeApiRate } from "../components/bmo/render";
import { IronicCluster } from "../components/ironic/ironicCluster";
import { ipaImageUrls } from "../components/registry/ipaImages";
import { runProgram, stackConfig } from "./support/mockProgram";
import {
    CONFIGMAP,
    CONFIG_GROUP,
    DEPLOYMENT,
    NAMESPACE,
    SECRET,
    ClusterRun,
    byName,
    fakeImages,
    labConfig,
    leakedSecrets,
    ofType,
    runClusterSide,
    unwrappedSecretData,
    valueOf,
    workloadImages,
} from "./support/clusterFixtures";

describe("Bmo rendering", () => {
    const config = labConfig("dev");

    it("points the ironic ConfigMap at the primary conductor over TLS, with concurrency from config", () => {
        const env = bmoIronicEnv(config, {
            ironicEndpoint: "https://172.22.0.2:6385",
            deployKernelUrl: "http://172.22.0.2:6180/images/ironic-python-agent.kernel",
            deployRamdiskUrl: "http://172.22.0.2:6180/images/ironic-python-agent.initramfs",
        });
        assert.equal(env.IRONIC_ENDPOINT, "https://172.22.0.2:6385/v1/");
        assert.equal(env.IRONIC_CACERT_FILE, "/opt/metal3/certs/ca/tls.crt");
        assert.equal(env.IRONIC_INSECURE, "false");
        assert.equal(env.BMO_CONCURRENCY, String(config.bmo.concurrency));
        assert.equal(env.PROVISIONING_LIMIT, String(config.bmo.provisioningLimit));
        assert.equal(env.DEPLOY_KERNEL_URL, "http://172.22.0.2:6180/images/ironic-python-agent.kernel");
        assert.throws(() => bmoIronicEnv(config, { ironicEndpoint: "http://x:6385", deployKernelUrl: "k", deployRamdiskUrl: "r" }), /TLS/);
    });

    it("derives concurrency from the hosts in flight (batchSize x maxBatchesInFlight) and API rates from concurrency", () => {
        const small = labConfig("dev");
        const big = labConfig("scale1000");
        assert.ok(small.bmo.concurrency >= 2 && small.bmo.concurrency <= 8);
        assert.ok(big.bmo.concurrency > small.bmo.concurrency, "scale1000 enrolls 50 hosts at once, dev 5");
        assert.ok(big.bmo.provisioningLimit >= big.batchSize, "a whole batch may inspect at once");
        assert.deepEqual(bmoKubeApiRate(2), { qps: 20, burst: 30 });
        assert.deepEqual(bmoKubeApiRate(10), { qps: 50, burst: 75 });
        assert.deepEqual(bmoKubeApiRate(200), { qps: 200, burst: 300 });
    });

    it("fetches the CRDs of the pinned release only", () => {
        const urls = bmoCrdUrls("v0.9.0");
        assert.equal(urls.length, BMO_CRDS_BY_MINOR["v0.9"].length);
        for (const url of urls) assert.match(url, /^https:\/\/raw\.githubusercontent\.com\/metal3-io\/baremetal-operator\/v0\.9\.0\/config\/base\/crds\/bases\/metal3\.io_[a-z]+\.yaml$/);
        assert.ok(urls.some((u) => u.endsWith("metal3.io_baremetalhosts.yaml")));
        assert.throws(() => bmoCrdUrls("v9.9.0"), /no CRD list/);
    });

    it("renders the controller with credentials and CA mounted where BMO reads them, webhook off", () => {
        const spec = bmoDeploymentSpec({
            instance: "bmo",
            image: "reg/bmo:v0.9.0",
            concurrency: 20,
            configMapName: "ironic",
            credentialsSecretName: "ironic-credentials",
            caSecretName: "ironic-cacert",
            serviceAccountName: "sa",
        }) as any;
        const c = spec.template.spec.containers[0];
        assert.deepEqual(c.envFrom, [{ configMapRef: { name: "ironic" } }]);
        assert.ok(c.args.includes("--webhook-port=0"));
        assert.ok(c.args.includes("--kube-api-qps=100"));
        const mounts = Object.fromEntries(c.volumeMounts.map((m: any) => [m.mountPath, m.name]));
        assert.equal(mounts["/opt/metal3/auth/ironic"], "ironic-credentials");
        assert.equal(mounts["/opt/metal3/certs/ca"], "ironic-cacert");
        const rules = bmoClusterRoleRules();
        assert.ok(rules.some((r) => r.apiGroups.includes("metal3.io") && r.resources.includes("*")));
    });
});

const isBmoChild = (urn: string) => urn.includes("metal3-scale-lab:bmo:Bmo$");

for (const stack of ["dev", "scale1000"]) {
    for (const mode of ["ironic", "bmo", "capi"] as const) {
        describe(`Bmo: ${stack} stack, ${mode} mode`, () => {
            let run: ClusterRun;
            before(async () => {
                run = await runClusterSide(stack, { mode });
            });

            if (mode === "ironic") {
                it("is not deployed", () => {
                    assert.equal(run.side.bmo, undefined);
                    assert.equal(run.resources.filter((r) => isBmoChild(r.urn) || r.type === "metal3-scale-lab:bmo:Bmo").length, 0);
                });
                return;
            }

            it("runs one controller from the local registry, after every Ironic conductor and its CRDs", () => {
                const deployment = byName(run, DEPLOYMENT, "bmo-controller-manager");
                assert.deepEqual(workloadImages(deployment), [run.images.bmo]);
                const conductors = ofType(run, DEPLOYMENT).filter((d) => d.name.startsWith("ironic-conductor-"));
                assert.equal(conductors.length, run.config.conductors);
                for (const c of conductors) assert.ok(deployment.dependencies.includes(c.urn), `after ${c.name}`);
                assert.ok(deployment.dependencies.includes(byName(run, CONFIG_GROUP, "bmo-crds").urn));
                assert.equal(run.providers.get(`${DEPLOYMENT}::bmo-controller-manager`), "management");
            });

            it("installs the pinned release's CRDs", () => {
                const crds = byName(run, CONFIG_GROUP, "bmo-crds");
                const version = run.config.images.bmo.split(":").pop();
                for (const url of crds.inputs.files) assert.ok(url.includes(`/baremetal-operator/${version}/`), url);
            });

            it("configures BMO for the primary conductor with the config's concurrency", () => {
                const env = byName(run, CONFIGMAP, "bmo-ironic").inputs.data;
                assert.equal(env.IRONIC_ENDPOINT, `${run.side.ironic.primaryEndpoint}/v1/`);
                assert.equal(env.BMO_CONCURRENCY, String(run.config.bmo.concurrency));
                assert.equal(env.PROVISIONING_LIMIT, String(run.config.bmo.provisioningLimit));
                assert.equal(env.DEPLOY_KERNEL_URL, run.side.ironic.deployKernelUrl);
            });

            it("copies the credentials and CA into its namespace as secrets", () => {
                const credentials = byName(run, SECRET, "bmo-ironic-credentials");
                assert.equal(credentials.inputs.metadata.namespace, run.config.namespaces.bmo);
                assert.equal(credentials.inputs.metadata.name, "ironic-credentials");
                assert.deepEqual(Object.keys(credentials.inputs.stringData).sort(), ["password", "username"]);
                assert.equal(byName(run, SECRET, "bmo-ironic-cacert").inputs.metadata.name, "ironic-cacert");
                assert.deepEqual(unwrappedSecretData(run), []);
                assert.deepEqual(leakedSecrets(run), []);
            });

            it("creates the hosts namespace and exposes it", async () => {
                assert.equal(byName(run, NAMESPACE, "bmo-hosts-namespace").inputs.metadata.name, run.config.namespaces.hosts);
                assert.equal(await valueOf(run.side.bmo!.hostsNamespace), run.config.namespaces.hosts);
                assert.equal(await valueOf(run.side.bmo!.namespace), run.config.namespaces.bmo);
            });
        });
    }
}

describe("Bmo outside its modes", () => {
    it("refuses to be created in ironic mode", async () => {
        const config = labConfig("dev", { mode: "ironic" });
        let error: unknown;
        await runProgram(
            () => {
                const provider = new k8s.Provider("management", {});
                const ironic = new IronicCluster("ironic", { config, provider, images: fakeImages(config.images), ipaImages: ipaImageUrls(config) });
                try {
                    new Bmo("bmo", { config, provider, images: fakeImages(config.images), ironic });
                } catch (e) {
                    error = e;
                }
                return {};
            },
            { stack: "dev", config: stackConfig("dev", { mode: "ironic" }) },
        );
        assert.match(String(error), /only in bmo and capi modes/);
    });
});

describe("Bmo when hosts are added", () => {
    it("leaves the running controller and its ConfigMap alone (concurrency pinned, as the study's stack does)", async () => {
        const before = await runClusterSide("scale1000", {});
        const after = await runClusterSide("scale1000", { nodes: 1100, sushyContainers: 22, fakeIpaContainers: 22 });
        const bmo = (run: ClusterRun) => new Map(run.resources.filter((r) => isBmoChild(r.urn)).map((r) => [r.urn, JSON.stringify(r.rawInputs)]));
        assert.deepEqual(bmo(after), bmo(before));
    });
});
