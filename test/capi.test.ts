// ClusterApi (clusterctl) and FakeApiServer (FKAS): pure rendering, the
// clusterctl scripts run against a fake cluster, and their place in the
// cluster side under mocks.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { fkasRules } from "../components/capi/fkas";
import {
    CLUSTERCTL_ENV,
    CLUSTERCTL_IMAGES,
    CLUSTERCTL_PROVIDERS,
    ClusterctlImage,
    METAL3_IPAM_REPOSITORY,
    clusterctlConfig,
    clusterctlKnowsMetal3Ipam,
    clusterctlProviderFlags,
    clusterctlScripts,
    clusterctlVersions,
} from "../components/capi/render";
import * as k8s from "@pulumi/kubernetes";
import { ClusterApi } from "../components/capi/clusterApi";
import { isSecretWrapper, runProgram, stackConfig } from "./support/mockProgram";
import { FakeClusterctlWorld, PROVIDER_NAMESPACES, Provider, ScriptRun } from "./support/fakeClusterctl";
import {
    COMMAND,
    DEPLOYMENT,
    FAKE_KUBECONFIG,
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
    const localRefs = Object.fromEntries(CLUSTERCTL_IMAGES.map((k) => [k, local[k]])) as Record<ClusterctlImage, string>;

    it("pins every provider to the tag of its pinned image", () => {
        assert.deepEqual(clusterctlProviderFlags(versions), [
            "--core", "cluster-api:v1.13.5",
            "--bootstrap", "kubeadm:v1.13.5",
            "--control-plane", "kubeadm:v1.13.5",
            "--infrastructure", "metal3:v1.13.2",
            "--ipam", "metal3:v1.13.2",
        ]);
        assert.throws(
            () => clusterctlVersions({ ...config.images, kubeadmBootstrapController: "registry.k8s.io/cluster-api/kubeadm-bootstrap-controller:v1.12.0" }),
            /share one release/,
        );
    });

    it("re-homes every controller image to the local registry and declares IPAM only for a clusterctl without it", () => {
        const parsed = JSON.parse(clusterctlConfig(localRefs, versions.capiController));
        assert.deepEqual(parsed.images["cluster-api/cluster-api-controller"], { repository: "172.22.0.1:5000/localimages", tag: "v1.13.5" });
        assert.deepEqual(parsed.images["infrastructure-metal3/cluster-api-provider-metal3"], { repository: "172.22.0.1:5000/localimages", tag: "v1.13.2" });
        assert.deepEqual(parsed.images["ipam-metal3/ip-address-manager"], { repository: "172.22.0.1:5000/localimages", tag: "v1.13.2" });
        assert.equal(Object.keys(parsed.images).length, 5);
        assert.equal(parsed.providers, undefined, "clusterctl v1.13.5 knows the metal3 IPAM provider");
        const old = JSON.parse(clusterctlConfig(localRefs, "v1.11.3"));
        assert.deepEqual(old.providers, [{ name: "metal3", url: METAL3_IPAM_REPOSITORY, type: "IPAMProvider" }]);
        assert.deepEqual(old.images, parsed.images);
        assert.ok(clusterctlKnowsMetal3Ipam("v1.12.0") && clusterctlKnowsMetal3Ipam("v2.0.0") && !clusterctlKnowsMetal3Ipam("v1.11.9"));
        assert.throws(() => clusterctlConfig({ ...localRefs, capiController: "172.22.0.1:5000/localimages/capi:v1.13.5" }, "v1.13.5"), /keep that name/);
    });

    it("runs one POSIX script for create and update that never prints the kubeconfig", () => {
        const scripts = clusterctlScripts(versions);
        assert.equal(scripts.update, scripts.create, "an update re-runs the idempotent create");
        for (const script of [scripts.create, scripts.delete]) {
            const check = spawnSync("dash", ["-n"], { input: script, encoding: "utf8" });
            assert.equal(check.status, 0, check.stderr);
            assert.ok(script.startsWith("set -eu\numask 077\n"));
            assert.ok(!script.includes("pipefail") && !script.includes("[["), "POSIX sh, not bash");
            const uses = script.split("\n").filter((l: string) => l.includes(CLUSTERCTL_ENV.kubeconfig));
            assert.deepEqual(uses, [`printf '%s\\n' "$${CLUSTERCTL_ENV.kubeconfig}" > "$work/kubeconfig"`]);
        }
    });
});

describe("clusterctl scripts against a fake management cluster", () => {
    const config = labConfig("dev", { mode: "capi" });
    const versions = clusterctlVersions(config.images);
    const scripts = clusterctlScripts(versions, 5);
    const local = fakeImages(config.images);
    const env = {
        [CLUSTERCTL_ENV.kubeconfig]: FAKE_KUBECONFIG,
        [CLUSTERCTL_ENV.config]: clusterctlConfig(Object.fromEntries(CLUSTERCTL_IMAGES.map((k) => [k, local[k]])) as Record<ClusterctlImage, string>, versions.capiController),
    };
    const ALL = "cluster-api,bootstrap-kubeadm,control-plane-kubeadm,infrastructure-metal3,ipam-metal3";
    const pinned: Provider[] = [
        { type: "CoreProvider", name: "cluster-api", version: "v1.13.5" },
        { type: "BootstrapProvider", name: "kubeadm", version: "v1.13.5" },
        { type: "ControlPlaneProvider", name: "kubeadm", version: "v1.13.5" },
        { type: "InfrastructureProvider", name: "metal3", version: "v1.13.2" },
        { type: "IPAMProvider", name: "metal3", version: "v1.13.2" },
    ];
    const inventoryOf = (ps: Provider[]) => ps.map((p) => `${p.type} ${p.name} ${p.version} ${PROVIDER_NAMESPACES[label(p)]}`).sort();
    const label = (p: Provider) => CLUSTERCTL_PROVIDERS[CLUSTERCTL_IMAGES.find((k) => CLUSTERCTL_PROVIDERS[k].type === p.type)!].component;
    const record = (stdout: string) => stdout.trimEnd().split("\n").pop();

    let world: FakeClusterctlWorld;
    afterEach(() => world.dispose());

    const create = (extra: Record<string, string> = {}) => world.run(scripts.create, { ...env, ...extra });
    const destroy = (stdout: string, extra: Record<string, string> = {}) => world.run(scripts.delete, { ...env, PULUMI_COMMAND_STDOUT: stdout, ...extra });
    const ok = (run: ScriptRun) => {
        assert.equal(run.status, 0, `exit ${run.status}\n${run.stdout}\n${run.stderr}`);
        assert.deepEqual(fs.readdirSync(world.tmp), [], "the private temp dir is removed");
        assert.ok(!(run.stdout + run.stderr).includes("kubeconfig-token-7f3a9c"), "the kubeconfig is never printed");
        return run;
    };

    it("fresh cluster: downloads, verifies and runs clusterctl init of all five; destroy removes them with their CRDs, core last", () => {
        world = new FakeClusterctlWorld();
        const up = ok(create());
        assert.deepEqual(world.lines("curl-calls"), [
            "https://api.github.com/repos/kubernetes-sigs/cluster-api/releases/tags/v1.13.5",
            `https://github.com/kubernetes-sigs/cluster-api/releases/download/v1.13.5/clusterctl-linux-${process.arch === "arm64" ? "arm64" : "amd64"}`,
        ]);
        const calls = world.lines("clusterctl-calls");
        assert.equal(calls[0], "version -o short");
        assert.match(calls[1], /^init --core cluster-api:v1\.13\.5 --bootstrap kubeadm:v1\.13\.5 --control-plane kubeadm:v1\.13\.5 --infrastructure metal3:v1\.13\.2 --ipam metal3:v1\.13\.2 --kubeconfig \S+ --config \S+$/);
        assert.deepEqual(world.inventory(), inventoryOf(pinned));
        assert.equal(world.read("journal"), ALL.replace(/,/g, " "));
        assert.equal(record(up.stdout), `metal3-scale-lab clusterctl installed=${ALL} adopted=-`);

        ok(destroy(up.stdout));
        assert.deepEqual(world.lines("events").filter((e) => !e.startsWith("installed")), [
            "deleted ipam-metal3 crd=yes",
            "namespace capm3-system",
            "deleted infrastructure-metal3 crd=yes",
            "namespace capi-kubeadm-control-plane-system",
            "deleted control-plane-kubeadm crd=yes",
            "namespace capi-kubeadm-bootstrap-system",
            "deleted bootstrap-kubeadm crd=yes",
            "namespace capi-system",
            "deleted cluster-api crd=yes",
        ]);
        assert.deepEqual(world.lines("violations"), [], "IPAM's delete keeps capm3-system while CAPM3 lives there");
        assert.deepEqual(world.lines("crds"), []);
        assert.deepEqual(world.inventory(), []);
        assert.equal(world.read("journal"), "", "the journal goes with the providers");

        // An interrupted destroy runs again: nothing left to delete, no failure.
        const again = ok(destroy(up.stdout));
        assert.equal((again.stdout.match(/is already gone/g) ?? []).length, 5);
    });

    it("providers already at the pinned versions: adopted without running clusterctl, and left (with their CRDs) on destroy", () => {
        world = new FakeClusterctlWorld(pinned);
        const up = ok(create());
        assert.deepEqual(world.lines("curl-calls"), [], "nothing to do needs no clusterctl");
        assert.deepEqual(world.lines("clusterctl-calls"), []);
        assert.equal(world.read("journal"), "", "an adopted cluster gets no journal");
        assert.equal(record(up.stdout), `metal3-scale-lab clusterctl installed=- adopted=${ALL}`);
        const down = ok(destroy(up.stdout));
        assert.match(down.stdout, /every provider was there before the lab/);
        assert.deepEqual(world.inventory(), inventoryOf(pinned));
        assert.equal(world.lines("crds").length, 5);
        assert.deepEqual(world.lines("kubectl-calls").filter((c) => c.startsWith("delete")), []);
    });

    it("providers at older versions: upgraded with clusterctl upgrade apply (not init's 'already an instance' error)", () => {
        const old = pinned.map((p) => ({ ...p, version: p.type === "InfrastructureProvider" || p.type === "IPAMProvider" ? "v1.12.1" : "v1.12.3" }));
        world = new FakeClusterctlWorld(old);
        const up = ok(create());
        const calls = world.lines("clusterctl-calls");
        assert.match(calls[1], /^upgrade apply --core cluster-api:v1\.13\.5 --bootstrap kubeadm:v1\.13\.5 --control-plane kubeadm:v1\.13\.5 --infrastructure metal3:v1\.13\.2 --ipam metal3:v1\.13\.2 --kubeconfig/);
        assert.equal(calls.length, 2, "no init: nothing is missing");
        assert.deepEqual(world.inventory(), inventoryOf(pinned));
        assert.match(up.stdout, /cluster-api v1\.12\.3 is older than v1\.13\.5: upgrading/);
        assert.equal(record(up.stdout), `metal3-scale-lab clusterctl installed=- adopted=${ALL}`);
        assert.ok(!up.stderr.includes("there is already an instance"));
    });

    it("a mix: upgrades the old core, installs the missing metal3 providers, and destroy removes only those", () => {
        world = new FakeClusterctlWorld([
            { type: "CoreProvider", name: "cluster-api", version: "v1.12.3" },
            { type: "BootstrapProvider", name: "kubeadm", version: "v1.12.3" },
            { type: "ControlPlaneProvider", name: "kubeadm", version: "v1.12.3" },
        ]);
        const up = ok(create());
        const calls = world.lines("clusterctl-calls").map((c) => c.replace(/ --kubeconfig .*/, ""));
        assert.deepEqual(calls.slice(1), [
            "upgrade apply --core cluster-api:v1.13.5 --bootstrap kubeadm:v1.13.5 --control-plane kubeadm:v1.13.5",
            // "-" opts out of clusterctl's default bootstrap/control-plane providers for the installed ones.
            "init --bootstrap - --control-plane - --infrastructure metal3:v1.13.2 --ipam metal3:v1.13.2",
        ]);
        assert.deepEqual(world.inventory(), inventoryOf(pinned));
        assert.equal(record(up.stdout), "metal3-scale-lab clusterctl installed=infrastructure-metal3,ipam-metal3 adopted=cluster-api,bootstrap-kubeadm,control-plane-kubeadm");

        const down = ok(destroy(up.stdout));
        assert.deepEqual(world.inventory(), inventoryOf(pinned.slice(0, 3)));
        assert.deepEqual(world.lines("crds").sort(), ["bootstrap-kubeadm", "cluster-api", "control-plane-kubeadm"], "adopted CRDs stay");
        assert.match(down.stdout, /leaving cluster-api: it was there before the lab \(adopted\)/);
        assert.deepEqual(world.lines("violations"), []);
    });

    it("a provider newer than the pin is kept with a warning, never a failure", () => {
        world = new FakeClusterctlWorld(pinned.map((p) => (p.type === "InfrastructureProvider" ? { ...p, version: "v1.14.0" } : p)));
        const up = ok(create());
        assert.match(up.stderr, /WARNING infrastructure-metal3 is at v1\.14\.0, newer than the lab's v1\.13\.2: kept \(clusterctl does not downgrade\)/);
        assert.deepEqual(world.lines("clusterctl-calls"), []);
        assert.equal(record(up.stdout), `metal3-scale-lab clusterctl installed=- adopted=${ALL}`);
    });

    it("a failing upgrade fails the run, naming what it tried", () => {
        world = new FakeClusterctlWorld(pinned.map((p) => ({ ...p, version: "v1.9.4" })));
        const up = create({ FAKE_UPGRADE_ERROR: "upgrade for cluster-api provider can't skip more than 3 versions" });
        assert.notEqual(up.status, 0);
        assert.match(up.stderr, /can't skip more than 3 versions/);
        assert.match(up.stderr, /clusterctl: upgrade apply --core cluster-api:v1\.13\.5 .* failed/);
    });

    it("an interrupted first create runs again: the journal keeps the lab's providers its own, so destroy removes them", () => {
        world = new FakeClusterctlWorld();
        const cut = create({ FAKE_INTERRUPT_AFTER: "2" });
        assert.equal(cut.status, 130);
        assert.deepEqual(world.inventory(), inventoryOf(pinned.slice(0, 2)));
        assert.equal(world.read("journal"), ALL.replace(/,/g, " "), "written before init");

        const up = ok(create());
        assert.equal(world.lines("clusterctl-calls").filter((c) => c.startsWith("init")).pop()!.replace(/ --kubeconfig .*/, ""),
            "init --bootstrap - --control-plane kubeadm:v1.13.5 --infrastructure metal3:v1.13.2 --ipam metal3:v1.13.2");
        assert.deepEqual(world.inventory(), inventoryOf(pinned));
        assert.equal(record(up.stdout), `metal3-scale-lab clusterctl installed=${ALL} adopted=-`);
        ok(destroy(up.stdout));
        assert.deepEqual(world.inventory(), []);
    });

    it("a binary that does not match its published SHA-256 is never run", () => {
        world = new FakeClusterctlWorld();
        world.serve(world.published + "# tampered\n");
        const up = create();
        assert.notEqual(up.status, 0);
        assert.match(up.stderr, /clusterctl: checksum mismatch for clusterctl-linux-\w+ v1\.13\.5: downloaded sha256 [0-9a-f]{64}, published sha256 [0-9a-f]{64}; not running it/);
        assert.deepEqual(world.lines("clusterctl-calls"), [], "not even `clusterctl version`");
        assert.equal(world.read("journal"), "", "nothing written to the cluster");
        assert.deepEqual(fs.readdirSync(world.tmp), []);
    });

    it("a release without a published digest, or unreachable metadata, fails instead of skipping verification", () => {
        world = new FakeClusterctlWorld();
        world.publish("v1.13.5", undefined);
        const undigested = create();
        assert.notEqual(undigested.status, 0);
        assert.match(undigested.stderr, /GitHub publishes no SHA-256 digest for clusterctl-linux-\w+ of v1\.13\.5; refusing to run an unverified binary/);
        assert.deepEqual(world.lines("clusterctl-calls"), []);

        fs.rmSync(`${world.state}/release-v1.13.5.json`);
        const missing = create();
        assert.notEqual(missing.status, 0);
        assert.match(missing.stderr, /cannot read the v1\.13\.5 release metadata/);
    });

    it("a downloaded clusterctl of another version is refused", () => {
        world = new FakeClusterctlWorld();
        const up = create({ FAKE_CLUSTERCTL_VERSION: "v1.13.4" });
        assert.notEqual(up.status, 0);
        assert.match(up.stderr, /clusterctl: downloaded v1\.13\.4, wanted v1\.13\.5/);
    });

    it("destroy with an unreachable cluster fails rather than forgetting the providers", () => {
        world = new FakeClusterctlWorld();
        const up = ok(create());
        const down = destroy(up.stdout, { FAKE_KUBECTL_DOWN: "1" });
        assert.notEqual(down.status, 0);
        assert.match(down.stderr, /connection to the server .* was refused/);
        assert.deepEqual(world.inventory(), inventoryOf(pinned));
        const create2 = create({ FAKE_KUBECTL_DOWN: "1" });
        assert.notEqual(create2.status, 0, "nor does create take an unreachable cluster for an empty one");
    });

    it("destroy without a record (state from before the record existed) leaves every provider", () => {
        world = new FakeClusterctlWorld(pinned);
        const down = ok(destroy("metal3-scale-lab clusterctl --core cluster-api:v1.9.4 config=0123456789abcdef\n"));
        assert.match(down.stderr, /no record of the providers the lab installed/);
        assert.deepEqual(world.inventory(), inventoryOf(pinned));
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
                const scripts = clusterctlScripts(clusterctlVersions(run.config.images));
                assert.equal(clusterctl.inputs.create, scripts.create);
                assert.equal(clusterctl.inputs.update, scripts.update);
                assert.equal(clusterctl.inputs.delete, scripts.delete);
                assert.equal(clusterctl.inputs.interpreter, undefined, "POSIX scripts run by the default /bin/sh");
                assert.equal(clusterctl.inputs.addPreviousOutputInEnv, true, "delete reads create's record");

            });

            it("runs one FKAS on the host network from the local registry, after the CAPI providers", async () => {
                const fkas = byName(run, DEPLOYMENT, "fkas-deployment");
                assert.equal(fkas.inputs.spec.replicas, 1);
                assert.equal(fkas.inputs.spec.template.spec.hostNetwork, true);
                assert.deepEqual(new Set(workloadImages(fkas)), new Set([run.images.fkas]));
                assert.ok(fkas.dependencies.includes(byName(run, COMMAND, "capi-clusterctl").urn));
                assert.equal(fkas.inputs.metadata.namespace, run.config.namespaces.fkas);
                assert.equal(run.side.fakeApiServer!.url, `http://${run.config.network.conductorIps[0]}:3333`, "registered at the first conductor IP, as CAPM3's e2e does");
                const role = byName(run, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "fkas-role");
                assert.deepEqual(role.inputs.rules, fkasRules());
                const binding = byName(run, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding", "fkas-rolebinding");
                assert.equal(binding.inputs.subjects[0].namespace, run.config.namespaces.fkas);
                assert.equal(run.providers.get(`${DEPLOYMENT}::fkas-deployment`), "management");
                assert.equal(await new Promise((r) => pulumi.output(run.side.fakeApiServer!.namespace).apply(r)), run.config.namespaces.fkas);
            });
        });
    }
}

describe("ClusterApi resource options", () => {
    it("replaces delete-before-create: the old delete must not remove what a new create just ensured", async () => {
        const config = labConfig("dev", { mode: "capi" });
        let options: pulumi.CustomResourceOptions | undefined;
        await runProgram(
            () => {
                pulumi.runtime.registerStackTransformation((args) => {
                    if (args.type === COMMAND) options = args.opts as pulumi.CustomResourceOptions;
                    return undefined;
                });
                const provider = new k8s.Provider("management", { kubeconfig: "~/.kube/config" });
                new ClusterApi("capi", { config, provider, images: fakeImages(config.images), kubeconfig: pulumi.secret(FAKE_KUBECONFIG) });
                return {};
            },
            { stack: "dev", config: stackConfig("dev", { mode: "capi" }) },
        );
        assert.equal(options?.deleteBeforeReplace, true);
    });
});
