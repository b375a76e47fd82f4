// The batch core without any system behind it: host diff, tracker, Ironic state decisions, provider flow.
import { strict as assert } from "assert";
import { makeBatchProvider, HostDriver, BatchInputs } from "../components/enroll/batchProvider";
import { diffHosts } from "../components/enroll/hostDiff";
import { MAX_RETRIES, nextDeleteAction, nextEnrollAction } from "../components/enroll/ironicStates";
import { HostTracker, HostTransition } from "../components/enroll/tracker";
import type { IronicNode } from "../components/enroll/ironicApi";

const node = (provision_state: string, extra: Partial<IronicNode> = {}): IronicNode => ({
    uuid: "u1",
    name: "h1",
    provision_state,
    target_provision_state: null,
    last_error: null,
    maintenance: false,
    maintenance_reason: null,
    fault: null,
    inspection_finished_at: null,
    ...extra,
});

describe("batch core", () => {
    it("diffs hosts by name, ignoring key order", () => {
        const a = { name: "a", x: 1, y: 2 };
        const d = diffHosts([a, { name: "b", x: 1 }], [{ y: 2, x: 1, name: "a" }, { name: "c", x: 1 }]);
        assert.deepEqual(d.unchanged.map((h) => h.name), ["a"]);
        assert.deepEqual(d.added.map((h) => h.name), ["c"]);
        assert.deepEqual(d.removed.map((h) => h.name), ["b"]);
        assert.deepEqual(diffHosts([a], [{ ...a, x: 2 }]).changed.map((h) => h.name), ["a"]);
    });

    it("tracks transitions with timestamps for observers and prints progress at least every 30 s", () => {
        let now = 0;
        const lines: string[] = [];
        const seen: HostTransition[] = [];
        const t = new HostTracker("lab/b0", ["h1", "h2"], ["available"], { now: () => now, log: (l) => lines.push(l), observers: [{ onTransition: (x) => seen.push(x) }], heartbeatMs: 60_000 });
        t.observe("h1", { state: "registering" });
        t.observe("h1", { state: "registering" });
        t.report();
        now = 1000;
        t.observe("h1", { state: "available" });
        t.report(); // changed, but within minIntervalMs of the last line
        now = 31_000;
        t.report(); // heartbeat capped at 30 s
        t.observe("h2", { state: "inspecting", error: "power failure" });
        assert.deepEqual(seen.map((s) => [s.host, s.from, s.to, s.at]), [["h1", undefined, "registering", 0], ["h1", "registering", "available", 1000], ["h2", undefined, "inspecting", 31_000]]);
        assert.equal(lines.length, 2);
        assert.match(lines[1], /\[lab\/b0\] 2 hosts: available 1, unseen 1 \(31s elapsed\)/);
        assert.ok(t.settled());
        assert.deepEqual(t.failures(), [{ name: "h2", state: "inspecting", error: "power failure" }]);
        assert.match(t.describeFailures("hosts failed"), /1 of 2 hosts not available:\n {2}- h2: inspecting: power failure$/);
    });

    it("lists the first 20 failing hosts, then a count", () => {
        const names = Array.from({ length: 25 }, (_, i) => `h${i}`);
        const t = new HostTracker("b", names, ["available"], { log: () => undefined });
        names.forEach((n) => t.observe(n, { state: "inspecting", error: "boom" }));
        const text = t.describeFailures("hosts failed");
        assert.equal((text.match(/^ {2}- /gm) ?? []).length, 20);
        assert.match(text, /\.\.\. and 5 more$/);
    });

    // Targets as Ironic keeps them (ironic/common/states.py add_state(..., target=...)):
    // failure states keep the target of the operation that failed.
    const inspectFailed = (extra: Partial<IronicNode> = {}) => node("inspect failed", { target_provision_state: "manageable", last_error: "no BMC", ...extra });

    it("decides the next Ironic action from a node's state alone", () => {
        const goal = { target: "available" as const, inspect: true, retries: {} };
        assert.equal(nextEnrollAction(undefined, goal).action, "create");
        assert.equal(nextEnrollAction(node("enroll"), goal).action, "manage");
        assert.equal(nextEnrollAction(node("verifying", { target_provision_state: "manageable" }), goal).action, "wait");
        assert.equal(nextEnrollAction(node("inspect wait", { target_provision_state: "manageable" }), goal).action, "wait");
        assert.equal(nextEnrollAction(node("manageable"), goal).action, "inspect");
        assert.equal(nextEnrollAction(node("manageable"), { ...goal, inspect: false }).action, "provide", "inspectHosts: false skips inspection");
        assert.equal(nextEnrollAction(node("manageable", { inspection_finished_at: "t" }), goal).action, "provide");
        assert.equal(nextEnrollAction(node("manageable", { inspection_finished_at: "t" }), { ...goal, target: "manageable" }).action, "done");
        assert.equal(nextEnrollAction(node("available"), goal).action, "done");
    });

    it("retries a failure Ironic lets us leave, at most MAX_RETRIES times, although Ironic keeps its target", () => {
        const goal = (tries: number, inspect = true) => ({ target: "available" as const, inspect, retries: { u1: tries } });
        assert.equal(MAX_RETRIES, 2);
        assert.deepEqual(nextEnrollAction(inspectFailed(), goal(0)), { action: "inspect", retrying: "no BMC" });
        assert.deepEqual(nextEnrollAction(inspectFailed(), goal(MAX_RETRIES - 1)), { action: "inspect", retrying: "no BMC" });
        assert.deepEqual(nextEnrollAction(inspectFailed(), goal(MAX_RETRIES)), { action: "failed", error: "no BMC" });
        assert.equal(nextEnrollAction(inspectFailed(), goal(0, false)).action, "manage", "without inspection, leave inspect failed by manage");
        // A failed verification returns the node to enroll with last_error (and no target).
        assert.deepEqual(nextEnrollAction(node("enroll", { last_error: "bad credentials" }), goal(0)), { action: "manage", retrying: "bad credentials" });
        assert.deepEqual(nextEnrollAction(node("enroll", { last_error: "bad credentials" }), goal(MAX_RETRIES)), { action: "failed", error: "bad credentials" });
        // clean failed (target available): manage, then lift the maintenance Ironic set for the failed clean step, then provide.
        const cleanFailed = node("clean failed", { target_provision_state: "available", last_error: "step failed", maintenance: true, fault: "clean failure" });
        assert.deepEqual(nextEnrollAction(cleanFailed, goal(0)), { action: "manage", retrying: "step failed" });
        assert.deepEqual(nextEnrollAction(cleanFailed, goal(MAX_RETRIES)), { action: "failed", error: "step failed" });
        const afterManage = node("manageable", { inspection_finished_at: "t", maintenance: true, fault: "clean failure" });
        assert.equal(nextEnrollAction(afterManage, goal(1)).action, "unmaintain");
        assert.deepEqual(nextEnrollAction(node("manageable", { inspection_finished_at: "t", maintenance: true, maintenance_reason: "operator" }), goal(0)), { action: "failed", error: "node is in maintenance: operator" });
    });

    it("fails at once, with Ironic's last_error, a failure state it cannot leave", () => {
        const goal = { target: "available" as const, inspect: true, retries: {} };
        assert.deepEqual(nextEnrollAction(node("deploy failed", { target_provision_state: "active", last_error: "no image" }), goal), { action: "failed", error: "no image" });
        assert.deepEqual(nextEnrollAction(node("adopt failed", { target_provision_state: "active" }), goal), { action: "failed", error: "node is in adopt failed" });
        assert.deepEqual(nextEnrollAction(node("rescue failed", { target_provision_state: "rescue", last_error: "x" }), goal), { action: "failed", error: "x" });
        assert.deepEqual(nextEnrollAction(node("error", { last_error: "tear down failed" }), goal), { action: "failed", error: "tear down failed" });
    });

    it("decides how to delete a node in any state, failure states (target kept) included", () => {
        assert.equal(nextDeleteAction(undefined).action, "gone");
        assert.equal(nextDeleteAction(node("available")).action, "delete");
        assert.equal(nextDeleteAction(node("enroll", { last_error: "bad credentials" })).action, "delete");
        assert.equal(nextDeleteAction(inspectFailed()).action, "maintenance");
        assert.equal(nextDeleteAction(inspectFailed({ maintenance: true })).action, "delete");
        assert.equal(nextDeleteAction(node("clean failed", { target_provision_state: "available" })).action, "maintenance");
        assert.equal(nextDeleteAction(node("clean failed", { target_provision_state: "available", maintenance: true })).action, "delete");
        assert.equal(nextDeleteAction(node("deploy failed", { target_provision_state: "active" })).action, "maintenance");
        assert.equal(nextDeleteAction(node("adopt failed", { target_provision_state: "active" })).action, "delete");
        assert.equal(nextDeleteAction(node("error")).action, "maintenance");
        assert.equal(nextDeleteAction(node("active")).action, "undeploy");
        assert.equal(nextDeleteAction(node("inspect wait", { target_provision_state: "manageable" })).action, "maintenance", "not aborted: an abort can fail and leave it waiting");
        assert.equal(nextDeleteAction(node("inspect wait", { target_provision_state: "manageable", maintenance: true })).action, "delete");
        assert.equal(nextDeleteAction(node("cleaning", { target_provision_state: "available" })).action, "wait");
    });

    describe("provider flow with an in-memory driver", () => {
        type H = { name: string; v: number };
        type I = BatchInputs<H> & { endpoint: string };
        const world = new Map<string, { v: number; state: string }>();
        const calls: string[] = [];
        let failing = new Set<string>();
        const driver: HostDriver<H, I> = {
            connectionKeys: ["endpoint", "timeoutSeconds"],
            check: (i) => (i.endpoint ? [] : [{ property: "endpoint", reason: "endpoint must be set" }]),
            async apply(_i, hosts) {
                for (const h of hosts) {
                    calls.push(`apply ${h.name}`);
                    world.set(h.name, { v: h.v, state: "ready" });
                }
            },
            async waitForHosts(i, { tracker }) {
                for (const h of i.hosts) tracker.observe(h.name, failing.has(h.name) ? { state: "broken", error: "it broke" } : { state: world.get(h.name)?.state ?? "absent" });
            },
            async observe(i, { tracker }) {
                for (const h of i.hosts) tracker.observe(h.name, { state: world.get(h.name)?.state ?? "absent" });
            },
            async remove(_i, hosts, { tracker }) {
                for (const h of hosts) {
                    calls.push(`remove ${h.name}`);
                    world.delete(h.name);
                    tracker.observe(h.name, { state: "deleted" });
                }
            },
        };
        const provider = makeBatchProvider(driver);
        const inputs = (names: string[], v = 1): I => ({ label: "t/b0", hosts: names.map((name) => ({ name, v })), targetState: "ready", timeoutSeconds: 5, endpoint: "e" });
        const quiet = <T>(fn: () => Promise<T>) => {
            const log = console.log;
            console.log = () => undefined;
            return fn().finally(() => (console.log = log));
        };

        beforeEach(() => {
            world.clear();
            calls.length = 0;
            failing = new Set();
        });

        it("checks shared and driver inputs", async () => {
            const r = await provider.check!({}, { ...inputs(["a", "a"]), endpoint: "", timeoutSeconds: 0 });
            assert.deepEqual(r.failures!.map((f) => f.property).sort(), ["endpoint", "hosts", "timeoutSeconds"]);
        });

        it("updates only added, changed and removed hosts", async () => {
            const { outs } = await quiet(() => provider.create!(inputs(["a", "b", "c"])));
            calls.length = 0;
            const news = { ...inputs(["a", "c", "d"]), hosts: [{ name: "a", v: 1 }, { name: "c", v: 2 }, { name: "d", v: 1 }] };
            const diff = await provider.diff!("t/b0", outs, news);
            assert.deepEqual([diff.changes, diff.replaces], [true, []]);
            await quiet(() => provider.update!("t/b0", outs, news));
            assert.deepEqual([calls[0], ...calls.slice(1).sort()], ["remove b", "apply c", "apply d"], "removals first");
        });

        it("ignores connection-only changes and re-runs a failed batch", async () => {
            const { outs } = await quiet(() => provider.create!(inputs(["a"])));
            assert.equal((await provider.diff!("t/b0", outs, { ...inputs(["a"]), endpoint: "other", timeoutSeconds: 99 })).changes, false);
            assert.equal((await provider.diff!("t/b0", { ...outs, status: { ...outs.status, ready: false } }, inputs(["a"]))).changes, true);
            assert.equal((await provider.diff!("t/b0", outs, { ...inputs(["a"]), targetState: "other" })).changes, true);
        });

        it("refresh (read) notices a host gone behind the batch's back, and the next up re-applies it", async () => {
            const { outs } = await quiet(() => provider.create!(inputs(["a", "b"])));
            world.delete("b");
            const { props } = await provider.read!("t/b0", outs);
            assert.equal(props!.status.ready, false);
            assert.deepEqual(props!.status.counts, { absent: 1, ready: 1 });
            assert.equal((await provider.diff!("t/b0", props, inputs(["a", "b"]))).changes, true);
            calls.length = 0;
            await quiet(() => provider.update!("t/b0", props, inputs(["a", "b"])));
            assert.ok(world.has("b"));
            assert.deepEqual(calls.sort(), ["apply a", "apply b"]);
        });

        it("records a failed batch with its id and properties, and resumes on update", async () => {
            failing = new Set(["b"]);
            const err: any = await quiet(() => provider.create!(inputs(["a", "b"]))).catch((e) => e);
            assert.equal(err instanceof Error, true, "a plain Error the host can report");
            assert.equal(err.id, "t/b0");
            assert.equal(err.properties.status.ready, false);
            assert.match(err.message, /t\/b0: hosts failed: 1 of 2 hosts not ready:\n {2}- b: broken: it broke/);
            assert.ok(world.has("a") && world.has("b"), "nothing deleted on failure");
            failing = new Set();
            calls.length = 0;
            const { outs } = await quiet(() => provider.update!("t/b0", err.properties, inputs(["a", "b"])));
            assert.equal(outs.status.ready, true);
            assert.deepEqual(calls, ["apply a", "apply b"], "a resumed batch re-applies (adopts) every host");
        });
    });
});
