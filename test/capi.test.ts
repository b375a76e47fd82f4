// ClusterApi (clusterctl) and FakeApiServer (FKAS): pure rendering, and their
// place in the cluster side under mocks.
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import {
    CLUSTERCTL_ENV,
    CLUSTERCTL_IMAGES,
    CLUSTERCTL_PROVIDERS,
    FKAS_CONTAINER_PORT,
    clusterctlConfig,
    clusterctlMarker,
    clusterctlProviderFlags,
    clusterctlScripts,
    clusterctlVersions,
    fkasClusterRoleRules,
    fkasPodNames,
    fkasProxyPath,
    fkasStatefulSetSpec,
} from "../components/capi/render";
import { isSecretWrapper } from "./support/mockProgram";
import {
    COMMAND,
    DEPLOYMENT,
    STATEFULSET,
    ClusterRun,
    byName,
    fakeImages,
    labConfig,
    leakedSecrets,
    ofType,
    runClusterSide,
    workloadImages,
} from "./support/clusterFixtures";

describe("clusterctl rendering", () => {
    const config = labConfig("dev", { mode: "capi" });
    const versions = clusterctlVersions(config.images);
    const local = fakeImages(config.images);
    const localRefs = Object.fromEntries(CLUSTERCTL_IMAGES.map((k) => [k, local[k]])) as Record<(typeof CLUSTERCTL_IMAGES)[number], string>;

    it("pins every provider to the tag of its pinned image", () => {
        assert.deepEqual(clusterctlProviderFlags(versions), [
            "--core", "cluster-api:v1.9.4",
            "--bootstrap", "kubeadm:v1.9.4",
            "--control-plane", "kubeadm:v1.9.4",
            "--infrastructure", "metal3:v1.9.0",
            "--ipam", "metal3:v1.9.0",
        ]);
        assert.throws(
            () => clusterctlVersions({ ...config.images, kubeadmBootstrapController: "registry.k8s.io/cluster-api/kubeadm-bootstrap-controller:v1.8.0" }),
            /share one release/,
        );
    });

    it("re-homes every controller image to the local registry", () => {
        const parsed = JSON.parse(clusterctlConfig(localRefs));
        assert.deepEqual(parsed.images["cluster-api/cluster-api-controller"], { repository: "172.22.0.1:5000/localimages", tag: "v1.9.4" });
        assert.deepEqual(parsed.images["infrastructure-metal3/cluster-api-provider-metal3"], { repository: "172.22.0.1:5000/localimages", tag: "v1.9.0" });
        assert.deepEqual(parsed.images["ipam-metal3/ip-address-manager"], { repository: "172.22.0.1:5000/localimages", tag: "v1.9.0" });
        assert.equal(Object.keys(parsed.images).length, 5);
        assert.deepEqual(parsed.providers, [{ name: "metal3", url: "https://github.com/metal3-io/ip-address-manager/releases/latest/ipam-components.yaml", type: "IPAMProvider" }]);
        assert.throws(() => clusterctlConfig({ ...localRefs, capiController: "172.22.0.1:5000/localimages/capi:v1.9.4" }), /keep that name/);
    });

    it("inits, upgrades (unless unchanged) and deletes without ever printing the kubeconfig", () => {
        const text = clusterctlConfig(localRefs);
        const scripts = clusterctlScripts(versions, text);
        const marker = clusterctlMarker(versions, text);
        assert.match(scripts.create, /cc init --core cluster-api:v1\.9\.4 .*--ipam metal3:v1\.9\.0 --wait-providers/);
        assert.ok(scripts.create.trimEnd().endsWith(`echo '${marker}'`));
        assert.match(scripts.update, /cc upgrade apply --core cluster-api:v1\.9\.4/);
        assert.ok(scripts.update.includes(`grep -qxF '${marker}'`));
        assert.match(scripts.delete, /cc delete --all --include-namespace\n$/);
        assert.ok(!scripts.delete.includes("--include-crd"), "provider replacement must not delete the CRDs (and every cluster)");
        for (const script of Object.values(scripts)) {
            assert.ok(script.includes("umask 077") && script.includes("trap 'rm -rf"));
            assert.ok(script.includes("releases/download/v1.9.4/clusterctl"), "the clusterctl binary matches the core provider");
            // The kubeconfig only goes to the private temp file.
            const uses = script.split("\n").filter((l: string) => l.includes(CLUSTERCTL_ENV.kubeconfig));
            assert.deepEqual(uses, [`printf '%s\\n' "$${CLUSTERCTL_ENV.kubeconfig}" > "$work/kubeconfig"`]);
            assert.ok(!/cat "\$work\/kubeconfig"|echo .*kubeconfig/.test(script));
        }
        assert.notEqual(clusterctlMarker(versions, text + " "), marker, "a config change re-applies");
    });
});

describe("FKAS rendering", () => {
    it("runs FKAS and its reconciler from one image, stable replica names, RBAC to read hosts/machines/secrets", () => {
        const spec = fkasStatefulSetSpec({ instance: "fkas", image: "reg/metal3-fkas:v1", replicas: 3, serviceName: "fkas", serviceAccountName: "fkas" }) as any;
        assert.equal(spec.replicas, 3);
        assert.equal(spec.podManagementPolicy, "Parallel");
        const [fkas, reconciler] = spec.template.spec.containers;
        assert.equal(fkas.image, "reg/metal3-fkas:v1");
        assert.equal(reconciler.image, "reg/metal3-fkas:v1");
        assert.deepEqual(reconciler.command, ["/reconciler"]);
        assert.equal(fkas.ports[0].containerPort, FKAS_CONTAINER_PORT);
        assert.deepEqual(fkas.env[0], { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } });
        assert.deepEqual(fkasPodNames("fkas", 3), ["fkas-0", "fkas-1", "fkas-2"]);
        assert.equal(fkasProxyPath("fkas-system", "fkas-1", 3333, "register"), "/api/v1/namespaces/fkas-system/pods/fkas-1:3333/proxy/register");
        const rules = fkasClusterRoleRules();
        const can = (group: string, resource: string, verb: string) => rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
        assert.ok(can("metal3.io", "baremetalhosts", "watch"));
        assert.ok(can("infrastructure.cluster.x-k8s.io", "metal3machines", "list"));
        assert.ok(can("cluster.x-k8s.io", "machines", "watch"));
        assert.ok(can("", "secrets", "get") && !can("", "secrets", "update"));
        assert.throws(() => fkasStatefulSetSpec({ instance: "fkas", image: "i", replicas: 0, serviceName: "s", serviceAccountName: "a" }));
    });
});

for (const stack of ["dev", "scale1000"]) {
    for (const mode of ["ironic", "bmo", "capi"] as const) {
        describe(`ClusterApi and FakeApiServer: ${stack} stack, ${mode} mode`, () => {
            let run: ClusterRun;
            before(async () => {
                run = await runClusterSide(stack, { mode });
            });

            if (mode !== "capi") {
                it("are not deployed", () => {
                    assert.equal(run.side.clusterApi, undefined);
                    assert.equal(run.side.fakeApiServer, undefined);
                    assert.equal(run.resources.filter((r) => /metal3-scale-lab:capi:/.test(r.urn)).length, 0);
                    assert.equal(ofType(run, COMMAND).length, 0);
                });
                return;
            }

            it("runs clusterctl after BMO and cert-manager, with the kubeconfig as a secret", () => {
                const clusterctl = byName(run, COMMAND, "capi-clusterctl");
                assert.ok(clusterctl.dependencies.includes(byName(run, DEPLOYMENT, "bmo-controller-manager").urn), "CAPM3 after BMO");
                assert.ok(clusterctl.dependencies.includes(byName(run, "kubernetes:helm.sh/v3:Release", "ironic-cert-manager").urn));
                const env = clusterctl.rawInputs.environment as Record<string, unknown>;
                assert.ok(isSecretWrapper(env) || isSecretWrapper(env[CLUSTERCTL_ENV.kubeconfig]));
                assert.deepEqual(leakedSecrets(run), []);
                const images = JSON.parse(clusterctl.inputs.environment[CLUSTERCTL_ENV.config]).images;
                for (const key of CLUSTERCTL_IMAGES) {
                    const { component, image } = CLUSTERCTL_PROVIDERS[key];
                    const override = images[`${component}/${image}`];
                    assert.equal(`${override.repository}/${image}:${override.tag}`, run.images[key], `${key} re-homed to the local registry`);
                }
                assert.match(clusterctl.inputs.create, /cc init --core cluster-api:v1\.9\.4/);
                assert.ok(clusterctl.inputs.delete.includes("cc delete --all"));
            });

            it("runs fakeApiServers FKAS replicas from the local registry, after the CAPI providers", async () => {
                const sts = byName(run, STATEFULSET, "fkas-statefulset");
                assert.equal(sts.inputs.spec.replicas, run.config.fakeApiServers);
                assert.deepEqual(new Set(workloadImages(sts)), new Set([run.images.fkas]));
                assert.ok(sts.dependencies.includes(byName(run, COMMAND, "capi-clusterctl").urn));
                assert.equal(sts.inputs.metadata.namespace, run.config.namespaces.fkas);
                assert.equal(run.side.fakeApiServer!.podNames.length, run.config.fakeApiServers);
                const role = byName(run, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "fkas-role");
                assert.ok(role.inputs.rules.length >= 4);
                const binding = byName(run, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "fkas-rolebinding");
                assert.equal(binding.inputs.subjects[0].namespace, run.config.namespaces.fkas);
                assert.equal(run.providers.get(`${STATEFULSET}::fkas-statefulset`), "management");
                assert.equal(await new Promise((r) => pulumi.output(run.side.fakeApiServer!.namespace).apply(r)), run.config.namespaces.fkas);
            });
        });
    }
}

describe("FKAS replicas follow config", () => {
    it("runs the configured number of replicas with stable names", async () => {
        const run = await runClusterSide("dev", { mode: "capi", clusters: 5, fakeApiServers: 3 });
        assert.equal(byName(run, STATEFULSET, "fkas-statefulset").inputs.spec.replicas, 3);
        assert.deepEqual(run.side.fakeApiServer!.podNames, ["fkas-0", "fkas-1", "fkas-2"]);
    });
});
