// Workload clusters: the pure plan (hosts per cluster, registration order,
// cluster state) and the WorkloadClusters component under Pulumi's mock
// runtime, declared after HostEnrollment the way index.ts declares it.
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import * as http from "http";
import type { AddressInfo } from "net";
import { FkasClient, isFkasError, probeEndpoint } from "../components/clusters/fkasClient";
import { clusterName, nodeImage, planClusters } from "../components/clusters/plan";
import { clusterHosts, ClusterSpec } from "../components/clusters/render";
import { clusterState, registrationOrder } from "../components/clusters/workloadClusterBatch";
import { rebuildProvider } from "./support/capturedProvider";
import { runLab } from "./support/labProgram";
import { isSecretWrapper, labConfig, plainStrings, ProgramRun } from "./support/mockProgram";
import { previewDiff, shortUrn } from "./support/previewDiff";

const BATCH_TYPE = "pulumi-nodejs:dynamic/clusters:WorkloadClusterBatch";
const HOST_BATCH_TYPE = "pulumi-nodejs:dynamic/enroll:BareMetalHostBatch";
/** The whole program (index.ts) in capi mode on the dev stack, 100 hosts in batches of 20. */
function run(overrides: Record<string, unknown>, preview = false): Promise<ProgramRun> {
    return runLab("dev", { mode: "capi", nodes: 100, batchSize: 20, ...overrides }, preview);
}

const byType = (r: ProgramRun, type: string) => r.resources.filter((x) => x.type === type);

describe("workload clusters", function () {
    this.timeout(120_000);

    describe("plan (pure)", () => {
        const hosts = Array.from({ length: 12 }, (_, i) => ({ name: `h${i}` }));
        const cfg = labConfig("dev", { mode: "capi", nodes: 12, clusters: 4 });

        it("gives cluster k host k with no workers, and the next 1 + workers hosts with workers", () => {
            assert.deepEqual(planClusters(cfg, hosts).map((c) => [c.name, ...clusterHosts(c)]), [
                [clusterName(cfg.slug, 0), "h0"],
                [clusterName(cfg.slug, 1), "h1"],
                [clusterName(cfg.slug, 2), "h2"],
                [clusterName(cfg.slug, 3), "h3"],
            ]);
            const workers = planClusters({ ...cfg, workersPerCluster: 2 }, hosts);
            assert.deepEqual(workers.map((c) => [c.controlPlaneHost, c.workerHosts]), [["h0", ["h1", "h2"]], ["h3", ["h4", "h5"]], ["h6", ["h7", "h8"]], ["h9", ["h10", "h11"]]]);
            assert.throws(() => planClusters({ ...cfg, workersPerCluster: 2, clusters: 5 }, hosts), /need 15 hosts; the inventory has 12/);
        });

        it("keeps every existing cluster on its hosts when clusters grow", () => {
            const before = planClusters({ ...cfg, clusters: 2 }, hosts);
            assert.deepEqual(planClusters(cfg, hosts).slice(0, 2), before);
        });

        it("serves the node image and its checksum file from the lab host's image cache", () => {
            assert.deepEqual(nodeImage(cfg), {
                url: "http://172.22.0.1:6280/images/node-image.raw",
                checksum: "http://172.22.0.1:6280/images/node-image.raw.sha256sum",
                checksumType: "sha256",
                format: "raw",
            });
        });

        it("registers lost clusters by recorded port first, then new ones in order; never one FKAS still serves", () => {
            const cs: ClusterSpec[] = ["a", "b", "c", "d", "e"].map((name) => ({ name, controlPlaneHost: `h-${name}`, workerHosts: [] }));
            const recorded = { a: { host: "n", port: 20002 }, b: { host: "n", port: 20000 }, c: { host: "n", port: 20001 }, d: { host: "n", port: 20003 } };
            const probes = { a: "refused", b: "refused", c: "open", d: "unreachable" } as const;
            assert.deepEqual(registrationOrder(cs, recorded, probes).map((c) => c.name), ["b", "a", "e"]);
        });

        it("reports the first unmet condition in the order things happen, and host or Machine errors", () => {
            const c: ClusterSpec = { name: "c", controlPlaneHost: "h", workerHosts: ["w"] };
            const bmh = (state: string, extra: Record<string, unknown> = {}) => ({ metadata: { name: "x" }, status: { provisioning: { state }, ...extra } });
            const machine = (phase: string, extra: Record<string, unknown> = {}) => ({ metadata: { name: `m-${phase}` }, status: { phase, ...extra } });
            const kcp = { metadata: { name: "c" }, spec: { replicas: 1 }, status: { readyReplicas: 1 } };
            const ok = { h: bmh("provisioned"), w: bmh("provisioned") };
            assert.equal(clusterState(c, { machines: [], hosts: { h: bmh("available") } }).state, "host available");
            assert.equal(clusterState(c, { machines: [], hosts: { h: bmh("provisioned") } }).state, "host absent");
            assert.equal(clusterState(c, { machines: [], hosts: ok }).state, "machine none");
            assert.equal(clusterState(c, { machines: [machine("Running")], hosts: ok }).state, "machine 1 of 2");
            assert.equal(clusterState(c, { machines: [machine("Running"), machine("Provisioned")], hosts: ok }).state, "machine Provisioned");
            assert.equal(clusterState(c, { machines: [machine("Running"), machine("Running")], hosts: ok }).state, "control plane not ready");
            assert.equal(clusterState(c, { machines: [machine("Running"), machine("Running")], hosts: ok, kcp }).state, "API server not probed");
            assert.equal(clusterState(c, { machines: [machine("Running"), machine("Running")], hosts: ok, kcp, served: false }).state, "API server not served");
            assert.deepEqual(clusterState(c, { machines: [machine("Running"), machine("Running")], hosts: ok, kcp, served: true }), { state: "Running" });
            const broken = clusterState(c, { machines: [], hosts: { h: bmh("provisioning", { operationalStatus: "error", errorType: "provisioning error", errorMessage: "image checksum mismatch" }) } });
            assert.deepEqual(broken, { state: "host provisioning", error: "h: provisioning error: image checksum mismatch" });
            const failed = clusterState(c, { machines: [machine("Failed", { failureMessage: "no host matched" })], hosts: ok });
            assert.deepEqual(failed, { state: "machine Failed", error: "Machine m-Failed failed: no host matched" });
        });
    });

    describe("FKAS client", () => {
        let server: http.Server;
        let url: string;
        let inFlight = 0;
        let maxInFlight = 0;
        const answers: { status: number; body: string }[] = [];
        before(async () => {
            server = http.createServer((req, res) => {
                let text = "";
                req.on("data", (c) => (text += c));
                req.on("end", () => {
                    inFlight++;
                    maxInFlight = Math.max(maxInFlight, inFlight);
                    setTimeout(() => {
                        inFlight--;
                        const next = answers.shift();
                        const { cluster } = JSON.parse(text);
                        res.writeHead(next?.status ?? 200, { "Content-Type": "application/json" });
                        res.end(next?.body ?? JSON.stringify({ ResourceName: `ns/${cluster}`, Host: "127.0.0.1", Port: 20000 + Number(cluster.slice(1)) }));
                    }, 5);
                });
            });
            await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
            url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        });
        after(() => new Promise<void>((resolve) => server.close(() => resolve())));

        it("sends one registration at a time to an FKAS, even from several batches at once", async () => {
            const a = new FkasClient({ url });
            const b = new FkasClient({ url: `${url}/` });
            try {
                const got = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).register(`c${i}`, "ns")));
                assert.deepEqual(got.map((e) => e.port), Array.from({ length: 12 }, (_, i) => 20000 + i));
                assert.equal(maxInFlight, 1);
            } finally {
                a.close();
                b.close();
            }
        });

        it("retries 503 and 429, and gives up at once on a 4xx with FKAS's message", async () => {
            const c = new FkasClient({ url, backoffBaseMs: 10 });
            try {
                answers.push({ status: 503, body: "Service Unavailable\n" }, { status: 429, body: "slow down\n" });
                assert.deepEqual(await c.register("c7", "ns"), { host: "127.0.0.1", port: 20007 });
                assert.equal(c.stats.retries, 2);
                answers.push({ status: 400, body: "Invalid JSON\n" });
                const err = await c.register("c8", "ns").then(() => undefined, (e) => e);
                assert.ok(isFkasError(err) && !err.transient && err.status === 400, String(err));
                assert.match(err.message, /answered 400: Invalid JSON/);
                assert.equal(c.stats.requests, 4);
            } finally {
                c.close();
            }
        });

        it("retries refused connections a bounded number of times, then fails as transient", async () => {
            const port = (server.address() as AddressInfo).port;
            const closed = await new Promise<number>((resolve) => {
                const s = http.createServer().listen(0, "127.0.0.1", () => {
                    const p = (s.address() as AddressInfo).port;
                    s.close(() => resolve(p));
                });
            });
            assert.notEqual(closed, port);
            const c = new FkasClient({ url: `http://127.0.0.1:${closed}`, maxAttempts: 3, backoffBaseMs: 5 });
            const err = await c.register("c1", "ns").then(() => undefined, (e) => e);
            c.close();
            assert.ok(isFkasError(err) && err.transient, String(err));
            assert.match(err.message, /ECONNREFUSED/);
            assert.equal(c.stats.requests, 3);
            assert.equal(await probeEndpoint({ host: "127.0.0.1", port: closed }), "refused");
            assert.equal(await probeEndpoint({ host: "127.0.0.1", port }), "open");
        });
    });

    describe("WorkloadClusters under mocks", () => {
        let hundred: ProgramRun;
        before(async () => {
            hundred = await run({ clusters: 100 });
        });

        it("capi with clusters=100, batchSize=20 declares exactly 5 cluster batches of 20 after the host batches", () => {
            const hostBatches = byType(hundred, HOST_BATCH_TYPE);
            const batches = byType(hundred, BATCH_TYPE);
            assert.equal(hostBatches.length, 5);
            assert.deepEqual(batches.map((b) => b.name), ["clusters-batch-000", "clusters-batch-001", "clusters-batch-002", "clusters-batch-003", "clusters-batch-004"]);
            assert.equal(hundred.outputs.clusterBatches, 5);
            const clusters = batches.flatMap((b) => b.inputs.hosts as ClusterSpec[]);
            assert.equal(clusters.length, 100);
            assert.equal(new Set(clusters.map((c) => c.controlPlaneHost)).size, 100, "every cluster has its own host");
            assert.ok(batches.every((b) => b.inputs.hosts.length === 20));
            // Batch 0 starts after every host batch; the others one after another (maxBatchesInFlight 1).
            for (const h of hostBatches) assert.ok(batches[0].dependencies.includes(h.urn), `batch 0 waits for ${h.name}`);
            const clusterBatchDeps = (b: (typeof batches)[number]) => b.dependencies.filter((u: string) => u.includes("WorkloadClusterBatch") || u.includes("BareMetalHostBatch"));
            for (let i = 1; i < 5; i++) assert.deepEqual(clusterBatchDeps(batches[i]), [batches[i - 1].urn]);
            const b = batches[0].inputs;
            assert.equal(b.label, "dev/cluster-batch-000");
            assert.equal(b.namespace, "metal3");
            assert.equal(b.targetState, "Running");
            assert.equal(b.fkasUrl, `http://${labConfig("dev").network.conductorIps[0]}:3333`, "FKAS on the first conductor IP, as CAPM3's e2e registers");
            assert.equal(b.image.url, "http://172.22.0.1:6280/images/node-image.raw");
            const parent = hundred.resources.find((r) => r.type === "metal3-scale-lab:clusters:WorkloadClusters")!;
            assert.ok(batches.every((x) => x.parent === parent.urn));
        });

        it("keeps the kubeconfig secret and builds a provider the Pulumi host can load, which accepts its inputs", async () => {
            const batch = byType(hundred, BATCH_TYPE)[0];
            assert.ok(isSecretWrapper(batch.rawInputs.kubeconfig));
            assert.deepEqual([...batch.additionalSecretOutputs], ["kubeconfig"]);
            const plain = plainStrings(batch.rawInputs).filter((s) => s !== batch.inputs.__provider);
            for (const secret of hundred.generatedSecrets) assert.ok(!plain.some((s) => s.includes(secret)), "no generated secret in plain inputs");
            const provider = rebuildProvider(batch.inputs.__provider);
            assert.deepEqual((await provider.check({}, batch.inputs)).failures, []);
            const c0 = batch.inputs.hosts[0];
            const cases: [Record<string, unknown>, string, RegExp][] = [
                [{ fkasUrl: "https://x:3333" }, "fkasUrl", /http:\/\//],
                [{ kubernetesVersion: "1.34" }, "kubernetesVersion", /v1\.34\.1/],
                [{ image: { ...batch.inputs.image, format: "iso" } }, "image", /format/],
                [{ targetState: "available" }, "targetState", /Running/],
                [{ hosts: [c0, { ...batch.inputs.hosts[1], controlPlaneHost: c0.controlPlaneHost }] }, "hosts", /also reserved/],
                [{ hosts: [{ ...c0, name: "Bad_Name" }] }, "hosts", /DNS-1123/],
                [{ kubeconfig: "kind: Config\n" }, "kubeconfig", /current context/],
            ];
            for (const [change, property, reason] of cases) {
                const { failures } = await provider.check({}, { ...batch.inputs, ...change });
                const hit = (failures ?? []).find((f) => f.property === property);
                assert.ok(hit, `${JSON.stringify(change).slice(0, 60)} -> a failure on ${property}; got ${JSON.stringify(failures)}`);
                assert.match(hit!.reason, reason);
            }
        });

        it("runs up to maxBatchesInFlight cluster batches at once", async () => {
            const two = await run({ clusters: 100, maxBatchesInFlight: 2 });
            const hostUrns = byType(two, HOST_BATCH_TYPE).map((h) => h.urn);
            const batches = byType(two, BATCH_TYPE);
            const batchDeps = (b: (typeof batches)[number]) => b.dependencies.filter((u: string) => u.includes("WorkloadClusterBatch") || u.includes("BareMetalHostBatch")).sort();
            for (const i of [0, 1]) assert.deepEqual(batchDeps(batches[i]), [...hostUrns].sort());
            for (const i of [2, 3, 4]) assert.deepEqual(batchDeps(batches[i]), [batches[i - 2].urn]);
        });

        it("clusters=0 declares no cluster batch", async () => {
            const none = await run({ clusters: 0 });
            assert.equal(byType(none, BATCH_TYPE).length, 0);
            assert.equal(none.outputs.clusterBatches, 0);
            assert.equal(byType(none, HOST_BATCH_TYPE).length, 5);
        });

        it("a preview diff from 40 to 60 clusters adds exactly one batch and changes nothing else", async () => {
            const diff = await previewDiff(await run({ clusters: 40 }, true), await run({ clusters: 60 }, true));
            assert.deepEqual(diff.added, [shortUrn(byType(hundred, BATCH_TYPE)[2].urn)]);
            assert.deepEqual(diff.removed, []);
            assert.deepEqual(diff.changed, []);
        });

        it("with workers, each cluster takes 1 + workersPerCluster hosts", async () => {
            const workers = await run({ clusters: 20, workersPerCluster: 2, nodes: 60 });
            const clusters = byType(workers, BATCH_TYPE).flatMap((b) => b.inputs.hosts as ClusterSpec[]);
            assert.equal(clusters.length, 20);
            assert.ok(clusters.every((c) => c.workerHosts.length === 2));
            assert.equal(new Set(clusters.flatMap(clusterHosts)).size, 60);
        });
    });
});
