// IronicNodeBatch as Pulumi runs it (rebuilt from `__provider`) against a real
// Ironic: MariaDB + 3 API/conductor pairs from Debian packages, TLS and basic auth.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadLabConfig } from "../components/config/load";
import { buildInventory, Host, planBatches } from "../components/inventory/inventory";
import { IronicNodeBatch, IronicNodeSpec } from "../components/enroll/ironicNodeBatch";
import { IronicNodeEntry, withHostsInFull } from "../components/enroll/nodeDefaults";
import { fakeHardwareNodeDefaults, fakeHardwareNodeEntry, fakeHardwareNodeSpec } from "../components/enroll/specs";
import { eventsFile, RecordEvent } from "../components/record/format";
import { pathClass } from "../components/record/pathClass";
import { createRun } from "../components/record/run";
import { captureDynamicResources, CapturedResource } from "./support/capturedProvider";
import { batchAccess, IronicLab, ServedRequest } from "./support/ironicLocal";
import { realIronicSuite } from "./support/ironicSuite";
import { filesUnder, readEvents } from "./support/runRecord";

describe("IronicNodeBatch against a real Ironic with 3 conductors @real", function () {
    this.timeout(600_000);
    let lab: IronicLab;
    const cfg = loadLabConfig({ mode: "ironic", nodes: "210", hostsPerSushy: "100" }, "ironic-real");
    const inventory = buildInventory(cfg);
    // The run record of these tests (as `pulumi up` would make it), in a temp runs root.
    const runsRoot = fs.mkdtempSync(path.join(os.tmpdir(), "ironic-real-runs-"));
    const runDir = createRun(cfg, { root: runsRoot });
    let servedForCreate: ServedRequest[] = [];

    const logs = realIronicSuite({ conductors: 3, tls: true }, (started) => (lab = started));
    after(() => fs.rmSync(runsRoot, { recursive: true, force: true }));

    async function declareBatches(hosts: readonly Host[], overrides: Partial<Record<string, unknown>> = {}): Promise<CapturedResource[]> {
        return captureDynamicResources(() => {
            for (const batch of planBatches(hosts, 50)) {
                new IronicNodeBatch(`ironic-batch-${batch.index}`, {
                    label: `ironic-real/ironic-batch-${batch.index}`,
                    hosts: batch.hosts.map(fakeHardwareNodeEntry),
                    nodeDefaults: fakeHardwareNodeDefaults(),
                    targetState: "available",
                    timeoutSeconds: 240,
                    ...batchAccess(lab),
                    runDir,
                    ...overrides,
                });
            }
        });
    }

    const first200 = () => inventory.slice(0, 200);
    let batches: CapturedResource[];
    const outs: Record<string, any>[] = [];

    it("brings 200 hosts in 4 batches of 50 to available, each node once, spread over all 3 conductors", async () => {
        const servedBefore = lab.requestsServedOverTls();
        const answersBefore = lab.servedOverTls().length;
        batches = await declareBatches(first200());
        assert.equal(batches.length, 4);
        for (const b of batches) {
            const checked = await b.provider.check({}, b.inputs);
            assert.deepEqual(checked.failures, []);
            const created = await b.provider.create(checked.inputs);
            assert.equal(created.id, b.inputs.label);
            assert.equal(created.outs.status.ready, true, JSON.stringify(created.outs.status));
            outs.push(created.outs);
        }
        servedForCreate = lab.servedOverTls().slice(answersBefore);
        // Each host runs its own pipeline: the first hosts are managed while the batch's last ones are still being created.
        const firstBatch = servedForCreate.slice(0, servedForCreate.findIndex((r) => r.method === "POST" && r.path === "/v1/nodes" && r.status === 201) + 1 + 200);
        const lastCreate = firstBatch.map((r) => r.method === "POST" && r.path === "/v1/nodes").lastIndexOf(true);
        const firstManage = firstBatch.findIndex((r) => r.method === "PUT" && r.path.endsWith("/states/provision"));
        assert.ok(firstManage >= 0 && firstManage < lastCreate, `first provision request at answer ${firstManage}, last node created at ${lastCreate}`);
        const nodes = await lab.listNodes();
        assert.equal(nodes.length, 200);
        assert.equal(new Set(nodes.map((n) => n.name)).size, 200);
        assert.ok(nodes.every((n) => n.provision_state === "available"), "every node available");
        const perConductor = new Map<string, number>();
        for (const n of nodes) perConductor.set(String(n.conductor), (perConductor.get(String(n.conductor)) ?? 0) + 1);
        assert.deepEqual([...perConductor.keys()].sort(), [...lab.conductorHosts].sort(), `nodes per conductor: ${JSON.stringify([...perConductor])}`);
        // API calls were spread over every conductor's API (round robin), not sent to one.
        const served = lab.requestsServedOverTls().map((n, i) => n - servedBefore[i]);
        const total = served.reduce((a, b) => a + b, 0);
        assert.ok(served.every((n) => n > total / 6), `requests per API endpoint: ${served.join(", ")}`);
        // Per host: create, port, manage, inspect, provide; progress is one list per poll (shared by the batches in flight), never a call per host
        // (the record's conductor look-ups included).
        assert.ok(total < 6 * 200, `${total} requests for 200 hosts`);
        // Progress was shown, and no credential ever reached the output.
        assert.ok(logs.some((l) => /\[ironic-real\/ironic-batch-0\] 50 hosts: available 50/.test(l)), logs.join("\n"));
        assert.ok(!logs.some((l) => l.includes(lab.password)), "password printed");
        assert.ok(!JSON.stringify(outs.map((o) => o.status)).includes(lab.password));
    });

    it("recorded the run: every host's transitions with time and conductor, every request with status and latency, each operation", async () => {
        const nodes = await lab.listNodes();
        const conductorOf = new Map(nodes.map((n) => [n.name, n.conductor]));
        const requests: RecordEvent[] = [];
        for (const b of batches) {
            const events = readEvents(path.join(runDir, eventsFile(b.inputs.label)));
            const ops = events.filter((e) => e.kind === "op");
            assert.deepEqual(ops.map((e) => e.kind === "op" && [e.op, e.phase, e.units, e.unit, e.ready]), [["create", "start", 50, "hosts", undefined], ["create", "end", 50, "hosts", true]]);
            const [start, end] = [ops[0].t, ops[1].t];
            for (const h of b.inputs.hosts as IronicNodeSpec[]) {
                const moves = events.filter((e) => e.kind === "transition" && e.name === h.name);
                const path_ = moves.map((e) => e.kind === "transition" && e.to);
                assert.equal(path_.at(-1), "available", `${h.name}: ${path_.join(" -> ")}`);
                assert.ok(path_.includes("manageable") && moves.length >= 3, `${h.name}: ${path_.join(" -> ")}`);
                for (const [k, e] of moves.entries()) {
                    if (e.kind !== "transition") continue;
                    assert.equal(e.batch, b.inputs.label);
                    assert.equal(e.from, k === 0 ? null : (moves[k - 1] as { to: string }).to);
                    assert.ok(e.t >= start && e.t <= end && (k === 0 || e.t >= moves[k - 1].t), `${h.name}: transition times in order within the operation`);
                    assert.equal(e.conductor, conductorOf.get(h.name), `${h.name}: conductor`);
                }
            }
            assert.equal(events.filter((e) => e.kind === "failure").length, 0);
            requests.push(...events.filter((e) => e.kind === "request"));
        }
        // Every request the batches sent, as Ironic's endpoints answered it: same method, path class and status.
        const key = (method: string, p: string, status: number) => `${method} ${p} ${status}`;
        const recorded = requests.map((e) => (e.kind === "request" ? key(e.method, e.path, e.status) : "")).sort();
        const answered = servedForCreate.map((r) => key(r.method, pathClass("ironic", r.path), r.status)).sort();
        assert.deepEqual(recorded, answered);
        assert.ok(requests.every((e) => e.kind === "request" && e.api === "ironic" && e.ms > 0 && e.ms < 60_000));
        // Conductors come from Ironic's create answers; look-ups cost one list now and then per batch (none in a
        // run shorter than their refresh interval), never a request per host: the conductors above came from somewhere.
        const lookUps = requests.filter((e) => e.kind === "request" && e.path === "/v1/nodes/detail").length;
        assert.ok(lookUps <= 4 * 10, `${lookUps} conductor look-ups`);
        assert.ok(requests.length <= 6 * 200, `${requests.length} requests for 200 hosts (${lookUps} conductor look-ups)`);
        for (const file of filesUnder(runsRoot)) {
            const text = fs.readFileSync(file, "utf8");
            assert.ok(!text.includes(lab.password), `${file} holds the Ironic password`);
        }
    });

    it("adopts existing nodes when create runs again (no duplicates, no errors)", async () => {
        const before = await lab.listNodes();
        const again = await batches[0].provider.create(batches[0].inputs);
        assert.equal(again.outs.status.ready, true);
        const after = await lab.listNodes();
        assert.equal(after.length, 200);
        assert.deepEqual(after.map((n) => n.uuid).sort(), before.map((n) => n.uuid).sort());
    });

    it("diff: hosts added, removed or changed are an update of the batch, never a replace; connection changes are not", async () => {
        const b = batches[3];
        const old = outs[3];
        const same = await b.provider.diff(b.inputs.label, old, b.inputs);
        assert.equal(same.changes, false);
        const moved = await b.provider.diff(b.inputs.label, old, { ...b.inputs, endpoints: lab.endpoints.slice(0, 2) });
        assert.equal(moved.changes, false, "a different endpoint list alone changes no host");
        const fewer = await b.provider.diff(b.inputs.label, old, { ...b.inputs, hosts: b.inputs.hosts.slice(1) });
        assert.equal(fewer.changes, true);
        assert.deepEqual(fewer.replaces, []);
        const changed = b.inputs.hosts.map((h: IronicNodeSpec, i: number) => (i === 0 ? { ...h, properties: { cpu_arch: "aarch64" } } : h));
        assert.equal((await b.provider.diff(b.inputs.label, old, { ...b.inputs, hosts: changed })).changes, true);
        assert.equal((await b.provider.diff(b.inputs.label, { ...old, status: { ...old.status, ready: false } }, b.inputs)).changes, true, "a failed batch is re-run");
    });

    it("update adding 10 hosts and removing 10 touches only those", async () => {
        const b = batches[3];
        const untouched = await lab.listNodes();
        const updatedAt = new Map(untouched.map((n) => [n.uuid, n.updated_at]));
        const removed = b.inputs.hosts.slice(40) as IronicNodeSpec[];
        const added = inventory.slice(200, 210).map(fakeHardwareNodeSpec);
        const news = { ...b.inputs, hosts: [...b.inputs.hosts.slice(0, 40), ...added] };
        const result = await b.provider.update(b.inputs.label, outs[3], news);
        assert.equal(result.outs!.status.ready, true);
        outs[3] = result.outs!;
        const nodes = await lab.listNodes();
        assert.equal(nodes.length, 200);
        const names = new Set(nodes.map((n) => n.name));
        for (const h of removed) assert.ok(!names.has(h.name), `${h.name} removed`);
        for (const h of added) assert.ok(names.has(h.name), `${h.name} added`);
        const changedOthers = nodes.filter((n) => updatedAt.has(n.uuid) && n.updated_at !== updatedAt.get(n.uuid));
        assert.deepEqual(changedOthers.map((n) => n.name), [], "hosts outside the change were not touched");
        batches[3] = { ...b, inputs: news };
    });

    it("refresh (read) sees a node deleted behind the batch's back; the next update recreates it", async () => {
        const b = batches[2];
        const victim = b.inputs.hosts[7] as IronicNodeSpec;
        const gone = await lab.request("DELETE", `/v1/nodes/${victim.uuid}`);
        assert.equal(gone.status, 204);
        const { props } = await b.provider.read(b.inputs.label, { ...outs[2], ...b.inputs });
        assert.equal(props.status.ready, false);
        assert.deepEqual(props.status.counts, { absent: 1, available: 49 });
        assert.equal((await b.provider.diff(b.inputs.label, props, b.inputs)).changes, true);
        const result = await b.provider.update(b.inputs.label, props, b.inputs);
        assert.equal(result.outs!.status.ready, true);
        outs[2] = result.outs!;
        const node = (await lab.listNodes()).find((n) => n.uuid === victim.uuid);
        assert.equal(node?.provision_state, "available");
    });

    it("a stack's state from before node defaults (every host in full) diffs, refreshes, updates and deletes as the same hosts", async () => {
        const b = batches[1];
        const label = b.inputs.label;
        const stored = withHostsInFull(outs[1]);
        assert.deepEqual(stored.hosts[0], fakeHardwareNodeSpec(inventory[50]));
        assert.equal((await b.provider.diff(label, stored, b.inputs)).changes, false, "the next up changes nothing");
        const { props } = await b.provider.read(label, stored);
        assert.deepEqual([props.status.ready, props.status.counts], [true, { available: 50 }]);
        assert.deepEqual(props.hosts, stored.hosts, "a refresh keeps the stored shape");
        // The next up changes one host, declared the new way: only its node is touched.
        const updatedAt = new Map((await lab.listNodes()).map((n) => [n.uuid, n.updated_at]));
        const news = { ...b.inputs, hosts: b.inputs.hosts.map((h: IronicNodeEntry, i: number) => (i === 0 ? { ...h, properties: { cpu_arch: "aarch64" } } : h)) };
        const result = await b.provider.update(label, props, news);
        assert.equal(result.outs!.status.ready, true);
        assert.deepEqual([result.outs!.hosts, result.outs!.nodeDefaults], [news.hosts, b.inputs.nodeDefaults], "outputs take the declared shape");
        const touched = (await lab.listNodes()).filter((n) => n.updated_at !== updatedAt.get(n.uuid)).map((n) => n.name);
        assert.deepEqual(touched, [news.hosts[0].name]);
        assert.deepEqual((await lab.getNode(news.hosts[0].uuid)).properties, { cpu_arch: "aarch64" });
        // `pulumi destroy` of that state: the final test finds the batch gone.
        await b.provider.delete(label, withHostsInFull(result.outs!));
        const left = new Set((await lab.listNodes()).map((n) => n.uuid));
        assert.deepEqual(news.hosts.filter((h: IronicNodeEntry) => left.has(h.uuid)), []);
        assert.equal(left.size, 150);
        [outs[1], batches[1]] = [result.outs!, { ...b, inputs: news }];
    });

    it("records a batch whose deadline passed as created-but-failed, and the next update resumes it", async () => {
        const [slow] = await declareBatches(inventory.slice(0, 50).map((h) => ({ ...h, name: h.name.replace("host", "late"), uuid: h.uuid.replace(/^.{8}/, "0000aaaa") })) as Host[], {
            label: "ironic-real/late-batch",
            timeoutSeconds: 1,
        });
        let failure: any;
        try {
            await slow.provider.create(slow.inputs);
        } catch (err) {
            failure = err;
        }
        assert.ok(failure, "create must fail when the deadline passes");
        assert.equal(failure.id, "ironic-real/late-batch");
        assert.equal(failure.properties.status.ready, false);
        assert.match(failure.message, /deadline of 1s passed: \d+ of 50 hosts not available/);
        assert.match(failure.message, /late-00\d{3}: [a-z ]+: still waiting/);
        assert.ok((failure.message.match(/^ {2}- /gm) ?? []).length <= 20, "at most 20 hosts listed");
        assert.ok(!failure.message.includes(lab.password));
        // The record has every one of them, whole.
        const notDone = Number(/: (\d+) of 50 hosts not available/.exec(failure.message)![1]);
        const failures = readEvents(path.join(runDir, eventsFile("ironic-real/late-batch"))).filter((e) => e.kind === "failure");
        assert.equal(failures.length, notDone);
        assert.ok(failures.every((f) => f.kind === "failure" && f.error === "still waiting" && /late-/.test(f.name)));
        // Nothing was deleted on failure: the next `pulumi up` diffs, sees the failed status, and updates.
        assert.equal((await slow.provider.diff(failure.id, failure.properties, slow.inputs)).changes, true);
        const resumed = await slow.provider.update(failure.id, failure.properties, { ...slow.inputs, timeoutSeconds: 240 });
        assert.equal(resumed.outs!.status.ready, true);
        assert.equal((await lab.listNodes()).filter((n) => n.name?.includes("-late-")).length, 50, "no duplicates after resume");
        await slow.provider.delete(failure.id, resumed.outs!);
    });

    it("delete removes every node of each batch and waits, the 4 batches at once sharing node lists; deleting again succeeds", async () => {
        const answersBefore = lab.servedOverTls().length;
        await Promise.all(batches.map((b, i) => b.provider.delete(b.inputs.label, { ...outs[i], ...b.inputs })));
        assert.equal((await lab.listNodes()).length, 0);
        // One list served several batches at once (the batches' common marker prefix), not one list per batch per poll.
        const lists = lab.servedOverTls().slice(answersBefore).filter((r) => r.method === "GET" && r.path === "/v1/nodes");
        const shared = `description_contains=${encodeURIComponent("[metal3-scale-lab:ironic-real/ironic-batch-")}&`;
        assert.ok(lists.some((r) => r.query.includes(shared)), lists.map((r) => decodeURIComponent(r.query)).join("\n"));
        await batches[0].provider.delete(batches[0].inputs.label, outs[0]);
    });
});
