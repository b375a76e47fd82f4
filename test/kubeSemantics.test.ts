// The Kubernetes API test server held to the apiserver's semantics where our
// providers depend on them, and the providers proven against them:
// - watch history per resource and time based (etcd compaction window, scaled
//   down): a watch from a forgotten resourceVersion gets an ERROR 410;
// - continue tokens expire with the compaction: 410 Expired carrying the
//   "inconsistent" token; KubeClient.list() restarts such a list;
// - watches end on their own (timeoutSeconds, else [T, 2T) of
//   --min-request-timeout) and BareMetalHostBatch's watch resumes;
// - garbage collection lags (delayed, against the latest owners; Foreground
//   and Orphan), including the re-apply race of a re-created host's Secret;
// - a validating admission webhook answering 403 as BMO's does, handled per host.
import { strict as assert } from "assert";
import { randomBytes } from "crypto";
import { BareMetalHostBatch, refreshedOwnerRefs } from "../components/enroll/bareMetalHostBatch";
import { isKubeApiError, KubeClient } from "../components/enroll/kubeClient";
import { bmhSpecs, failureOf } from "./support/bmhSpecs";
import { captureDynamicResources, CapturedResource } from "./support/capturedProvider";
import { KObj, KubeApiTestServer } from "./support/kubeApiServer";
import { INCONSISTENT_CONTINUE } from "./support/kube/server";
import { watchDurationMs } from "./support/kube/watch";
import { SimulatedBmo } from "./support/simulatedBmo";
import { sleep, until } from "./support/until";

const BMH = { group: "metal3.io", plural: "baremetalhosts" };

const secret = (ns: string, name: string, labels: Record<string, string> = {}, ownerReferences?: unknown[]): KObj => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: ns, labels, ...(ownerReferences ? { ownerReferences } : {}) },
    data: { k: Buffer.from(name).toString("base64") },
});
const ownerRef = (o: KObj, extra: Record<string, unknown> = {}) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, uid: o.metadata.uid, ...extra });

describe("Kubernetes API semantics: history window, continue TTL, watch timeouts, delayed GC, admission", function () {
    this.timeout(60_000);
    let server: KubeApiTestServer;
    /** the history window's clock: tests move it instead of waiting */
    let now = Date.now();

    async function call(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<{ status: number; body: any }> {
        const res = await fetch(`${server.url}${path}`, {
            method,
            headers: { Authorization: "Bearer test-token", ...(body === undefined ? {} : { "Content-Type": contentType }) },
            body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: await res.json() };
    }

    /** A whole watch response (the server ends it: ERROR, or its timeout), as parsed events. */
    async function watchEvents(path: string, query: Record<string, string>): Promise<{ type: string; object: any }[]> {
        const res = await fetch(`${server.url}${path}?${new URLSearchParams({ watch: "true", ...query })}`, { headers: { Authorization: "Bearer test-token" } });
        const text = await res.text();
        return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    }

    before(async () => {
        server = new KubeApiTestServer({
            namespaces: ["hist", "pages", "client", "gc"],
            historyWindowMs: 1000,
            historySize: 50,
            clock: () => now,
            minRequestTimeoutSeconds: 0.2,
            watchTimeoutScale: 0.1,
            gcDelayMs: 100,
        });
        await server.start();
    });
    after(() => server.stop());

    describe("watch history", () => {
        it("replays a resource's events from a resourceVersion inside the window, and answers ERROR 410 once the window moved past it", async () => {
            const rv0 = server.store.resourceVersion;
            server.store.create("secrets", secret("hist", "a"));
            server.store.create("secrets", secret("hist", "b"));
            const replay = await watchEvents("/api/v1/namespaces/hist/secrets", { resourceVersion: rv0, timeoutSeconds: "1" });
            assert.deepEqual(
                replay.map((e) => `${e.type} ${e.object.metadata.name}`),
                ["ADDED a", "ADDED b"],
            );
            now += 1500;
            server.store.create("secrets", secret("hist", "c"));
            const expired = await watchEvents("/api/v1/namespaces/hist/secrets", { resourceVersion: rv0, timeoutSeconds: "1" });
            assert.equal(expired.length, 1);
            assert.equal(expired[0].type, "ERROR");
            assert.equal(expired[0].object.code, 410);
            assert.equal(expired[0].object.reason, "Expired");
            assert.match(expired[0].object.message, /^too old resource version: \d+ \(\d+\)$/);
        });

        it("keeps each resource's history apart: a flood of ConfigMaps does not expire a Secret watch", async () => {
            const rv0 = server.store.resourceVersion;
            server.store.create("secrets", secret("hist", "quiet"));
            for (let i = 0; i < 60; i++) server.store.create("configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `flood-${i}`, namespace: "hist" } });
            const secrets = await watchEvents("/api/v1/namespaces/hist/secrets", { resourceVersion: rv0, timeoutSeconds: "1" });
            assert.deepEqual(
                secrets.map((e) => `${e.type} ${e.object.metadata.name}`),
                ["ADDED quiet"],
            );
            const cms = await watchEvents("/api/v1/namespaces/hist/configmaps", { resourceVersion: rv0, timeoutSeconds: "1" });
            assert.equal(cms[0].object.code, 410, "60 events over a history of 50: the ConfigMap watch is too old");
        });
    });

    describe("continue tokens", () => {
        it("live while no newer revision is compacted; then 410 Expired with the inconsistent token, which lists the rest at the latest state", async () => {
            for (const n of ["p-1", "p-2", "p-3"]) server.store.create("secrets", secret("pages", n));
            const first = await call("GET", "/api/v1/namespaces/pages/secrets?limit=1");
            assert.equal(first.body.items[0].metadata.name, "p-1");
            // Time passes but nothing is written: the first page's revision is still the newest one.
            now += 5000;
            const second = await call("GET", `/api/v1/namespaces/pages/secrets?limit=1&continue=${encodeURIComponent(first.body.metadata.continue)}`);
            assert.equal(second.status, 200);
            assert.equal(second.body.items[0].metadata.name, "p-2");
            assert.equal(second.body.metadata.resourceVersion, first.body.metadata.resourceVersion, "one snapshot");
            // A write, then the window passes it: the snapshot's revision is compacted.
            server.store.create("secrets", secret("pages", "p-4"));
            now += 1500;
            const expired = await call("GET", `/api/v1/namespaces/pages/secrets?limit=1&continue=${encodeURIComponent(second.body.metadata.continue)}`);
            assert.equal(expired.status, 410);
            assert.equal(expired.body.reason, "Expired");
            assert.equal(expired.body.message, INCONSISTENT_CONTINUE);
            assert.ok(expired.body.metadata.continue, "the inconsistent continue token");
            const rest = await call("GET", `/api/v1/namespaces/pages/secrets?continue=${encodeURIComponent(expired.body.metadata.continue)}`);
            assert.equal(rest.status, 200);
            assert.deepEqual(
                rest.body.items.map((i: any) => i.metadata.name),
                ["p-3", "p-4"],
                "the remainder at the latest state (p-4 was created after the first page)",
            );
            assert.equal(rest.body.metadata.resourceVersion, server.store.resourceVersion);
        });
    });

    describe("KubeClient.list() when a continue token expires mid-way", () => {
        let client: KubeClient;
        const path = "/api/v1/namespaces/client/secrets";
        before(async () => {
            for (let i = 0; i < 1100; i++) server.store.create("secrets", secret("client", `s-${String(i).padStart(4, "0")}`, { set: "big" }));
            client = await KubeClient.connect({ kubeconfig: server.kubeconfigYaml(), backoffBaseMs: 10 });
        });
        after(() => {
            client.close();
            server.faults.clear();
        });
        const lists = (since: number) => server.requests.slice(since).filter((r) => r.namespace === "client" && r.verb === "list");
        /** Before the matching continue request is served: a write, then the window passes it. */
        const expireNextContinues = (times: number) => {
            let left = times;
            server.faults.delay(0, (r) => {
                if (r.namespace !== "client" || r.verb !== "list" || !r.query.continue || left <= 0) return false;
                left--;
                server.store.create("secrets", secret("client", `late-${randomBytes(3).toString("hex")}`, { set: "big" }));
                now += 1500;
                return false;
            });
        };

        it("restarts the list and returns one complete snapshot, its resourceVersion the restarted list's", async () => {
            const mark = server.requests.length;
            expireNextContinues(1);
            const { list } = await client.list<KObj>(path, { labelSelector: "set=big" });
            const names = list.items.map((i) => i.metadata.name);
            assert.equal(names.length, 1101, "1100 secrets and the one written meanwhile");
            assert.equal(new Set(names).size, names.length, "no item twice");
            assert.equal(list.metadata.resourceVersion, server.store.resourceVersion);
            const seen = lists(mark);
            assert.deepEqual(
                seen.map((r) => `${r.query.continue ? "continue" : "first"} ${r.status}`),
                ["first 200", "continue 410", "first 200", "continue 200", "continue 200"],
            );
        });

        it("gives up after 3 restarts with the 410", async () => {
            const mark = server.requests.length;
            expireNextContinues(10);
            const err = await client.list<KObj>(path, { labelSelector: "set=big" }).then(
                () => undefined,
                (e: unknown) => e,
            );
            assert.ok(isKubeApiError(err) && err.status === 410, String(err));
            assert.equal(lists(mark).filter((r) => !r.query.continue).length, 4, "the first list and 3 restarts");
            server.faults.clear();
        });
    });

    describe("watch timeouts", () => {
        it("timeoutSeconds (scaled) when given, else a random duration in [T, 2T) of --min-request-timeout", () => {
            assert.equal(watchDurationMs(300, 1800, 0.002), 600);
            assert.equal(watchDurationMs(undefined, 1800, 1, () => 0), 1_800_000);
            assert.equal(watchDurationMs(0, 1800, 1, () => 0.5), 2_700_000, "0 is no timeout given");
            assert.ok(watchDurationMs(undefined, 1800, 1, () => 0.999999) < 3_600_000);
        });

        it("a watch without timeoutSeconds ends on its own, cleanly (no ERROR)", async () => {
            server.store.create("secrets", secret("hist", "w-1"));
            const events = await watchEvents("/api/v1/namespaces/hist/secrets", { fieldSelector: "metadata.name=w-1" });
            assert.deepEqual(
                events.map((e) => e.type),
                ["ADDED"],
            );
        });
    });

    describe("garbage collection", () => {
        const cm = (name: string) => server.store.create("configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "gc" } });
        const exists = (name: string) => server.store.get("secrets", "gc", name) !== undefined;
        afterEach(() => server.store.gc.release());

        it("collects a dependent after a delay, not at its owner's deletion", async () => {
            const owner = cm("o-1");
            server.store.create("secrets", secret("gc", "d-1", {}, [ownerRef(owner)]));
            server.store.delete("configmaps", "gc", "o-1");
            assert.ok(exists("d-1"), "still there right after its owner went");
            assert.ok(server.store.gc.pending > 0);
            await until("d-1 collected", () => !exists("d-1"));
        });

        it("re-apply race: decides on the latest owners when it runs, so a dependent claimed by the re-created owner stays, an unclaimed one goes", async () => {
            server.store.gc.hold();
            const old = cm("o-2");
            server.store.create("secrets", secret("gc", "claimed", {}, [ownerRef(old)]));
            server.store.create("secrets", secret("gc", "unclaimed", {}, [ownerRef(old)]));
            server.store.delete("configmaps", "gc", "o-2");
            const renewed = cm("o-2");
            server.store.mutate("secrets", "gc", "claimed", (o) => (o.metadata.ownerReferences = [...o.metadata.ownerReferences, ownerRef(renewed)]));
            assert.equal(server.store.gc.pending, 2);
            server.store.gc.release();
            await until("the collector to run", () => server.store.gc.pending === 0);
            assert.ok(!exists("unclaimed"), "only a dangling owner: collected");
            const kept = server.store.get("secrets", "gc", "claimed")!;
            assert.deepEqual(
                kept.metadata.ownerReferences.map((r: any) => r.uid),
                [renewed.metadata.uid],
                "the dangling reference removed",
            );
        });

        it("collects an object created with a reference to an owner that does not exist", async () => {
            server.store.create("secrets", secret("gc", "orphaned", {}, [{ apiVersion: "v1", kind: "ConfigMap", name: "never", uid: "4f0b1c6e-0000-4000-8000-000000000000" }]));
            await until("orphaned collected", () => !exists("orphaned"));
        });

        it("Foreground: the owner waits with foregroundDeletion until its blocking dependents are gone; Orphan: dependents stay without the reference", async () => {
            const fg = cm("o-fg");
            server.store.create("secrets", secret("gc", "blocking", {}, [ownerRef(fg, { blockOwnerDeletion: true })]));
            const del = await call("DELETE", "/api/v1/namespaces/gc/configmaps/o-fg", { propagationPolicy: "Foreground" });
            assert.equal(del.status, 200);
            assert.ok(del.body.metadata.deletionTimestamp);
            assert.deepEqual(del.body.metadata.finalizers, ["foregroundDeletion"]);
            await until("owner and dependent gone", () => !exists("blocking") && !server.store.get("configmaps", "gc", "o-fg"));
            const or = cm("o-or");
            server.store.create("secrets", secret("gc", "orphan", {}, [ownerRef(or)]));
            await call("DELETE", "/api/v1/namespaces/gc/configmaps/o-or?propagationPolicy=Orphan");
            await until("owner gone", () => !server.store.get("configmaps", "gc", "o-or"));
            await until("the collector idle", () => server.store.gc.pending === 0);
            assert.ok(exists("orphan"), "an orphaned dependent stays");
            assert.equal(server.store.get("secrets", "gc", "orphan")!.metadata.ownerReferences, undefined);
        });
    });

    describe("admission", () => {
        it("answers a denial as the apiserver relays BMO's webhook: 403 Forbidden, the webhook's name, the reasons aggregated", async () => {
            const undo = server.store.admission.register({
                name: "baremetalhost.metal3.io",
                resources: ["secrets"],
                validate: (req) => (req.name.startsWith("deny-") ? ["bootMACAddress can not be changed once it is set", "externallyProvisioned can not be changed from true to false"] : req.name.startsWith("no-") ? "BareMetalHost resource name cannot be a UUID" : undefined),
            });
            try {
                const one = await call("POST", "/api/v1/namespaces/gc/secrets", secret("gc", "no-1"));
                assert.equal(one.status, 403);
                assert.deepEqual(
                    { kind: one.body.kind, status: one.body.status, reason: one.body.reason, code: one.body.code },
                    { kind: "Status", status: "Failure", reason: "Forbidden", code: 403 },
                );
                assert.equal(one.body.message, 'admission webhook "baremetalhost.metal3.io" denied the request: BareMetalHost resource name cannot be a UUID');
                const two = await call("POST", "/api/v1/namespaces/gc/secrets", secret("gc", "deny-1"));
                assert.equal(two.body.message, 'admission webhook "baremetalhost.metal3.io" denied the request: [bootMACAddress can not be changed once it is set, externallyProvisioned can not be changed from true to false]');
                assert.equal((await call("POST", "/api/v1/namespaces/gc/secrets", secret("gc", "fine-1"))).status, 201);
                assert.equal(server.store.admission.denied.get("baremetalhost.metal3.io"), 2);
            } finally {
                undo();
            }
        });
    });
});

describe("BareMetalHostBatch against the stricter server: watch timeouts, admission denials, the GC re-apply race", function () {
    this.timeout(60_000);
    let server: KubeApiTestServer;
    const bmos: SimulatedBmo[] = [];
    const batches: Record<string, CapturedResource> = {};
    const realLog = console.log;
    const NS = ["tmo", "adm", "race"];
    const inNs = (ns: string, since = 0) => server.requests.slice(since).filter((r) => r.namespace === ns);
    const hostsOf = (ns: string, n: number) => bmhSpecs(ns, n, 0x70 + NS.indexOf(ns));

    before(async () => {
        // The providers' 300 s watches end after 0.6 s.
        server = new KubeApiTestServer({ namespaces: NS, bookmarkIntervalMs: 250, watchTimeoutScale: 0.002 });
        await server.start();
        bmos.push(
            new SimulatedBmo(server, { namespaces: ["tmo"], delays: { registering: 200, inspecting: 1800, preparing: 200, power: 10 } }),
            new SimulatedBmo(server, { namespaces: ["adm", "race"], delays: { registering: 10, inspecting: 20, preparing: 10, power: 5, poweringOffBeforeDelete: 5, deleting: 10 } }),
        );
        const host = { kubeconfig: server.kubeconfigYaml(), bmcUsername: "admin", bmcPassword: `pw-${randomBytes(6).toString("hex")}`, timeoutSeconds: 30, watchTimeoutSeconds: 300 };
        // One provider captured (serializing one costs seconds); the other batches are its inputs with another namespace.
        const [tmo] = await captureDynamicResources(() => new BareMetalHostBatch("tmo", { ...host, label: "test/tmo", namespace: "tmo", batch: 0, hosts: hostsOf("tmo", 6) }));
        const like = (ns: string, n: number, extra: Record<string, unknown> = {}): CapturedResource => ({ ...tmo, name: ns, inputs: { ...tmo.inputs, label: `test/${ns}`, namespace: ns, hosts: hostsOf(ns, n), ...extra } });
        Object.assign(batches, { tmo, adm: like("adm", 4), race: like("race", 2, { timeoutSeconds: 15 }) });
        console.log = (...args: unknown[]) => (typeof args[0] === "string" && args[0].startsWith("[") ? undefined : realLog(...args));
    });

    after(async () => {
        console.log = realLog;
        for (const b of bmos) b.stop();
        await server?.stop();
    });

    it("resumes its watch each time the server ends it (timeoutSeconds): one list, several watches, every host available", async () => {
        const b = batches.tmo;
        const res = await b.provider.create(b.inputs);
        assert.equal(res.outs.status.ready, true, JSON.stringify(res.outs.status));
        const watches = inNs("tmo").filter((r) => r.verb === "watch");
        assert.ok(watches.length >= 3, `${watches.length} watches: the server ended them and the batch resumed`);
        assert.equal(inNs("tmo").filter((r) => r.verb === "list").length, 1, "resumed, never relisted");
        const rvs = watches.map((w) => Number(w.query.resourceVersion));
        assert.ok(
            rvs.every((v, i) => i === 0 || v >= rvs[i - 1]),
            `each watch resumes where the last ended: ${rvs.join(",")}`,
        );
    });

    it("a host BMO's webhook denies fails with the webhook's message, the others reach available; the next up after the cause is removed finishes", async () => {
        const b = batches.adm;
        const denied = b.inputs.hosts[1].name as string;
        const why = "BMC driver redfish requires a BootMACAddress value";
        const undo = server.store.admission.denyBareMetalHosts((bmh) => (bmh.metadata.name === denied ? why : undefined));
        const err = await failureOf(() => b.provider.create(b.inputs));
        undo();
        assert.equal(err.properties.status.ready, false);
        assert.deepEqual(err.properties.status.counts, { available: 3, "not applied (error)": 1 });
        const failures = err.properties.status.failures as { name: string; state: string; error: string }[];
        assert.deepEqual(
            failures.map((f) => [f.name, f.state]),
            [[denied, "not applied"]],
        );
        assert.match(failures[0].error, new RegExp(`answered 403 Forbidden: admission webhook "baremetalhost\\.metal3\\.io" denied the request: ${why}`));
        assert.equal(server.store.get(BMH, "adm", denied), undefined);
        const resumed = await b.provider.update(err.id, err.properties, b.inputs);
        assert.equal(resumed.outs.status.ready, true, JSON.stringify(resumed.outs.status));
        assert.deepEqual(resumed.outs.status.counts, { available: 4 });
    });

    it("GC re-apply race: a host's BareMetalHost deleted and re-applied while the collector lags keeps its re-applied Secret and reaches available", async () => {
        const b = batches.race;
        const { id, outs } = await b.provider.create(b.inputs);
        assert.equal(outs.status.ready, true);
        const host = b.inputs.hosts[0].name as string;
        const secretName = `${host}-bmc-secret`;
        const oldUid = server.store.get(BMH, "race", host)!.metadata.uid;
        server.store.gc.hold();
        try {
            server.store.delete(BMH, "race", host);
            await until("BMO to release and remove the host", () => !server.store.get(BMH, "race", host));
            assert.deepEqual(
                server.store.get("secrets", "race", secretName)!.metadata.ownerReferences.map((r: any) => r.uid),
                [oldUid],
                "the Secret still names the deleted host; the collector has not run",
            );
            // The re-applied host's BMH write is slow: the collector catches up between the Secret's apply and it.
            server.faults.delay(500, { verb: "apply", resource: "baremetalhosts", name: host }, 1);
            const mark = server.requests.length;
            const running = b.provider.update(id, outs, b.inputs);
            await until("the Secret re-applied", () => inNs("race", mark).some((r) => r.verb === "apply" && r.name === secretName && r.status === 200));
            server.store.gc.release();
            await until("the collector to delete the Secret it found owned by a deleted host only", () => !server.store.get("secrets", "race", secretName));
            const res = await running;
            assert.equal(res.outs.status.ready, true, JSON.stringify(res.outs.status));
            const newUid = server.store.get(BMH, "race", host)!.metadata.uid;
            assert.notEqual(newUid, oldUid);
            const s = server.store.get("secrets", "race", secretName)!;
            assert.ok(s, "the Secret is back");
            assert.deepEqual(
                s.metadata.ownerReferences.map((r: any) => r.uid),
                [newUid],
            );
            assert.deepEqual(
                inNs("race", mark)
                    .filter((r) => r.name === secretName)
                    .map((r) => `${r.verb} ${r.status}`),
                ["apply 200", "patch 404", "apply 201"],
                "claimed for the new host: found collected, applied again",
            );
        } finally {
            server.store.gc.release();
        }
    });

    it("GC lagging past the re-apply: the re-applied Secret, owned by the new host, is kept", async () => {
        const b = batches.race;
        const { id, outs } = await b.provider.create(b.inputs);
        const host = b.inputs.hosts[1].name as string;
        const secretName = `${host}-bmc-secret`;
        server.store.gc.hold();
        try {
            server.store.delete(BMH, "race", host);
            await until("BMO to release and remove the host", () => !server.store.get(BMH, "race", host));
            const res = await b.provider.update(id, outs, b.inputs);
            assert.equal(res.outs.status.ready, true);
            server.store.gc.release();
            await until("the collector to run", () => server.store.gc.pending === 0);
            const s = server.store.get("secrets", "race", secretName);
            assert.ok(s, "not collected");
            assert.deepEqual(
                s!.metadata.ownerReferences.map((r: any) => r.uid),
                [server.store.get(BMH, "race", host)!.metadata.uid],
            );
        } finally {
            server.store.gc.release();
        }
    });

    it("refreshedOwnerRefs: replaces only a stale reference to a host of the same name", () => {
        const bmh = { metadata: { name: "h", uid: "new" } };
        const ref = (uid: string, name = "h", kind = "BareMetalHost") => ({ apiVersion: "metal3.io/v1alpha1", kind, name, uid });
        assert.equal(refreshedOwnerRefs({ metadata: { name: "s" } }, bmh), undefined, "no owner: nothing to do");
        assert.equal(refreshedOwnerRefs({ metadata: { name: "s", ownerReferences: [ref("new")] } } as any, bmh), undefined, "owned by the live host");
        assert.deepEqual(refreshedOwnerRefs({ metadata: { name: "s", ownerReferences: [ref("old"), ref("x", "other"), ref("c", "h", "ConfigMap")] } } as any, bmh), [ref("x", "other"), ref("c", "h", "ConfigMap"), ref("new")]);
        assert.equal(refreshedOwnerRefs({ metadata: { name: "s", ownerReferences: [ref("old")] } } as any, undefined), undefined);
    });
});
