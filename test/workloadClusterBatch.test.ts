// WorkloadClusterBatch as Pulumi runs it: declared under mocks, its provider
// rebuilt from the captured `__provider` and driven against the Kubernetes
// API test server with a simulated CAPI/KCP/CAPM3, a simulated BMO that
// provisions hosts, and an FKAS double on loopback. Hosts are enrolled first
// by the BareMetalHostBatch provider, as the lab does.
import { strict as assert } from "assert";
import { randomBytes } from "crypto";
import { ClusterSpec, KINDS } from "../components/clusters/render";
import { REGISTERED_ANNOTATION, WorkloadClusterBatch } from "../components/clusters/workloadClusterBatch";
import { BareMetalHostBatch, BmhSpec } from "../components/enroll/bareMetalHostBatch";
import { rebuildProvider } from "./support/capturedProvider";
import { FkasDouble } from "./support/fkasDouble";
import { KubeApiTestServer } from "./support/kubeApiServer";
import { runProgram } from "./support/mockProgram";
import { bmhSpecs } from "./support/bmhSpecs";
import { SimulatedBmo } from "./support/simulatedBmo";
import { SimulatedCapi } from "./support/simulatedCapi";

const TOKEN = `tok-${randomBytes(12).toString("hex")}`;
const SCALE = "scale";
const OUTAGE = "outage";
const STUCK = "stuck";
const NAMESPACES = [SCALE, OUTAGE, STUCK];
const IMAGE = { url: "http://172.22.0.1:6280/images/node-image.raw", checksum: "http://172.22.0.1:6280/images/node-image.raw.sha256sum", checksumType: "sha256", format: "raw" } as const;

type Provider = ReturnType<typeof rebuildProvider>;
interface Declared {
    readonly provider: Provider;
    readonly inputs: Record<string, any>;
}

const hostsFor = (ns: string, count: number): BmhSpec[] => bmhSpecs(ns, count, NAMESPACES.indexOf(ns));

function clustersFor(ns: string, from: number, count: number): ClusterSpec[] {
    return Array.from({ length: count }, (_, k) => {
        const i = from + k;
        return { name: `${ns}-cluster-${String(i).padStart(5, "0")}`, controlPlaneHost: `${ns}-host-${String(i).padStart(5, "0")}`, workerHosts: [] };
    });
}

describe("WorkloadClusterBatch (provider rebuilt from __provider) against the Kubernetes API test server, simulated CAPI/CAPM3/BMO and an FKAS double", function () {
    this.timeout(300_000);
    let server: KubeApiTestServer;
    let bmo: SimulatedBmo;
    let capi: SimulatedCapi;
    let fkas: FkasDouble;
    const declared: Record<string, Declared> = {};
    const logs: string[] = [];
    const realLog = console.log;

    const list = (kind: { plural: string; apiVersion: string }, namespace: string) => server.store.list({ group: kind.apiVersion.split("/")[0], plural: kind.plural } as any, { namespace });
    const bmhStates = (namespace: string) => list(KINDS.bareMetalHost, namespace).map((h) => h.status?.provisioning?.state ?? "");

    async function enroll(key: string): Promise<void> {
        const b = declared[key];
        await b.provider.create(b.inputs);
    }

    async function expectBatchFailure(run: () => Promise<unknown>): Promise<Error & { id: string; properties: Record<string, any> }> {
        try {
            await run();
        } catch (err) {
            return err as Error & { id: string; properties: Record<string, any> };
        }
        throw new Error("expected the batch to fail");
    }

    before(async function () {
        server = new KubeApiTestServer({ namespaces: NAMESPACES, token: TOKEN, bookmarkIntervalMs: 250, autoRegisterResources: false });
        await server.start();
        fkas = new FkasDouble(server);
        await fkas.start();
        bmo = new SimulatedBmo(server, { namespaces: NAMESPACES, delays: { registering: 10, inspecting: 20, preparing: 10, power: 5, provisioning: 30, deprovisioning: 30, poweringOffBeforeDelete: 5, deleting: 10 } });
        capi = new SimulatedCapi(server, { namespaces: NAMESPACES, fkas });
        const kubeconfig = server.kubeconfigYaml();
        const hostCommon = { kubeconfig, bmcUsername: "admin", bmcPassword: "bmc-secret-pw", timeoutSeconds: 120, watchTimeoutSeconds: 30 };
        const clusterCommon = { kubeconfig, fkasUrl: fkas.url, kubernetesVersion: "v1.34.1", image: IMAGE, timeoutSeconds: 120, watchTimeoutSeconds: 30 };
        const run = await runProgram(
            () => {
                new BareMetalHostBatch("hosts-scale", { ...hostCommon, namespace: SCALE, batch: 0, hosts: hostsFor(SCALE, 100) });
                new BareMetalHostBatch("hosts-outage", { ...hostCommon, namespace: OUTAGE, batch: 0, hosts: hostsFor(OUTAGE, 5) });
                // Host 3 of `stuck` is enrolled only later: its cluster waits for it.
                new BareMetalHostBatch("hosts-stuck", { ...hostCommon, namespace: STUCK, batch: 0, hosts: hostsFor(STUCK, 5).filter((h) => !h.name.endsWith("00003")) });
                new BareMetalHostBatch("hosts-stuck-late", { ...hostCommon, namespace: STUCK, batch: 1, hosts: hostsFor(STUCK, 5).filter((h) => h.name.endsWith("00003")) });
                for (let b = 0; b < 5; b++) new WorkloadClusterBatch(`scale-${b}`, { ...clusterCommon, namespace: SCALE, batch: b, clusters: clustersFor(SCALE, b * 20, 20) });
                new WorkloadClusterBatch("outage", { ...clusterCommon, namespace: OUTAGE, batch: 0, clusters: clustersFor(OUTAGE, 0, 5) });
                new WorkloadClusterBatch("stuck", { ...clusterCommon, namespace: STUCK, batch: 0, timeoutSeconds: 4, clusters: clustersFor(STUCK, 0, 5) });
            },
            { stack: "test", config: {} },
        );
        for (const r of run.resources.filter((x) => x.type.startsWith("pulumi-nodejs:dynamic"))) declared[r.name] = { provider: rebuildProvider(r.inputs.__provider), inputs: r.inputs };
        console.log = (...args: unknown[]) => void logs.push(args.map(String).join(" "));
        await Promise.all(["hosts-scale", "hosts-outage", "hosts-stuck"].map(enroll));
        console.log = realLog;
        assert.ok(bmhStates(SCALE).every((s) => s === "available"));
        console.log = (...args: unknown[]) => void logs.push(args.map(String).join(" "));
    });

    after(async () => {
        console.log = realLog;
        capi?.stop();
        bmo?.stop();
        await fkas?.stop();
        await server?.stop();
    });

    const outs: Record<string, Record<string, any>> = {};

    it("brings 100 clusters up in 5 batches of 20: Machines Running, hosts provisioned, control planes ready, API servers served", async () => {
        const since = server.requests.length;
        const fkasSince = fkas.requests.length;
        for (let b = 0; b < 5; b++) {
            const d = declared[`scale-${b}`];
            const res = await d.provider.create(d.inputs);
            assert.equal(res.id, `test/cluster-batch-00${b}`);
            assert.equal(res.outs.status.ready, true, JSON.stringify(res.outs.status));
            assert.deepEqual(res.outs.status.counts, { Running: 20 });
            outs[`scale-${b}`] = res.outs;
        }
        assert.ok(bmhStates(SCALE).every((s) => s === "provisioned"));
        const registered = fkas.registered().filter((r) => r.namespace === SCALE);
        assert.equal(registered.length, 100);
        // One at a time, in cluster order: FKAS hands ports out in order.
        assert.deepEqual(registered.map((r) => r.port).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => 20000 + i));
        const m3c = list(KINDS.metal3Cluster, SCALE);
        assert.equal(m3c.length, 100);
        for (const m of m3c) {
            const r = registered.find((x) => x.cluster === m.metadata.name)!;
            assert.deepEqual(m.spec.controlPlaneEndpoint, { host: r.host, port: r.port });
        }
        assert.equal(list(KINDS.cluster, SCALE).length, 100);
        assert.equal(fkas.nodes(SCALE, "scale-cluster-00042").length, 1);
        // Never the KCP's own secrets.
        assert.ok(!server.requests.slice(since).some((r) => r.resource === "secrets"));
        const kube = server.requests.length - since;
        const fkasCalls = fkas.requests.slice(fkasSince).filter((r) => r.path === "/register").length;
        realLog(`      100 clusters up: ${kube} Kubernetes API requests (${(kube / 100).toFixed(2)} per cluster) + ${fkasCalls} FKAS registrations`);
        outs.upRequests = { kube, fkasCalls };
    });

    it("refresh marks the clusters whose API server is gone (FKAS restarted); the next up registers them again on the same ports", async () => {
        const d = declared["scale-0"];
        const healthy = await d.provider.read("test/cluster-batch-000", outs["scale-0"]);
        assert.equal(healthy.props!.status.ready, true);
        const before = fkas.registered().filter((r) => r.namespace === SCALE);
        // The FKAS pod restarts, its sidecar with it: controller-runtime's first list reconciles every host again
        // (the double's sidecar remembers what it sent; forgetSent() is that restart).
        await fkas.forget();
        capi.fkasReconciler.forgetSent();
        const reads = [];
        for (let b = 0; b < 5; b++) {
            const id = `test/cluster-batch-00${b}`;
            const r = await declared[`scale-${b}`].provider.read(id, outs[`scale-${b}`]);
            reads.push(r.props!);
        }
        for (const p of reads) {
            assert.equal(p.status.ready, false, JSON.stringify(p.status));
            assert.equal(p.status.failures.length, 20, JSON.stringify(p.status));
            assert.equal(p.status.failures.length, 20);
            assert.match(p.status.failures[0].error, /nothing answers at 127\.0\.0\.1:200\d\d .*registers the cluster again/);
        }
        // The next up: every batch is unfinished, so diff() says update; batches run in order as the stack chains them.
        for (let b = 0; b < 5; b++) {
            const id = `test/cluster-batch-00${b}`;
            const p = declared[`scale-${b}`].provider;
            assert.equal((await p.diff(id, reads[b], declared[`scale-${b}`].inputs)).changes, true);
            const res = await p.update(id, reads[b], declared[`scale-${b}`].inputs);
            assert.equal(res.outs!.status.ready, true, JSON.stringify(res.outs!.status));
            outs[`scale-${b}`] = res.outs!;
        }
        const after = fkas.registered().filter((r) => r.namespace === SCALE);
        assert.deepEqual(after.map((r) => `${r.cluster}@${r.port}`).sort(), before.map((r) => `${r.cluster}@${r.port}`).sort());
        assert.equal(fkas.nodes(SCALE, "scale-cluster-00099").length, 1, "the sidecar sent /updateNode again");
        assert.ok(list(KINDS.bareMetalHost, SCALE).every((h) => h.metadata.annotations?.[REGISTERED_ANNOTATION]));
    });

    it("retries FKAS while it refuses connections and answers 503", async () => {
        await fkas.faults.down();
        setTimeout(() => void fkas.faults.up().then(() => fkas.faults.fail(2, 503, "/register")), 1500);
        const d = declared.outage;
        const res = await d.provider.create(d.inputs);
        assert.equal(res.outs.status.ready, true, JSON.stringify(res.outs.status));
        assert.ok(fkas.requests.some((r) => r.path === "/register" && r.status === 503));
        assert.equal(fkas.registered().filter((r) => r.namespace === OUTAGE).length, 5);
        outs.outage = res.outs;
    });

    it("a stuck cluster fails its batch with the reason; the re-run resumes once its host exists", async () => {
        const d = declared.stuck;
        const err = await expectBatchFailure(() => d.provider.create(d.inputs));
        assert.equal(err.id, "test/cluster-batch-000");
        assert.match(err.message, /deadline of 4s passed: 1 of 5 clusters not Running/);
        assert.match(err.message, /stuck-cluster-00003: host absent: still waiting/);
        assert.equal(err.properties.status.ready, false);
        assert.equal(err.properties.status.counts.Running, 4);
        await enroll("hosts-stuck-late");
        assert.equal((await d.provider.diff(err.id, err.properties, d.inputs)).changes, true);
        const res = await d.provider.update(err.id, err.properties, d.inputs);
        assert.equal(res.outs!.status.ready, true, JSON.stringify(res.outs!.status));
        // Resumed: the 4 clusters FKAS serves were left alone; the stuck one (never served) was registered again, on its port.
        const registrations = fkas.requests.filter((r) => r.path === "/register" && r.body?.namespace === STUCK);
        assert.equal(registrations.length, 6);
        assert.equal(registrations.filter((r) => r.body?.cluster === "stuck-cluster-00003").length, 2);
        assert.equal(fkas.registered().filter((r) => r.namespace === STUCK).length, 5);
    });

    it("delete removes the clusters and returns their hosts to available", async () => {
        const since = server.requests.length;
        for (let b = 0; b < 5; b++) await declared[`scale-${b}`].provider.delete(`test/cluster-batch-00${b}`, outs[`scale-${b}`]);
        assert.ok(bmhStates(SCALE).every((s) => s === "available"), JSON.stringify(bmhStates(SCALE)));
        for (const kind of [KINDS.cluster, KINDS.kubeadmControlPlane, KINDS.metal3Cluster, KINDS.metal3MachineTemplate, KINDS.metal3DataTemplate, KINDS.machine]) {
            assert.equal(list(kind, SCALE).length, 0, `no ${kind.kind} left`);
        }
        const kube = server.requests.length - since;
        const total = outs.upRequests.kube + kube;
        realLog(`      100 clusters deleted with ${kube} requests; end to end ${(total / 100).toFixed(2)} Kubernetes API requests + ${(outs.upRequests.fkasCalls / 100).toFixed(2)} FKAS registrations per cluster`);
        // Target <= 12 per cluster end to end (5 applies each + the batch's lists, watches and deletes).
        assert.ok(total / 100 <= 7, `${total / 100} requests per cluster`);
        // Deleting again finds nothing and succeeds.
        await declared["scale-0"].provider.delete("test/cluster-batch-000", outs["scale-0"]);
    });

    it("never shows the token in errors or progress", () => {
        assert.ok(logs.length > 0);
        assert.ok(!logs.some((l) => l.includes(TOKEN)));
        assert.ok(logs.some((l) => /\[test\/cluster-batch-000\] 20 clusters: /.test(l)), "progress lines name clusters");
    });
});
