// The whole program (index.ts) under Pulumi's mock runtime, fed each stack
// file's config exactly as the CLI would, in every mode; and the preview diff
// between two configs, asserted resource by resource.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { countByType, runLab, TEST_RUNS_ROOT } from "./support/labProgram";
import { isSecretWrapper, labConfig, plainStrings, ProgramRun } from "./support/mockProgram";
import { previewDiff } from "./support/previewDiff";
import { rebuildProvider } from "./support/capturedProvider";

const MODES = ["ironic", "bmo", "capi"] as const;
const STACKS = ["dev", "scale1000"] as const;

describe("the lab program under mocks", function () {
    this.timeout(120_000);

    for (const stack of STACKS) {
        for (const mode of MODES) {
            describe(`${stack} stack, ${mode} mode`, () => {
                const overrides = { mode, ...(mode === "capi" ? { clusters: 5 } : {}) };
                const cfg = labConfig(stack, overrides);
                let run: ProgramRun;
                before(async () => {
                    run = await runLab(stack, overrides);
                });

                it("declares resources in the numbers the config asks for", () => {
                    const counts = countByType(run);
                    const batches = Math.ceil(cfg.nodes / cfg.batchSize);
                    const kind = mode === "ironic" ? "IronicNodeBatch" : "BareMetalHostBatch";
                    assert.equal(counts[`pulumi-nodejs:dynamic/enroll:${kind}`], batches);
                    assert.equal(run.outputs.batches, batches);
                    assert.equal(run.outputs.hostCount, cfg.nodes);
                    const containers = run.resources.filter((r) => r.type === "command:local:Command").map((r) => r.name);
                    assert.equal(containers.filter((n) => n.startsWith("sushy-sushy-")).length, cfg.sushyContainers);
                    assert.equal(containers.filter((n) => n.startsWith("fake-ipa-fake-ipa-")).length, cfg.fakeIpaContainers);
                    assert.equal(counts["metal3-scale-lab:registry:IpaCache"], 1);
                    assert.equal(counts["docker:index/container:Container"] ?? 0, 0, "lab containers are adopted-or-replaced docker CLI commands");
                    const deployments = run.resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment");
                    const conductors = deployments.filter((d) => JSON.stringify(d.inputs.spec?.template?.spec?.containers ?? []).includes("runironic"));
                    assert.equal(conductors.length, cfg.conductors);
                    assert.equal(counts["metal3-scale-lab:bmo:Bmo"] ?? 0, mode === "ironic" ? 0 : 1);
                    assert.equal(counts["metal3-scale-lab:capi:ClusterApi"] ?? 0, mode === "capi" ? 1 : 0);
                    assert.equal(counts["metal3-scale-lab:capi:FakeApiServer"] ?? 0, mode === "capi" ? 1 : 0);
                    assert.equal(counts["pulumi-nodejs:dynamic/clusters:WorkloadClusterBatch"] ?? 0, mode === "capi" ? Math.ceil(cfg.clusters / cfg.batchSize) : 0);
                    assert.equal(run.outputs.clusterBatches, mode === "capi" ? Math.ceil(cfg.clusters / cfg.batchSize) : 0);
                    // The stack stays small: resources grow with batches and containers, not with hosts.
                    assert.ok(run.resources.length < 120 + batches + cfg.sushyContainers + cfg.fakeIpaContainers + 4 * cfg.conductors, `${run.resources.length} resources`);
                });

                it("parents every resource to a component, except the stack's own components", () => {
                    const stackUrn = run.resources.find((r) => r.type === "pulumi:pulumi:Stack")!.urn;
                    const topLevel = run.resources.filter((r) => r.parent === stackUrn);
                    assert.ok(topLevel.every((r) => r.type.startsWith("metal3-scale-lab:")), topLevel.map((r) => r.type).join(", "));
                    const orphans = run.resources.filter((r) => r.type !== "pulumi:pulumi:Stack" && !r.parent);
                    assert.deepEqual(orphans.map((r) => r.name), []);
                    for (const r of run.resources.filter((x) => x.parent && x.parent !== stackUrn)) {
                        const parentName = r.parent.split("::").pop()!;
                        assert.ok(r.name.startsWith(`${parentName}-`), `${r.name} is named after its component ${parentName}`);
                    }
                });

                it("gives every resource a unique URN", () => {
                    assert.equal(new Set(run.resources.map((r) => r.urn)).size, run.resources.length);
                });

                it("never sends a generated secret in plain text", () => {
                    assert.ok(run.generatedSecrets.length >= 2, "the mocks generated passwords");
                    for (const r of run.resources) {
                        const texts = plainStrings(r.rawInputs).filter((t) => !t.startsWith("exports.handler"));
                        for (const secret of run.generatedSecrets) {
                            assert.ok(!texts.some((t) => t.includes(secret)), `${r.type} ${r.name} carries a secret in plain text`);
                        }
                    }
                });

                it("declares batch providers that load as the Pulumi host loads them and accept their inputs", async () => {
                    const batches = run.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"));
                    const first = batches[0];
                    const provider = rebuildProvider(first.inputs.__provider);
                    const checked = await provider.check!({}, first.inputs);
                    assert.deepEqual(checked.failures, []);
                    assert.equal(first.inputs.hosts.length, Math.min(cfg.batchSize, cfg.nodes));
                    assert.ok(first.additionalSecretOutputs.length > 0);
                    // Batches run one after another: batch i waits for batch i-1.
                    for (const [i, b] of batches.entries()) {
                        if (i > 0) assert.ok(b.dependencies.includes(batches[i - 1].urn), `${b.name} depends on ${batches[i - 1].name}`);
                    }
                });
            });
        }
    }

    it("rejects bad config with every problem at once, before declaring anything", async () => {
        let error: unknown;
        const run = await runLab("dev", { nodes: "lots", conductors: 0 }).catch((e) => (error = e));
        assert.ok(error instanceof Error, `expected an error, got ${JSON.stringify(run)?.slice(0, 200)}`);
        assert.match(String(error), /metal3-scale-lab:nodes = "lots"/);
        assert.match(String(error), /metal3-scale-lab:conductors = "0"/);
    });

    it("evaluates in preview mode, where generated values are unknown", async () => {
        const run = await runLab("dev", {}, true);
        assert.ok(run.resources.length > 40);
    });

    it("inspectHosts: false skips inspection in every mode (ironic: no inspect step; bmo/capi: inspectionMode disabled)", async () => {
        for (const mode of MODES) {
            for (const inspectHosts of [true, false]) {
                const run = await runLab("dev", { mode, inspectHosts });
                const batches = run.resources.filter((r) => /dynamic\/enroll:/.test(r.type));
                assert.ok(batches.length > 0);
                for (const b of batches) {
                    if (mode === "ironic") assert.equal(b.inputs.inspect, inspectHosts, `${mode} ${b.name}`);
                    else assert.ok(b.inputs.hosts.every((h: { inspectionMode?: string }) => h.inspectionMode === (inspectHosts ? undefined : "disabled")), `${mode} ${b.name}`);
                }
            }
        }
    });

    describe("the run record's dir (runDir)", () => {
        const batchesOf = (run: ProgramRun) => run.resources.filter((r) => /^pulumi-nodejs:dynamic\/(enroll|clusters):/.test(r.type));
        const stackDir = path.join(TEST_RUNS_ROOT, "dev");
        const runsNow = () => (fs.existsSync(stackDir) ? fs.readdirSync(stackDir).filter((n) => n !== "latest") : []);

        it("a preview records nothing: no run dir is created and every batch gets runDir \"\"", async () => {
            const before = runsNow();
            const run = await runLab("dev", { mode: "capi", clusters: 2 }, true);
            assert.deepEqual(runsNow(), before);
            assert.equal(run.rawOutputs.runDir, "");
            assert.ok(batchesOf(run).length >= 2);
            for (const b of batchesOf(run)) assert.equal(b.inputs.runDir, "", b.name);
        });

        it("an up writes run.json in a new run dir that every batch (hosts and clusters) records into", async () => {
            const before = runsNow();
            const run = await runLab("dev", { mode: "capi", clusters: 2, conductors: 2 });
            const runDir = String(run.outputs.runDir);
            assert.deepEqual(runsNow().filter((n) => !before.includes(n)), [path.basename(runDir)]);
            assert.equal(path.dirname(runDir), stackDir);
            assert.equal(fs.realpathSync(path.join(stackDir, "latest")), fs.realpathSync(runDir));
            const info = JSON.parse(fs.readFileSync(path.join(runDir, "run.json"), "utf8"));
            assert.equal(info.stack, "dev");
            assert.equal(info.runId, path.basename(runDir));
            assert.deepEqual([info.config.mode, info.config.conductors, info.config.clusters], ["capi", 2, 2]);
            const kinds = new Set(batchesOf(run).map((b) => b.type));
            assert.deepEqual([...kinds].sort(), ["pulumi-nodejs:dynamic/clusters:WorkloadClusterBatch", "pulumi-nodejs:dynamic/enroll:BareMetalHostBatch"]);
            for (const b of batchesOf(run)) assert.equal(b.inputs.runDir, runDir, b.name);
            // run.json holds no secret the program generated.
            const text = fs.readFileSync(path.join(runDir, "run.json"), "utf8");
            for (const secret of run.generatedSecrets) assert.ok(!text.includes(secret));
        });

        it("a new runDir never changes a batch: the providers' diff() says no change", async () => {
            for (const mode of MODES) {
                const overrides = { mode, ...(mode === "capi" ? { clusters: 2 } : {}) };
                const [first, second] = [await runLab("dev", overrides), await runLab("dev", overrides)];
                assert.notEqual(first.outputs.runDir, second.outputs.runDir);
                const [olds, news] = [batchesOf(first), batchesOf(second)];
                assert.equal(olds.length, news.length);
                for (const [i, n] of news.entries()) {
                    assert.notEqual(olds[i].inputs.runDir, n.inputs.runDir);
                    const { __provider: _, ...stored } = olds[i].inputs;
                    const provider = rebuildProvider(n.inputs.__provider);
                    const status = { ready: true, counts: {}, failures: [], updatedAt: "" };
                    assert.equal((await provider.diff!(n.inputs.label, { ...stored, status }, n.inputs)).changes, false, `${mode} ${n.name}`);
                    // ...while a real change still is one.
                    assert.equal((await provider.diff!(n.inputs.label, { ...stored, status }, { ...n.inputs, hosts: n.inputs.hosts.slice(1) })).changes, true, `${mode} ${n.name}`);
                }
            }
        });

        it("outputs what a user needs to look for themselves: kubeconfig and Ironic's password as secrets, the run dir", async () => {
            const run = await runLab("dev", { mode: "ironic" });
            assert.ok(isSecretWrapper(run.rawOutputs.kubeconfig), "kubeconfig is a secret output");
            const ironicApi = run.rawOutputs.ironicApi as Record<string, unknown>;
            assert.ok(isSecretWrapper(ironicApi.password), "Ironic's password is a secret output");
            assert.deepEqual(ironicApi.endpoints, run.outputs.ironicEndpoints);
            assert.equal(ironicApi.username, (run.outputs.ironicApi as { username: string }).username);
            assert.equal(typeof run.rawOutputs.runDir, "string");
        });
    });

    describe("preview diffs between two configs", () => {
        const diff = async (a: Record<string, unknown>, b: Record<string, unknown>, stack = "dev") => previewDiff(await runLab(stack, a), await runLab(stack, b));

        it("conductors 3 -> 4 adds exactly the new conductor's objects and changes nothing that runs", async () => {
            for (const mode of MODES) {
                const d = await diff({ mode, conductors: 3 }, { mode, conductors: 4 });
                assert.deepEqual(d.added, [
                    "metal3-scale-lab:cluster:ManagementCluster$command:local:Command::management-conductor-ip-003",
                    "metal3-scale-lab:ironic:IronicCluster$kubernetes:apps/v1:Deployment::ironic-conductor-003",
                    "metal3-scale-lab:ironic:IronicCluster$kubernetes:cert-manager.io/v1:Certificate::ironic-conductor-003",
                    "metal3-scale-lab:ironic:IronicCluster$kubernetes:core/v1:ConfigMap::ironic-conductor-003",
                ], mode);
                assert.deepEqual(d.changed, [], `${mode}: nothing already running changes`);
                assert.deepEqual(d.removed, [], mode);
            }
        });

        it("nodes 10 -> 12 adds one batch and changes nothing: the sushy container already declares the new hosts", async () => {
            const d = await diff({ nodes: 10 }, { nodes: 12 });
            assert.deepEqual(d.added, ["metal3-scale-lab:enroll:HostEnrollment$pulumi-nodejs:dynamic/enroll:BareMetalHostBatch::hosts-batch-002"]);
            assert.deepEqual(d.changed, []);
            assert.deepEqual(d.removed, []);
        });

        it("nodes 1000 -> 1100 on the study's stack adds two batches and leaves every existing batch alone", async () => {
            const d = await diff({}, { nodes: 1100 }, "scale1000");
            assert.deepEqual(d.added, [
                "metal3-scale-lab:enroll:HostEnrollment$pulumi-nodejs:dynamic/enroll:BareMetalHostBatch::hosts-batch-020",
                "metal3-scale-lab:enroll:HostEnrollment$pulumi-nodejs:dynamic/enroll:BareMetalHostBatch::hosts-batch-021",
            ]);
            assert.deepEqual(d.changed, [], "each sushy container already declares its share of the new hosts");
            assert.deepEqual(d.removed, []);
        });

        it("sushyContainers +1 (batchSize unchanged) adds the container and updates, never replaces, what it re-spreads", async () => {
            const d = await diff({ sushyContainers: 1 }, { sushyContainers: 2 });
            assert.deepEqual(d.added, ["metal3-scale-lab:fleet:SushyFleet$command:local:Command::sushy-sushy-001"]);
            assert.deepEqual(d.changed, [
                "metal3-scale-lab:enroll:HostEnrollment$pulumi-nodejs:dynamic/enroll:BareMetalHostBatch::hosts-batch-000",
                "metal3-scale-lab:enroll:HostEnrollment$pulumi-nodejs:dynamic/enroll:BareMetalHostBatch::hosts-batch-001",
                // fake-ipa holds no per-sushy settings: a second feed changes nothing there.
                "metal3-scale-lab:fleet:SushyFleet$command:local:Command::sushy-sushy-000",
                "metal3-scale-lab:network:HostNetwork$command:local:Command::network-firewall",
            ]);
            assert.deepEqual(d.removed, []);
        });

        it("mode bmo -> capi only adds the CAPI providers, FKAS, the cluster batches and the node image", async () => {
            const d = await diff({ mode: "bmo" }, { mode: "capi", clusters: 5 });
            // The image server is healthy only once it also serves the node image.
            assert.deepEqual(d.changed, ["metal3-scale-lab:registry:IpaCache$command:local:Command::ipa-server"]);
            assert.deepEqual(d.removed, []);
            assert.ok(d.added.some((u) => u.endsWith("Command::capi-clusterctl")));
            assert.ok(d.added.some((u) => u.includes("FakeApiServer$kubernetes:apps/v1:")));
            assert.ok(d.added.some((u) => u.endsWith("Command::ipa-node-image")));
            assert.ok(d.added.some((u) => u.endsWith("WorkloadClusterBatch::clusters-batch-000")));
            assert.ok(d.added.every((u) => /capi|fkas|clusters|ipa-node-image/.test(u)), d.added.join("\n"));
        });
    });
});
