// The run record of the Kubernetes batches, as Pulumi runs them (providers
// rebuilt from `__provider`): BareMetalHostBatch and WorkloadClusterBatch
// against the Kubernetes API test server with a simulated BMO, CAPI/CAPM3 and
// an FKAS double. The record must match what the server saw.
import { strict as assert } from "assert";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ClusterSpec } from "../components/clusters/render";
import { WorkloadClusterBatch } from "../components/clusters/workloadClusterBatch";
import { BareMetalHostBatch, BmhSpec } from "../components/enroll/bareMetalHostBatch";
import { eventsFile, RecordEvent } from "../components/record/format";
import { pathClass } from "../components/record/pathClass";
import { rebuildProvider } from "./support/capturedProvider";
import { FkasDouble } from "./support/fkasDouble";
import { KubeApiTestServer } from "./support/kubeApiServer";
import { runProgram } from "./support/mockProgram";
import { filesUnder, readEvents } from "./support/runRecord";
import { bmhSpecs, clusterSpecs, NODE_IMAGE_SPEC } from "./support/bmhSpecs";
import { SimulatedBmo } from "./support/simulatedBmo";
import { SimulatedCapi } from "./support/simulatedCapi";

const TOKEN = `tok-${randomBytes(12).toString("hex")}`;
const PASSWORD = `bmc-pw-${randomBytes(8).toString("hex")}`;
const NAMESPACES = ["rec", "recstuck"];

const hostsFor = (ns: string, count: number): BmhSpec[] => bmhSpecs(ns, count, NAMESPACES.indexOf(ns));


describe("run record of the Kubernetes batches (providers rebuilt from __provider) against the Kubernetes API test server", function () {
    this.timeout(300_000);
    let server: KubeApiTestServer;
    let bmo: SimulatedBmo;
    let capi: SimulatedCapi;
    let fkas: FkasDouble;
    const declared: Record<string, { provider: ReturnType<typeof rebuildProvider>; inputs: Record<string, any> }> = {};
    const runsRoot = fs.mkdtempSync(path.join(os.tmpdir(), "record-kube-"));
    const runDir = path.join(runsRoot, "test", "20260101T000000Z");
    const realLog = console.log;

    /** What the server answered in [since, now), as the record classes it (watches as WATCH). */
    const served = (since: number, namespace: string) =>
        server.requests
            .slice(since)
            .filter((r) => r.namespace === namespace)
            .map((r) => `${r.verb === "watch" ? "WATCH" : r.method} ${pathClass("kubernetes", r.path)} ${r.status}`)
            .sort();
    const recorded = (events: RecordEvent[], api = "kubernetes") => events.flatMap((e) => (e.kind === "request" && e.api === api ? [`${e.method} ${e.path} ${e.status}`] : [])).sort();

    before(async () => {
        server = new KubeApiTestServer({ namespaces: NAMESPACES, token: TOKEN, bookmarkIntervalMs: 250, autoRegisterResources: false });
        await server.start();
        fkas = new FkasDouble(server);
        await fkas.start();
        bmo = new SimulatedBmo(server, { namespaces: ["rec"], delays: { registering: 10, inspecting: 20, preparing: 10, power: 5, provisioning: 30, deprovisioning: 30, poweringOffBeforeDelete: 5, deleting: 10 } });
        capi = new SimulatedCapi(server, { namespaces: ["rec"], fkas });
        const kubeconfig = server.kubeconfigYaml();
        const run = await runProgram(
            () => {
                new BareMetalHostBatch("hosts", { kubeconfig, bmcUsername: "admin", bmcPassword: PASSWORD, timeoutSeconds: 120, watchTimeoutSeconds: 30, namespace: "rec", batch: 0, hosts: hostsFor("rec", 20), runDir });
                // Nobody reconciles here: every host is still waiting when the deadline passes.
                new BareMetalHostBatch("stuck", { label: "test/stuck", kubeconfig, bmcUsername: "admin", bmcPassword: PASSWORD, timeoutSeconds: 2, watchTimeoutSeconds: 30, namespace: "recstuck", batch: 0, hosts: hostsFor("recstuck", 25), runDir });
                new WorkloadClusterBatch("clusters", { kubeconfig, fkasUrl: fkas.url, kubernetesVersion: "v1.34.1", image: NODE_IMAGE_SPEC, timeoutSeconds: 120, watchTimeoutSeconds: 30, namespace: "rec", batch: 0, clusters: clusterSpecs("rec", 10), runDir });
            },
            { stack: "test", config: {} },
        );
        for (const r of run.resources.filter((x) => x.type.startsWith("pulumi-nodejs:dynamic"))) declared[r.name] = { provider: rebuildProvider(r.inputs.__provider), inputs: r.inputs };
        console.log = () => undefined;
    });

    after(async () => {
        console.log = realLog;
        capi?.stop();
        bmo?.stop();
        await fkas?.stop();
        await server?.stop();
        fs.rmSync(runsRoot, { recursive: true, force: true });
    });

    it("BareMetalHostBatch: op start/end, every host's transitions in time order, every request the server answered", async () => {
        const since = server.requests.length;
        const { provider, inputs } = declared.hosts;
        assert.equal(inputs.runDir, runDir);
        const res = await provider.create(inputs);
        assert.equal(res.outs.status.ready, true);
        const events = readEvents(path.join(runDir, eventsFile("test/bmh-batch-000")));
        const ops = events.filter((e) => e.kind === "op");
        assert.deepEqual(ops.map((e) => e.kind === "op" && [e.op, e.phase, e.units, e.unit, e.ready]), [["create", "start", 20, "hosts", undefined], ["create", "end", 20, "hosts", true]]);
        for (const h of inputs.hosts as BmhSpec[]) {
            const moves = events.filter((e) => e.kind === "transition" && e.name === h.name);
            assert.equal(moves[0].kind === "transition" && moves[0].from, null);
            assert.equal(moves.at(-1)!.kind === "transition" && (moves.at(-1) as { to: string }).to, "available");
            assert.ok(moves.every((e, k) => k === 0 || e.t >= moves[k - 1].t), `${h.name}: in time order`);
            assert.ok(moves.every((e) => e.t >= ops[0].t && e.t <= ops[1].t));
        }
        assert.deepEqual(recorded(events), served(since, "rec"));
        assert.ok(recorded(events).some((r) => r.startsWith("WATCH /apis/metal3.io/v1alpha1/namespaces/{namespace}/baremetalhosts 200")));
        assert.ok(recorded(events).some((r) => r === "PATCH /api/v1/namespaces/{namespace}/secrets/{name} 200" || r === "PATCH /api/v1/namespaces/{namespace}/secrets/{name} 201"));
    });

    it("WorkloadClusterBatch: clusters' transitions to Running, FKAS registrations and Kubernetes requests", async () => {
        const since = server.requests.length;
        const { provider, inputs } = declared.clusters;
        const res = await provider.create(inputs);
        assert.equal(res.outs.status.ready, true, JSON.stringify(res.outs.status));
        const events = readEvents(path.join(runDir, eventsFile("test/cluster-batch-000")));
        const ops = events.filter((e) => e.kind === "op");
        assert.deepEqual(ops.map((e) => e.kind === "op" && [e.op, e.phase, e.units, e.unit, e.ready]), [["create", "start", 10, "clusters", undefined], ["create", "end", 10, "clusters", true]]);
        for (const c of inputs.hosts as ClusterSpec[]) {
            const moves = events.filter((e) => e.kind === "transition" && e.name === c.name);
            assert.equal((moves.at(-1) as { to: string }).to, "Running", c.name);
            assert.ok(moves.every((e) => e.kind === "transition" && e.unit === "clusters"));
        }
        assert.deepEqual(recorded(events, "fkas"), Array(10).fill("POST /register 200"));
        assert.deepEqual(recorded(events), served(since, "rec"));
    });

    it("a failed batch records every host still waiting (not cut at 20); no file holds a secret", async () => {
        const { provider, inputs } = declared.stuck;
        const err = await provider.create(inputs).then(
            () => undefined,
            (e: Error) => e,
        );
        assert.ok(err, "the stuck batch fails");
        assert.match(err!.message, /deadline of 2s passed: 25 of 25 hosts not available/);
        assert.match(err!.message, /\.\.\. and 5 more/);
        const events = readEvents(path.join(runDir, eventsFile("test/stuck")));
        const failures = events.filter((e) => e.kind === "failure");
        assert.deepEqual(failures.map((f) => f.kind === "failure" && f.name), hostsFor("recstuck", 25).map((h) => h.name));
        assert.ok(failures.every((f) => f.kind === "failure" && f.error === "still waiting"));
        const end = events.at(-1)!;
        assert.deepEqual(end.kind === "op" && [end.op, end.phase, end.ready], ["create", "end", false]);
        assert.match(end.kind === "op" ? end.reason! : "", /^test\/stuck: deadline of 2s passed: 25 of 25 hosts not available:$/);
        const files = filesUnder(runsRoot);
        assert.equal(files.length, 3);
        for (const file of files) {
            assert.equal(fs.statSync(file).mode & 0o777, 0o600, file);
            const text = fs.readFileSync(file, "utf8");
            for (const secret of [TOKEN, PASSWORD]) assert.ok(!text.includes(secret), `${file} holds a secret`);
        }
    });
});
