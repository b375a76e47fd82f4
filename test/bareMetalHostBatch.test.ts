// BareMetalHostBatch as Pulumi runs it: declared under mocks, its provider
// rebuilt from the captured `__provider` (require-from-string, as the Pulumi
// host does) and driven directly against the Kubernetes API test server, with
// a simulated baremetal-operator walking hosts to `available`.
import { strict as assert } from "assert";
import { randomBytes } from "crypto";
import { BareMetalHostBatch, BmhSpec, doneStates, labelValue, observeBmh } from "../components/enroll/bareMetalHostBatch";
import { backoffMs, parseRetryAfter, redactText } from "../components/enroll/kubeClient";
import { rebuildProvider } from "./support/capturedProvider";
import { isSecretWrapper, plainStrings, RegisteredResource, runProgram } from "./support/mockProgram";
import { KubeApiTestServer, RequestLogEntry } from "./support/kubeApiServer";
import { SimulatedBmo } from "./support/simulatedBmo";
import { sleep, until } from "./support/until";

const BMH = { group: "metal3.io", plural: "baremetalhosts" };
const PASSWORD = `bmc-pw-${randomBytes(8).toString("hex")}`;
const TOKEN = `tok-${randomBytes(12).toString("hex")}`;
const WRONG_TOKEN = `wrong-${randomBytes(12).toString("hex")}`;

/** Namespaces the fast simulated BMO serves (tens of ms per state). */
const FAST = ["scale", "adopt", "update", "fail", "badauth", "noinspect"];
/** Namespaces the slow one serves (seconds per host): the wait surely watches, time to drop watches and see finalizers. */
const SLOW = ["drop", "gone", "finalizers", "throttle", "flaky"];
/** Nobody reconciles here: hosts never leave their first state. */
const STUCK = "stuck";

type Provider = ReturnType<typeof rebuildProvider>;
interface Batch {
    readonly resource: RegisteredResource;
    readonly provider: Provider;
    readonly inputs: Record<string, any>;
}

function hostsFor(prefix: string, from: number, count: number, override: Partial<BmhSpec> = {}): BmhSpec[] {
    return Array.from({ length: count }, (_, k) => {
        const i = from + k;
        const hex = i.toString(16).padStart(4, "0");
        return {
            name: `${prefix}-${String(i).padStart(4, "0")}`,
            bootMac: `00:5c:52:31:${hex.slice(0, 2)}:${hex.slice(2)}`,
            bmcAddress: `redfish+http://192.168.111.1:${8001 + (i % 10)}/redfish/v1/Systems/27946b59-9e44-4fa7-8e91-f3527a${hex}aa`,
            bootMode: "legacy",
            online: true,
            ...override,
        };
    });
}

describe("BareMetalHostBatch (provider rebuilt from __provider) against the Kubernetes API test server", function () {
    this.timeout(120_000);
    let server: KubeApiTestServer;
    let fast: SimulatedBmo;
    let slow: SimulatedBmo;
    const batches: Record<string, Batch> = {};
    const logs: string[] = [];
    const thrown: string[] = [];
    const allOuts: Record<string, any>[] = [];
    const realLog = console.log;
    const realInfo = console.info;
    const realWarn = console.warn;
    const realError = console.error;

    const inNs = (namespace: string, since = 0): RequestLogEntry[] => server.requests.slice(since).filter((r) => r.namespace === namespace);
    const bmhsIn = (namespace: string) => server.store.list(BMH, { namespace });
    const secretsIn = (namespace: string) => server.store.list("secrets", { namespace, labelSelector: "app.kubernetes.io/managed-by=metal3-scale-lab" });
    const states = (namespace: string) => bmhsIn(namespace).map((h) => h.status?.provisioning?.state ?? "");

    async function create(b: Batch): Promise<{ id: string; outs: Record<string, any> }> {
        const res = await b.provider.create(b.inputs);
        allOuts.push(res.outs);
        return res as { id: string; outs: Record<string, any> };
    }

    async function expectBatchFailure(run: () => Promise<unknown>): Promise<Error & { id: string; properties: Record<string, any> }> {
        try {
            await run();
        } catch (err) {
            const e = err as Error & { id: string; properties: Record<string, any> };
            thrown.push(e.message);
            if (e.properties) allOuts.push(e.properties);
            return e;
        }
        throw new Error("expected the batch to fail");
    }

    before(async function () {
        // Only BMO's CRDs are installed: any other custom resource path is 404, as on a BMO-only cluster.
        server = new KubeApiTestServer({ namespaces: [...FAST, ...SLOW, STUCK], token: TOKEN, bookmarkIntervalMs: 250, crdGroups: ["metal3.io"] });
        await server.start();
        fast = new SimulatedBmo(server, { namespaces: FAST, delays: { registering: 20, inspecting: 40, preparing: 20, power: 10, poweringOffBeforeDelete: 10, deleting: 20 } });
        slow = new SimulatedBmo(server, {
            namespaces: SLOW,
            delays: { registering: 200, inspecting: 2000, preparing: 200, power: 50, poweringOffBeforeDelete: 400, deleting: 800 },
        });
        const kubeconfig = server.kubeconfigYaml();
        const common = { kubeconfig, bmcUsername: "admin", bmcPassword: PASSWORD, timeoutSeconds: 60, watchTimeoutSeconds: 30 };
        const declare = (key: string, args: ConstructorParameters<typeof BareMetalHostBatch>[1]) => new BareMetalHostBatch(key, args);
        const run = await runProgram(
            () => {
                for (let b = 0; b < 10; b++) {
                    declare(`scale-${b}`, { ...common, namespace: "scale", batch: b, hosts: hostsFor("scale", b * 50, 50) });
                }
                declare("adopt", { ...common, namespace: "adopt", batch: 0, hosts: hostsFor("adopt", 0, 20) });
                declare("noinspect", { ...common, namespace: "noinspect", batch: 0, hosts: hostsFor("noinspect", 0, 10, { inspectionMode: "disabled" }) });
                declare("update-v1", { ...common, label: "test/update", namespace: "update", batch: 0, hosts: hostsFor("update", 0, 20) });
                const v2 = [...hostsFor("update", 0, 17), ...hostsFor("update", 20, 2)].map((h) => (h.name === "update-0005" ? { ...h, online: false } : h));
                declare("update-v2", { ...common, label: "test/update", namespace: "update", batch: 0, hosts: v2 });
                declare("throttle", { ...common, namespace: "throttle", batch: 0, hosts: hostsFor("throttle", 0, 20) });
                declare("flaky", { ...common, namespace: "flaky", batch: 0, hosts: hostsFor("flaky", 0, 20) });
                declare("fail", { ...common, namespace: "fail", batch: 0, hosts: hostsFor("fail", 0, 20) });
                declare("badauth", { ...common, kubeconfig: kubeconfig.replace(TOKEN, WRONG_TOKEN), namespace: "badauth", batch: 0, hosts: hostsFor("badauth", 0, 5) });
                declare("drop", { ...common, namespace: "drop", batch: 0, hosts: hostsFor("drop", 0, 20) });
                declare("gone", { ...common, namespace: "gone", batch: 0, hosts: hostsFor("gone", 0, 20) });
                declare("finalizers", { ...common, namespace: "finalizers", batch: 0, hosts: hostsFor("finalizers", 0, 10) });
                declare("stuck", { ...common, namespace: STUCK, batch: 0, timeoutSeconds: 2, hosts: hostsFor("stuck", 0, 25) });
            },
            { stack: "test", config: {} },
        );
        for (const resource of run.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"))) {
            batches[resource.name] = { resource, provider: rebuildProvider(resource.inputs.__provider), inputs: resource.inputs };
        }
        const capture = (...args: unknown[]) => void logs.push(args.map(String).join(" "));
        console.log = console.info = console.warn = console.error = capture;
    });

    after(async () => {
        console.log = realLog;
        console.info = realInfo;
        console.warn = realWarn;
        console.error = realError;
        fast?.stop();
        slow?.stop();
        await server?.stop();
    });

    it("declares one dynamic resource per batch, with the credentials secret", () => {
        const b = batches["scale-0"].resource;
        assert.equal(Object.keys(batches).length, 22);
        assert.equal(b.type, "pulumi-nodejs:dynamic/enroll:BareMetalHostBatch");
        assert.ok(isSecretWrapper(b.rawInputs.kubeconfig), "kubeconfig is a secret input");
        assert.ok(isSecretWrapper(b.rawInputs.bmcPassword), "bmcPassword is a secret input");
        assert.deepEqual([...b.additionalSecretOutputs].sort(), ["bmcPassword", "kubeconfig"]);
        const plain = plainStrings(b.rawInputs).filter((s) => s !== b.inputs.__provider);
        assert.ok(!plain.some((s) => s.includes(PASSWORD) || s.includes(TOKEN)), "no credential outside secret wrappers");
        assert.equal(b.inputs.label, "test/bmh-batch-000");
        assert.equal(b.inputs.fieldManager, "metal3-scale-lab");
        assert.equal(b.inputs.targetState, "available");
        assert.equal(b.inputs.concurrency, 10);
    });

    it("check() accepts good inputs and rejects bad ones, naming the property", async () => {
        const { provider, inputs } = batches["adopt"];
        assert.deepEqual((await provider.check({}, inputs)).failures, []);
        const h = inputs.hosts[0];
        const cases: [Record<string, unknown>, string, RegExp][] = [
            [{ namespace: "Bad_NS" }, "namespace", /DNS-1123/],
            [{ kubeconfig: `token: ${TOKEN}\n  : [unclosed` }, "kubeconfig", /kubeconfig/],
            [{ kubeconfig: "apiVersion: v1\nkind: Config\n" }, "kubeconfig", /current context/],
            [{ bmcPassword: "" }, "bmcPassword", /non-empty/],
            [{ bmcUsername: undefined }, "bmcUsername", /non-empty/],
            [{ targetState: "ready" }, "targetState", /available/],
            [{ concurrency: 0 }, "concurrency", /at least|>= 1/],
            [{ timeoutSeconds: 0 }, "timeoutSeconds", /positive/],
            [{ batch: -1 }, "batch", /non-negative/],
            [{ fieldManager: "has space" }, "fieldManager", /printable/],
            [{ hosts: [] }, "hosts", /non-empty/],
            [{ hosts: [h, h] }, "hosts", /duplicate/],
            [{ hosts: [{ ...h, bootMac: "zz:zz" }] }, "hosts", /bootMac zz:zz is not a MAC/],
            [{ hosts: [{ ...h, bootMode: "bios" }] }, "hosts", /bootMode must be one of legacy, UEFI/],
            [{ hosts: [{ ...h, bmcAddress: "192.168.0.1" }] }, "hosts", /not a BMC URL/],
            [{ hosts: [{ ...h, name: "Upper_Case" }] }, "hosts", /DNS-1123/],
            [{ hosts: [{ ...h, online: "yes" }] }, "hosts", /online/],
        ];
        for (const [change, property, reason] of cases) {
            const { failures } = await provider.check({}, { ...inputs, ...change });
            const hit = (failures ?? []).find((f) => f.property === property);
            assert.ok(hit, `${JSON.stringify(change).slice(0, 60)} → a failure on ${property}; got ${JSON.stringify(failures)}`);
            assert.match(hit!.reason, reason);
            for (const f of failures ?? []) assert.ok(!f.reason.includes(TOKEN) && !f.reason.includes(PASSWORD), "check never quotes credentials");
        }
    });

    it("diff(): hosts added, removed or changed are an update (never a replace); connection-only changes are not", async () => {
        const { provider, inputs } = batches["adopt"];
        const { __provider: _, ...plain } = inputs;
        const olds = { ...plain, status: { ready: true, counts: { available: 20 }, failures: [], updatedAt: "" } };
        const hosts = inputs.hosts as BmhSpec[];
        const cases: [string, Record<string, unknown>, boolean][] = [
            ["unchanged", {}, false],
            ["hosts reordered", { hosts: [...hosts].reverse() }, false],
            ["host added", { hosts: [...hosts, ...hostsFor("adopt", 99, 1)] }, true],
            ["host removed", { hosts: hosts.slice(1) }, true],
            ["host changed", { hosts: hosts.map((h, i) => (i === 3 ? { ...h, bmcAddress: h.bmcAddress.replace("8004", "8099") } : h)) }, true],
            ["kubeconfig only", { kubeconfig: inputs.kubeconfig.replace(TOKEN, "another-token") }, false],
            ["concurrency/timeouts only", { concurrency: 3, timeoutSeconds: 999, watchTimeoutSeconds: 5 }, false],
            ["BMC password", { bmcPassword: "something-else" }, true],
        ];
        for (const [what, change, expected] of cases) {
            const d = await provider.diff("test/bmh-batch-000", olds, { ...inputs, ...change });
            assert.equal(d.changes, expected, what);
            assert.deepEqual(d.replaces ?? [], [], `${what}: never a replace`);
            assert.notEqual(d.deleteBeforeReplace, true);
        }
        const failed = await provider.diff("x", { ...olds, status: { ...olds.status, ready: false } }, inputs);
        assert.equal(failed.changes, true, "a batch recorded as failed is re-run");
    });

    it("brings 500 hosts in 10 batches of 50 to available and deletes them, with at most 3 requests per host", async () => {
        const scale = Array.from({ length: 10 }, (_, b) => batches[`scale-${b}`]);
        const t0 = Date.now();
        const created = await Promise.all(scale.map((b) => create(b)));
        const tCreated = Date.now();
        for (const [b, res] of created.entries()) {
            assert.equal(res.id, `test/bmh-batch-${String(b).padStart(3, "0")}`);
            assert.equal(res.outs.status.ready, true);
            assert.deepEqual(res.outs.status.counts, { available: 50 });
            assert.ok(!("__provider" in res.outs));
        }
        assert.equal(bmhsIn("scale").length, 500);
        assert.ok(states("scale").every((s) => s === "available"));
        assert.equal(secretsIn("scale").length, 500);
        const bmh = server.store.get(BMH, "scale", "scale-0042")!;
        assert.deepEqual(bmh.spec, {
            // defaulted by the CRD's schema (baremetal-operator@v0.13.2 metal3.io_baremetalhosts.yaml:82)
            automatedCleaningMode: "metadata",
            bmc: { address: scale[0].inputs.hosts[42].bmcAddress, credentialsName: "scale-0042-bmc-secret", disableCertificateVerification: false },
            bootMACAddress: scale[0].inputs.hosts[42].bootMac,
            bootMode: "legacy",
            online: true,
        });
        assert.deepEqual(bmh.metadata.labels, {
            "metal3-scale-lab/stack": "test",
            "metal3-scale-lab/batch": "test-bmh-batch-000",
            "metal3-scale-lab/batch-index": "0",
            "metal3-scale-lab/host": "scale-0042",
            "app.kubernetes.io/managed-by": "metal3-scale-lab",
        });
        const secret = server.store.get("secrets", "scale", "scale-0042-bmc-secret")!;
        assert.equal(secret.type, "Opaque");
        assert.equal(secret.metadata.labels["environment.metal3.io"], "baremetal");
        assert.equal(Buffer.from(secret.data.password, "base64").toString(), PASSWORD);
        assert.ok(bmh.metadata.managedFields.some((m: any) => m.manager === "metal3-scale-lab" && m.operation === "Apply"));

        const afterCreate = inNs("scale").length;
        for (const b of scale[0].inputs.hosts as BmhSpec[]) {
            assert.equal(server.requestsFor(b.name, { namespace: "scale" }).length, 1, `one apply for BMH ${b.name}`);
            assert.equal(server.requestsFor(`${b.name}-bmc-secret`, { namespace: "scale" }).length, 1, `one apply for ${b.name}'s Secret`);
        }
        await Promise.all(created.map((res, b) => scale[b].provider.delete(res.id, res.outs)));
        const tDeleted = Date.now();
        assert.equal(bmhsIn("scale").length, 0);
        assert.equal(secretsIn("scale").length, 0);
        const log = inNs("scale");
        const verbs = server.countsByVerb({ namespace: "scale" });
        realLog(
            `      500 hosts: created in ${tCreated - t0} ms with ${afterCreate} requests, deleted in ${tDeleted - tCreated} ms; ` +
                `${log.length} requests in all (${(log.length / 500).toFixed(2)} per host): ${JSON.stringify(verbs)}`,
        );
        assert.ok(log.length <= 3 * 500, `${log.length} requests for 500 hosts`);
        assert.equal(verbs.apply, 1000);
        assert.equal(log.filter((r) => r.status >= 400).length, 0);
        // Progress: the counts per state of each batch reach the user through console.log.
        for (let b = 0; b < 10; b++) {
            const label = `test/bmh-batch-${String(b).padStart(3, "0")}`;
            assert.ok(logs.some((l) => l.startsWith(`[${label}] 50 hosts: available 50`)), `progress of ${label}`);
            assert.ok(logs.some((l) => l.startsWith(`[${label} (deleting)] 50 hosts: deleted 50`)), `delete progress of ${label}`);
        }
    });

    it("create on hosts that exist already adopts them: no errors, no duplicates, no state reset", async () => {
        const b = batches["adopt"];
        const first = await create(b);
        assert.equal(first.outs.status.ready, true);
        const specs = () => bmhsIn("adopt").map((h) => [h.metadata.name, h.metadata.generation, h.spec, h.metadata.labels]);
        const before = specs();
        const mark = server.requests.length;
        const second = await create(b);
        assert.equal(second.id, first.id);
        assert.equal(second.outs.status.ready, true);
        assert.deepEqual(second.outs.status.counts, { available: 20 });
        assert.equal(bmhsIn("adopt").length, 20);
        assert.equal(secretsIn("adopt").length, 20);
        assert.deepEqual(specs(), before, "re-applying the same objects changes nothing");
        assert.ok(states("adopt").every((s) => s === "available"), "no host sent back through registration");
        const again = inNs("adopt", mark);
        assert.equal(again.filter((r) => r.status >= 400).length, 0);
        assert.ok(again.length <= 2 * 20 + 2, `${again.length} requests to adopt 20 hosts`);
    });

    it("applies spec.inspectionMode disabled (inspectHosts: false) and hosts skip inspection on their way to available", async () => {
        const b = batches["noinspect"];
        const { outs } = await create(b);
        assert.deepEqual(outs.status.counts, { available: 10 });
        for (const h of bmhsIn("noinspect")) {
            assert.equal(h.spec.inspectionMode, "disabled", h.metadata.name);
            assert.equal(h.status?.operationHistory?.inspect?.start ?? null, null, `${h.metadata.name} was inspected`);
        }
        const inspected = bmhsIn("adopt").filter((h) => h.status?.operationHistory?.inspect?.start);
        assert.equal(inspected.length, 20, "hosts without inspectionMode are inspected (BMO's default)");
        const bad = await b.provider.check({}, { ...b.inputs, hosts: hostsFor("noinspect", 0, 1, { inspectionMode: "off" as "disabled" }) });
        assert.match((bad.failures ?? []).map((f: { reason: string }) => f.reason).join("\n"), /inspectionMode must be one of agent, disabled; got off/);
    });

    it("re-applies a host deleted behind its back while it waits", async () => {
        const b = batches["adopt"];
        const { id, outs } = await create(b);
        server.store.delete(BMH, "adopt", "adopt-0007");
        await until("adopt-0007 to be gone", () => !server.store.get(BMH, "adopt", "adopt-0007"));
        const mark = server.requests.length;
        // Nothing changed in the inputs: only the wait notices the missing host.
        const res = await b.provider.update(id, outs, b.inputs);
        allOuts.push(res.outs!);
        assert.equal(res.outs!.status.ready, true);
        assert.equal(server.store.get(BMH, "adopt", "adopt-0007")?.status?.provisioning?.state, "available");
        const named = [...new Set(inNs("adopt", mark).filter((r) => r.name).map((r) => r.name))].sort();
        assert.deepEqual(named, ["adopt-0007", "adopt-0007-bmc-secret"]);
    });

    it("refresh (read) reports a host deleted behind its back with one list call, so the next up re-applies it", async () => {
        const b = batches["adopt"];
        const { outs } = await create(b);
        server.store.delete(BMH, "adopt", "adopt-0003");
        await until("adopt-0003 to be gone", () => !server.store.get(BMH, "adopt", "adopt-0003"));
        const mark = server.requests.length;
        const { props } = await b.provider.read(b.inputs.label, outs);
        allOuts.push(props!);
        assert.equal(props!.status.ready, false);
        assert.deepEqual(props!.status.counts, { absent: 1, available: 19 });
        assert.deepEqual(inNs("adopt", mark).map((r) => r.verb), ["list"]);
        assert.equal((await b.provider.diff(b.inputs.label, props, b.inputs)).changes, true);
    });

    it("update adds, removes and re-applies only the hosts that changed", async () => {
        const v1 = batches["update-v1"];
        const v2 = batches["update-v2"];
        const created = await create(v1);
        assert.equal(created.outs.status.ready, true);
        const diff = await v2.provider.diff(created.id, created.outs, v2.inputs);
        assert.equal(diff.changes, true);
        const mark = server.requests.length;
        const updated = await v2.provider.update(created.id, created.outs, v2.inputs);
        allOuts.push(updated.outs!);
        assert.equal(updated.outs!.status.ready, true);
        assert.deepEqual(updated.outs!.status.counts, { available: 19 });
        const log = inNs("update", mark);
        const named = [...new Set(log.filter((r) => r.name).map((r) => r.name))].sort();
        assert.deepEqual(named, ["update-0005", "update-0005-bmc-secret", "update-0020", "update-0020-bmc-secret", "update-0021", "update-0021-bmc-secret"]);
        const collections = log.filter((r) => r.verb === "deletecollection");
        assert.ok(collections.length >= 2);
        for (const r of collections) assert.match(r.query.labelSelector, /metal3-scale-lab\/host in \(update-0017,update-0018,update-0019\)/);
        assert.deepEqual(bmhsIn("update").map((h) => h.metadata.name).sort(), (v2.inputs.hosts as BmhSpec[]).map((h) => h.name).sort());
        assert.equal(secretsIn("update").length, 19);
        assert.equal(server.store.get(BMH, "update", "update-0005")!.spec.online, false);
        assert.ok(states("update").every((s) => s === "available"));
        const unchanged = await v2.provider.diff(created.id, updated.outs, v2.inputs);
        assert.equal(unchanged.changes, false);
    });

    it("resumes a dropped watch from its last resourceVersion", async () => {
        const b = batches["drop"];
        const running = create(b);
        await until("the watch to open", () => server.activeWatches > 0 && inNs("drop").some((r) => r.verb === "watch"));
        // Let the watch see a few events and bookmarks (every 250 ms) before cutting it.
        await sleep(600);
        assert.ok(states("drop").some((s) => s !== "available"), "still waiting when the watch drops");
        assert.ok(server.faults.dropWatches() >= 1);
        const res = await running;
        assert.equal(res.outs.status.ready, true);
        const watches = inNs("drop").filter((r) => r.verb === "watch");
        assert.equal(inNs("drop").filter((r) => r.verb === "list").length, 1, "no relist needed");
        assert.ok(watches.length >= 2, `${watches.length} watches`);
        const [first, resumed] = watches;
        assert.ok(first.query.resourceVersion && resumed.query.resourceVersion);
        assert.ok(Number(resumed.query.resourceVersion) >= Number(first.query.resourceVersion), "resumed from the last resourceVersion seen");
        assert.ok(watches.every((w) => w.query.resourceVersion !== "0"), "never a watch from scratch");
    });

    it("relists when the resumed watch is answered 410 Gone", async () => {
        const b = batches["gone"];
        const running = create(b);
        await until("the watch to open", () => server.activeWatches > 0 && inNs("gone").some((r) => r.verb === "watch"));
        await until("some progress", () => states("gone").some((s) => s === "inspecting"));
        // Drop, write something, then forget history: the resumed watch's resourceVersion is too old.
        server.faults.dropWatches();
        server.store.create("configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `bump-${Date.now()}`, namespace: "default" } });
        server.faults.compact();
        const res = await running;
        assert.equal(res.outs.status.ready, true);
        assert.equal(inNs("gone").filter((r) => r.verb === "list").length, 2, "one list, one relist after 410");
    });

    it("survives a burst of 429s, waiting as long as Retry-After says", async () => {
        const b = batches["throttle"];
        server.faults.throttle(2, 1, { namespace: "throttle", verb: "watch" });
        server.faults.throttle(20, 1, { namespace: "throttle" });
        const res = await create(b);
        assert.equal(res.outs.status.ready, true);
        const log = inNs("throttle");
        assert.equal(log.filter((r) => r.status === 429).length, 22);
        assert.ok(log.filter((r) => r.verb === "watch" && r.status === 200).length >= 1);
        // Each throttled object was retried no sooner than Retry-After.
        for (const r of log.filter((x) => x.status === 429 && x.name)) {
            const next = log.find((x) => x.name === r.name && x.at > r.at && x.status < 300)!;
            assert.ok(next, `${r.name} retried`);
            assert.ok(next.at - r.at >= 950, `${r.name} retried after ${next.at - r.at} ms`);
        }
    });

    it("survives a burst of 5xx answers (backoff with jitter)", async () => {
        const b = batches["flaky"];
        server.faults.fail(10, 503, { namespace: "flaky", verb: "apply" });
        server.faults.fail(3, 500, { namespace: "flaky", verb: "list" });
        server.faults.fail(2, 504, { namespace: "flaky", verb: "watch" });
        const res = await create(b);
        assert.equal(res.outs.status.ready, true);
        assert.deepEqual(res.outs.status.counts, { available: 20 });
        assert.equal(inNs("flaky").filter((r) => r.status >= 500).length, 15);
    });

    it("fails the batch when a host is stuck in error, naming it with its state and message; the next update resumes", async () => {
        const b = batches["fail"];
        fast.failHost("fail-0003", { state: "inspecting", errorType: "inspection error", errorMessage: "timeout reaching the BMC at 192.168.111.1:8004" });
        const err = await expectBatchFailure(() => create(b));
        assert.equal(err.name, "BatchFailedError");
        assert.match(err.message, /fail-0003: inspecting: inspection error: timeout reaching the BMC at 192\.168\.111\.1:8004/);
        assert.match(err.message, /1 of 20 hosts not available/);
        assert.equal(err.id, "test/bmh-batch-000");
        assert.equal(err.properties.status.ready, false);
        assert.deepEqual(err.properties.status.counts, { available: 19, "inspecting (error)": 1 });
        assert.deepEqual(err.properties.status.failures, [{ name: "fail-0003", state: "inspecting", error: "inspection error: timeout reaching the BMC at 192.168.111.1:8004" }]);
        assert.equal(bmhsIn("fail").length, 20, "nothing deleted on failure");
        // Recorded as failed: the next up diffs as a change and update resumes.
        assert.equal((await b.provider.diff(err.id, err.properties, b.inputs)).changes, true);
        fast.clearFailure();
        const resumed = await b.provider.update(err.id, err.properties, b.inputs);
        allOuts.push(resumed.outs!);
        assert.equal(resumed.outs!.status.ready, true);
        assert.deepEqual(resumed.outs!.status.counts, { available: 20 });
    });

    it("fails when the deadline passes, listing the hosts still waiting", async () => {
        const b = batches["stuck"];
        const t0 = Date.now();
        const err = await expectBatchFailure(() => create(b));
        assert.ok(Date.now() - t0 < 6000, "the provider enforces its own deadline");
        assert.match(err.message, /deadline of 2s passed/);
        assert.match(err.message, /25 of 25 hosts not available/);
        assert.match(err.message, /stuck-0000: new: still waiting/);
        assert.match(err.message, /\.\.\. and 5 more/);
        assert.equal(err.properties.status.ready, false);
        // Nobody holds these hosts: delete is immediate.
        await b.provider.delete(err.id, err.properties);
        assert.equal(bmhsIn(STUCK).length, 0);
        assert.equal(secretsIn(STUCK).length, 0);
    });

    it("stops at once on an authentication error, without quoting the token", async () => {
        const err = await expectBatchFailure(() => create(batches["badauth"]));
        assert.match(err.message, /401/);
        assert.ok(!err.message.includes(WRONG_TOKEN) && !err.message.includes(TOKEN));
        assert.equal(bmhsIn("badauth").length, 0);
    });

    it("delete waits for BMO's finalizers, leaves no BMH or Secret, and succeeds again on a deleted batch", async () => {
        const b = batches["finalizers"];
        const res = await create(b);
        assert.equal(res.outs.status.ready, true);
        let finished = false;
        const deleting = b.provider.delete(res.id, res.outs).then(() => (finished = true));
        await until("deletion to start", () => bmhsIn("finalizers").every((h) => h.metadata.deletionTimestamp));
        await sleep(50);
        assert.equal(finished, false, "delete still waiting");
        assert.equal(bmhsIn("finalizers").length, 10, "hosts held by BMO's finalizer");
        assert.ok(bmhsIn("finalizers").every((h) => h.metadata.finalizers?.includes("baremetalhost.metal3.io")));
        assert.equal(secretsIn("finalizers").length, 10, "Secrets kept while BMO may need them");
        await deleting;
        assert.equal(bmhsIn("finalizers").length, 0);
        assert.equal(secretsIn("finalizers").length, 0);
        const mark = server.requests.length;
        await b.provider.delete(res.id, res.outs);
        assert.ok(inNs("finalizers", mark).length <= 4);
    });

    it("observes later lifecycle states as the target (adoption of claimed hosts)", () => {
        assert.deepEqual(doneStates("available"), ["available", "provisioning", "provisioned", "deprovisioning", "externally provisioned"]);
        const host = (state: string, extra: Record<string, unknown> = {}) => ({ metadata: { name: "h" }, status: { provisioning: { state }, operationalStatus: "OK", ...extra } });
        assert.deepEqual(observeBmh(host("provisioned"), "available"), { state: "available" });
        assert.deepEqual(observeBmh(host("inspecting"), "available"), { state: "inspecting" });
        assert.deepEqual(observeBmh({ metadata: { name: "h" } }, "available"), { state: "new" });
        assert.deepEqual(observeBmh(host("registering", { operationalStatus: "error", errorType: "registration error", errorMessage: "bad creds", errorCount: 4 }), "available"), {
            state: "registering",
            error: "registration error: bad creds",
        });
        assert.equal(labelValue("dev/bmh-batch-003"), "dev-bmh-batch-003");
        assert.equal(parseRetryAfter("2"), 2000);
        assert.equal(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 5)).toUTCString(), Date.UTC(2030, 0, 1)), 5000);
        assert.equal(parseRetryAfter(undefined), undefined);
        for (let attempt = 1; attempt <= 10; attempt++) {
            const ms = backoffMs(attempt, 250, 10_000);
            const ceiling = Math.min(10_000, 250 * 2 ** (attempt - 1));
            assert.ok(ms >= ceiling / 2 && ms <= ceiling, `attempt ${attempt}: ${ms} ms`);
        }
        assert.equal(redactText(`x ${PASSWORD} y`, [PASSWORD]), "x *** y");
        assert.ok(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(labelValue(`${"x".repeat(80)}/batch`)));
    });

    it("never shows the BMC password or the token in errors, progress or plain outputs", () => {
        assert.ok(logs.length > 0 && thrown.length >= 3 && allOuts.length > 10);
        for (const text of [...logs, ...thrown]) {
            assert.ok(!text.includes(PASSWORD) && !text.includes(TOKEN) && !text.includes(WRONG_TOKEN), `leak in: ${text.slice(0, 120)}`);
        }
        for (const outs of allOuts) {
            const { kubeconfig, bmcPassword, ...rest } = outs;
            assert.ok(kubeconfig && bmcPassword, "kept (the engine marks them secret)");
            assert.ok(!plainStrings(rest).some((s) => s.includes(PASSWORD) || s.includes(TOKEN)), "no credential outside the secret-marked keys");
        }
    });
});
