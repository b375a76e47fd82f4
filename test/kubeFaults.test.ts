// Faults of the Kubernetes API and of the controllers behind it, survived by
// the Kubernetes batches as Pulumi runs them (providers rebuilt from
// `__provider`): watches cut every 50 events, a 10 s outage of 500/503, a
// host deleted behind the provider's back, a server-side apply conflict with
// another field manager, BMO slower than the deadline (recorded, resumed by
// the next up), and for WorkloadClusterBatch FKAS down beyond its retries and
// a Machine stuck. 429 bursts, single dropped watches, 410 relists, short
// 5xx bursts and a host deleted between runs are in bareMetalHostBatch.test.ts;
// a short FKAS outage and a cluster waiting for a missing host in
// workloadClusterBatch.test.ts.
import { strict as assert } from "assert";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { KINDS } from "../components/clusters/render";
import { WorkloadClusterBatch } from "../components/clusters/workloadClusterBatch";
import { BareMetalHostBatch, BmhSpec } from "../components/enroll/bareMetalHostBatch";
import { eventsFile } from "../components/record/format";
import { BatchFailure, bmhSpecs, clusterSpecs, failureOf, NODE_IMAGE_SPEC } from "./support/bmhSpecs";
import { captureDynamicResources, CapturedResource } from "./support/capturedProvider";
import { FkasDouble } from "./support/fkasDouble";
import { KubeApiTestServer } from "./support/kubeApiServer";
import { readEvents } from "./support/runRecord";
import { PAUSED_ANNOTATION, SimulatedBmo } from "./support/simulatedBmo";
import { SimulatedCapi } from "./support/simulatedCapi";
import { sleep, until } from "./support/until";

const TOKEN = `tok-${randomBytes(12).toString("hex")}`;
const BMH = { group: "metal3.io", plural: "baremetalhosts" };

/** Hosts walk registering -> available in about a second: watches see many events, a delete lands mid-way. */
const PACED = ["outage", "vanish"];
/** Its BMO starts once the batch watches: every host's whole walk reaches the watch (about 6 events per host). */
const CUT = "cut";
const SLOW = "slowbmo";
/** Fast BMO: the workload-cluster namespaces and the conflict one. */
const FAST = ["conflict", "wcut", "woutage", "wfkas", "wstuck"];
const NAMESPACES = [CUT, ...PACED, SLOW, ...FAST];

const hostsOf = (ns: string, count: number): BmhSpec[] => bmhSpecs(ns, count, NAMESPACES.indexOf(ns) + 0x40);

describe("Kubernetes batches under faults (providers rebuilt from __provider, Kubernetes API test server, simulated BMO/CAPI, FKAS double)", function () {
    this.timeout(120_000);
    let server: KubeApiTestServer;
    let fkas: FkasDouble;
    const bmos: SimulatedBmo[] = [];
    let capi: SimulatedCapi;
    let cutBmo: SimulatedBmo;
    const batches: Record<string, CapturedResource> = {};
    const logs: string[] = [];
    const realLog = console.log;
    let runDir: string;

    const bmhsIn = (ns: string) => server.store.list(BMH, { namespace: ns });
    const states = (ns: string) => bmhsIn(ns).map((h) => h.status?.provisioning?.state ?? "");
    const inNs = (ns: string, since = 0) => server.requests.slice(since).filter((r) => r.namespace === ns);

    before(async function () {
        server = new KubeApiTestServer({ namespaces: NAMESPACES, token: TOKEN, bookmarkIntervalMs: 250, autoRegisterResources: false });
        await server.start();
        fkas = new FkasDouble(server);
        await fkas.start();
        bmos.push(
            new SimulatedBmo(server, { namespaces: PACED, delays: { registering: 200, inspecting: 600, preparing: 200, power: 20, poweringOffBeforeDelete: 100, deleting: 200 } }),
            new SimulatedBmo(server, { namespaces: [SLOW], delays: { registering: 300, inspecting: 3000, preparing: 300, power: 20 } }),
            new SimulatedBmo(server, {
                namespaces: FAST,
                delays: { registering: 10, inspecting: 20, preparing: 10, power: 5, provisioning: 30, deprovisioning: 30, poweringOffBeforeDelete: 5, deleting: 10 },
            }),
        );
        cutBmo = new SimulatedBmo(server, { namespaces: [CUT], autoStart: false, delays: { registering: 50, inspecting: 100, preparing: 50, power: 10 } });
        bmos.push(cutBmo);
        capi = new SimulatedCapi(server, { namespaces: ["wcut", "woutage", "wfkas", "wstuck"], fkas });
        runDir = fs.mkdtempSync(path.join(os.tmpdir(), "kube-faults-run-"));
        const kubeconfig = server.kubeconfigYaml();
        const host = { kubeconfig, bmcUsername: "admin", bmcPassword: `pw-${randomBytes(6).toString("hex")}`, timeoutSeconds: 60, watchTimeoutSeconds: 30 };
        const cluster = { kubeconfig, fkasUrl: fkas.url, kubernetesVersion: "v1.34.1", image: NODE_IMAGE_SPEC, timeoutSeconds: 60, watchTimeoutSeconds: 30 };
        const declared = await captureDynamicResources(() => {
            new BareMetalHostBatch("cut", { ...host, label: "test/cut", namespace: "cut", batch: 0, hosts: hostsOf("cut", 80) });
            new BareMetalHostBatch("outage", { ...host, label: "test/outage", namespace: "outage", batch: 0, hosts: hostsOf("outage", 20) });
            new BareMetalHostBatch("vanish", { ...host, label: "test/vanish", namespace: "vanish", batch: 0, hosts: hostsOf("vanish", 10) });
            new BareMetalHostBatch("conflict", { ...host, label: "test/conflict", namespace: "conflict", batch: 0, hosts: hostsOf("conflict", 5) });
            new BareMetalHostBatch("slowbmo", { ...host, label: "test/slowbmo", namespace: SLOW, batch: 0, timeoutSeconds: 2, runDir, hosts: hostsOf(SLOW, 10) });
            for (const [ns, n] of [["wcut", 10], ["woutage", 5], ["wfkas", 3], ["wstuck", 3]] as const) {
                new BareMetalHostBatch(`hosts-${ns}`, { ...host, label: `test/hosts-${ns}`, namespace: ns, batch: 0, hosts: hostsOf(ns, n) });
                new WorkloadClusterBatch(ns, { ...cluster, label: `test/${ns}`, namespace: ns, batch: 0, clusters: clusterSpecs(ns, n), ...(ns === "wfkas" || ns === "wstuck" ? { timeoutSeconds: 3 } : {}) });
            }
        });
        for (const d of declared) batches[d.name] = d;
        // Progress lines of the providers are kept (and kept out of the test output); the reporter's go through.
        console.log = (...args: unknown[]) => (typeof args[0] === "string" && args[0].startsWith("[") ? void logs.push(args.map(String).join(" ")) : realLog(...args));
        // The workload clusters' hosts, enrolled first as the lab does.
        await Promise.all(["wcut", "woutage", "wfkas", "wstuck"].map((ns) => batches[`hosts-${ns}`].provider.create(batches[`hosts-${ns}`].inputs)));
    });

    after(async () => {
        console.log = realLog;
        capi?.stop();
        for (const b of bmos) b.stop();
        await fkas?.stop();
        await server?.stop();
        if (runDir) fs.rmSync(runDir, { recursive: true, force: true });
    });

    describe("BareMetalHostBatch", () => {
        it("a watch cut every 50 events: each resumes from the last resourceVersion seen and the batch finishes, with one list", async () => {
            const b = batches.cut;
            server.faults.dropWatchesEvery(50, { namespace: "cut", verb: "watch" });
            const running = b.provider.create(b.inputs);
            await until("the batch to watch its hosts", () => inNs("cut").some((r) => r.verb === "watch"));
            cutBmo.start();
            const res = await running;
            assert.equal(res.outs.status.ready, true, JSON.stringify(res.outs.status));
            assert.deepEqual(res.outs.status.counts, { available: 80 });
            const watches = inNs("cut").filter((r) => r.verb === "watch");
            const cut = server.faults.watchesCut;
            assert.ok(cut >= 2, `only ${cut} watches were cut`);
            // The last cut may land on the event that finished the wait (the batch had stopped watching).
            assert.ok(watches.length >= cut, `${watches.length} watches for ${cut} cuts`);
            assert.equal(inNs("cut").filter((r) => r.verb === "list").length, 1, "resumed, never relisted");
            const rvs = watches.map((w) => Number(w.query.resourceVersion));
            assert.ok(rvs.every((v, i) => v > 0 && (i === 0 || v >= rvs[i - 1])), `resourceVersions ${rvs.join(",")}: each watch resumes where the last stopped`);
            assert.equal(new Set(rvs).size, rvs.length, "every resumed watch starts past the events already seen");
        });

        it("500 and 503 for 10 s on every request: the batch rides the outage out and finishes", async () => {
            const b = batches.outage;
            server.faults.failFor(10_000, [500, 503], { namespace: "outage" });
            const t0 = Date.now();
            const res = await b.provider.create(b.inputs).catch((e: BatchFailure) => e);
            const failedAnswers = inNs("outage").filter((r) => r.status >= 500);
            assert.ok(failedAnswers.length > 0 && failedAnswers.every((r) => r.at - t0 < 10_100), "the outage happened, and only for 10 s");
            assert.ok(!(res instanceof Error), `the batch failed during a 10 s outage: ${res instanceof Error ? res.message.split("\n")[0] : ""}`);
            assert.deepEqual(res.outs.status.counts, { available: 20 });
            assert.equal(bmhsIn("outage").length, 20);
        });

        it("a host deleted behind the provider's back while the create waits is recreated or reported by name, never lost; the next up brings it back", async () => {
            const b = batches.vanish;
            const running = b.provider.create(b.inputs).then(
                (r) => ({ ok: true as const, outs: r.outs, id: r.id }),
                (e: BatchFailure) => ({ ok: false as const, outs: e.properties, id: e.id, message: e.message }),
            );
            await until("vanish-host-00004 inspecting", () => server.store.get(BMH, "vanish", "vanish-host-00004")?.status?.provisioning?.state === "inspecting");
            const uid = server.store.get(BMH, "vanish", "vanish-host-00004")!.metadata.uid;
            server.store.delete(BMH, "vanish", "vanish-host-00004");
            await until("vanish-host-00004 gone (BMO released it)", () => server.store.get(BMH, "vanish", "vanish-host-00004")?.metadata.uid !== uid);
            const res = await running;
            if (res.ok) {
                assert.equal(server.store.get(BMH, "vanish", "vanish-host-00004")?.status?.provisioning?.state, "available", "recreated");
            } else {
                assert.match(res.message, /vanish-host-00004: deleted: the BareMetalHost was deleted while the batch waited for it/);
                assert.match(res.message, /1 of 10 hosts not available/);
                assert.deepEqual(res.outs.status.counts, { available: 9, "deleted (error)": 1 });
                // The next up: recorded as unfinished, so it re-applies and waits again.
                assert.equal((await b.provider.diff(res.id, res.outs, b.inputs)).changes, true);
                const again = await b.provider.update(res.id, res.outs, b.inputs);
                assert.equal(again.outs!.status.ready, true, JSON.stringify(again.outs!.status));
            }
            assert.equal(bmhsIn("vanish").length, 10);
            assert.deepEqual([...new Set(states("vanish"))], ["available"]);
        });

        it("a server-side apply conflict with another field manager fails the host with the field and the manager, and keeps their value", async () => {
            const b = batches.conflict;
            const created = await b.provider.create(b.inputs);
            assert.equal(created.outs.status.ready, true);
            // An operator powers one host off with their own tool (their own field manager).
            server.store.apply(BMH, { apiVersion: "metal3.io/v1alpha1", kind: "BareMetalHost", metadata: { name: "conflict-host-00002", namespace: "conflict" }, spec: { online: false } }, { fieldManager: "ops-console", force: true });
            // The stack changes that host's boot mode: its BareMetalHost is applied again, still declaring online: true.
            const hosts = (b.inputs.hosts as BmhSpec[]).map((h) => (h.name === "conflict-host-00002" ? { ...h, bootMode: "UEFI" as const } : h));
            const outcome = await b.provider.update(created.id, created.outs, { ...b.inputs, hosts }).then(
                (r) => ({ ok: true as const, outs: r.outs }),
                (e: BatchFailure) => ({ ok: false as const, message: e.message }),
            );
            const online = server.store.get(BMH, "conflict", "conflict-host-00002")!.spec.online;
            assert.equal(online, false, "the other manager's spec.online was taken over silently (applied with force)");
            assert.ok(!outcome.ok, "the conflict must fail the batch");
            assert.match(outcome.message, /conflict-host-00002/);
            assert.match(outcome.message, /ops-console/);
            assert.match(outcome.message, /\.spec\.online/);
        });

        it("BMO slower than the deadline: a recorded failure naming the hosts still waiting; the next up resumes them to available without duplicates", async () => {
            const b = batches.slowbmo;
            const err = await failureOf(() => b.provider.create(b.inputs));
            assert.equal(err.name, "BatchFailedError");
            assert.match(err.message, /deadline of 2s passed: 10 of 10 hosts not available/);
            assert.match(err.message, /slowbmo-host-00000: (registering|inspecting): still waiting/);
            assert.equal(err.properties.status.ready, false);
            const events = readEvents(path.join(runDir, eventsFile(b.inputs.label)));
            const end = events.filter((e) => e.kind === "op").at(-1)!;
            assert.deepEqual(end.kind === "op" && [end.op, end.phase, end.ready], ["create", "end", false]);
            assert.match(end.kind === "op" ? end.reason! : "", /deadline of 2s passed/);
            assert.equal(events.filter((e) => e.kind === "failure" && e.error === "still waiting").length, 10);
            const uids = bmhsIn(SLOW).map((h) => h.metadata.uid).sort();
            assert.equal(uids.length, 10);

            // The next `pulumi up`: the failed outs are the olds; the user gave the batch more time.
            const news = { ...b.inputs, timeoutSeconds: 60 };
            assert.equal((await b.provider.diff(err.id, err.properties, news)).changes, true);
            const resumed = await b.provider.update(err.id, err.properties, news);
            assert.equal(resumed.outs!.status.ready, true);
            assert.deepEqual(resumed.outs!.status.counts, { available: 10 });
            assert.deepEqual(bmhsIn(SLOW).map((h) => h.metadata.uid).sort(), uids, "the same hosts, none recreated or duplicated");
            const after = readEvents(path.join(runDir, eventsFile(b.inputs.label))).filter((e) => e.kind === "op").at(-1)!;
            assert.deepEqual(after.kind === "op" && [after.op, after.phase, after.ready], ["update", "end", true]);
        });
    });

    describe("WorkloadClusterBatch", () => {
        it("watches cut every 50 events and 429s with Retry-After: the clusters come up", async () => {
            const b = batches.wcut;
            server.faults.dropWatchesEvery(50, { namespace: "wcut", verb: "watch" });
            server.faults.throttle(4, 1, { namespace: "wcut" });
            const before = server.faults.watchesCut;
            const res = await b.provider.create(b.inputs);
            assert.equal(res.outs.status.ready, true, JSON.stringify(res.outs.status));
            assert.deepEqual(res.outs.status.counts, { Running: 10 });
            assert.ok(server.faults.watchesCut - before >= 1, "a watch was cut");
            assert.equal(inNs("wcut").filter((r) => r.status === 429).length, 4);
            assert.equal(server.store.list({ group: "cluster.x-k8s.io", plural: KINDS.cluster.plural }, { namespace: "wcut" }).length, 10);
        });

        it("500 and 503 for 10 s on every request: the clusters come up", async () => {
            const b = batches.woutage;
            server.faults.failFor(10_000, [500, 503], { namespace: "woutage" });
            const res = await b.provider.create(b.inputs).catch((e: BatchFailure) => e);
            assert.ok(inNs("woutage").some((r) => r.status >= 500), "the outage happened");
            assert.ok(!(res instanceof Error), `the batch failed during a 10 s outage: ${res instanceof Error ? res.message.split("\n")[0] : ""}`);
            assert.deepEqual(res.outs.status.counts, { Running: 5 });
        });

        it("FKAS down beyond the retries: the batch fails naming FKAS; the next up, FKAS back, brings the clusters up", async () => {
            const b = batches.wfkas;
            await fkas.faults.down();
            let err: BatchFailure;
            const started = Date.now();
            try {
                err = await failureOf(() => b.provider.create(b.inputs));
            } finally {
                await fkas.faults.up();
            }
            // The retries stop at the batch's deadline (not after their own 8 attempts, ~20 s).
            assert.ok(Date.now() - started < b.inputs.timeoutSeconds * 1000 + 5_000, `failed after ${Date.now() - started} ms, deadline ${b.inputs.timeoutSeconds} s`);
            assert.match(err.message, /FKAS POST \/register at http:\/\/127\.0\.0\.1:\d+ failed: .*ECONNREFUSED/);
            assert.equal(err.properties.status.ready, false);
            const resumed = await b.provider.update(err.id, err.properties, { ...b.inputs, timeoutSeconds: 60 });
            assert.equal(resumed.outs!.status.ready, true, JSON.stringify(resumed.outs!.status));
            assert.equal(fkas.registered().filter((r) => r.namespace === "wfkas").length, 3);
        });

        it("a Machine stuck (its host paused): the batch fails at its deadline naming the cluster; the next up resumes it", async () => {
            const b = batches.wstuck;
            server.store.mutate(BMH, "wstuck", "wstuck-host-00001", (h) => {
                h.metadata.annotations = { ...(h.metadata.annotations ?? {}), [PAUSED_ANNOTATION]: "" };
            });
            const err = await failureOf(() => b.provider.create(b.inputs));
            assert.match(err.message, /deadline of 3s passed: \d of 3 clusters not Running/);
            assert.match(err.message, /wstuck-cluster-00001: host available: still waiting/);
            const machines = server.store.list({ group: "cluster.x-k8s.io", plural: "machines" }, { namespace: "wstuck" });
            const stuck = machines.find((m) => m.metadata.labels?.["cluster.x-k8s.io/cluster-name"] === "wstuck-cluster-00001");
            assert.ok(stuck && stuck.status?.phase !== "Running", "its Machine is stuck");
            server.store.mutate(BMH, "wstuck", "wstuck-host-00001", (h) => {
                delete h.metadata.annotations[PAUSED_ANNOTATION];
            });
            const resumed = await b.provider.update(err.id, err.properties, { ...b.inputs, timeoutSeconds: 60 });
            assert.equal(resumed.outs!.status.ready, true, JSON.stringify(resumed.outs!.status));
            assert.equal(server.store.list({ group: "cluster.x-k8s.io", plural: "clusters" }, { namespace: "wstuck" }).length, 3, "no duplicate cluster");
        });
    });

    describe("afterwards", () => {
        it("progress lines name batches and never the token", () => {
            assert.ok(logs.some((l) => l.startsWith("[test/cut] 80 hosts: ")), `no progress of test/cut in ${logs.length} lines`);
            assert.ok(logs.some((l) => l.startsWith("[test/wcut] 10 clusters: ")), "no progress of test/wcut");
            assert.ok(!logs.some((l) => l.includes(TOKEN)), "a progress line holds the token");
        });
    });
});
