// The node poll IronicNodeBatches in flight share per Ironic: its pure parts, and the poller
// itself over a list function of the test's own (no Ironic).
import { strict as assert } from "assert";
import { connectionKey, IronicNode } from "../components/enroll/ironicApi";
import { batchMarker } from "../components/enroll/ironicNodeBatch";
import { joinNodePoller, listFilter, nextListAt, NodePoller, nodesOf, PollNeed, sharedDelay } from "../components/enroll/nodePoller";
import type { ApiRequest } from "../components/enroll/tracker";

const marker = (i: number) => batchMarker(`dev/ironic-batch-${i}`);

function node(uuid: string, description: string | null): IronicNode {
    return { uuid, name: uuid, description, provision_state: "enroll", target_provision_state: null, last_error: null, maintenance: false, maintenance_reason: null, fault: null, inspection_finished_at: null };
}

const need = (found: number, waiting: number, more: Partial<PollNeed> = {}): PollNeed => ({ found, waiting, dueAt: Number.POSITIVE_INFINITY, ceilingMs: 2000, ...more });

describe("node poll shared by the batches in flight: the pure parts", () => {
    it("lists with the batches' common marker prefix; one batch alone lists with its own marker", () => {
        assert.equal(listFilter([marker(1)]), marker(1));
        assert.equal(listFilter([marker(1), marker(12), marker(3)]), "[metal3-scale-lab:dev/ironic-batch-");
        assert.equal(listFilter([marker(1), batchMarker("prod/ironic-batch-1")]), "[metal3-scale-lab:");
    });

    it("gives each batch its own nodes out of a shared list, by the marker in their description", () => {
        const nodes = [node("a", marker(1)), node("b", marker(12)), node("c", null), node("d", `${marker(1)} kept by hand`)];
        assert.deepEqual([...nodesOf(nodes, marker(1)).keys()], ["a", "d"], "batch 12's node is not batch 1's (the closing bracket)");
        assert.deepEqual([...nodesOf(nodes, marker(12)).keys()], ["b"]);
    });

    it("paces the shared list by what every waiting batch found, within the shortest ceiling", () => {
        // Two batches found 2 each: together the 4 a list should find, so the pace holds.
        assert.equal(sharedDelay(400, [need(2, 10), need(2, 10)], 0), 400);
        // Alone, each would have found too few and slowed down.
        assert.equal(sharedDelay(400, [need(2, 10)], 0), 800);
        assert.equal(sharedDelay(1500, [need(0, 10), need(0, 10, { ceilingMs: 1000 })], 0), 1000, "the shortest ceiling");
        assert.equal(sharedDelay(400, [need(1, 1)], 0), 400, "one host waiting in all: one found is enough");
        assert.equal(sharedDelay(250, [need(40, 50)], 300), 1200, "never sooner than 4 lists' latency");
        assert.equal(sharedDelay(250, [need(10, 50), need(10, 50), need(10, 50), need(10, 50)], 300), 300, "a list for 4 batches: its latency shared among them");
    });

    it("sends the next list a pace after the last answer, or when a batch needs it sooner", () => {
        assert.equal(nextListAt(10_000, 500, [need(0, 1), need(0, 1)]), 10_500);
        assert.equal(nextListAt(10_000, 500, [need(0, 1), need(0, 1, { dueAt: 10_200 })]), 10_200, "a host's conflict backoff ends");
        assert.equal(nextListAt(10_000, 500, [need(0, 1, { dueAt: Number.NEGATIVE_INFINITY })]), Number.NEGATIVE_INFINITY, "a batch's first list: at once");
    });

    it("keys a poller by every byte of the connection, never holding the password itself", () => {
        const conn = { endpoints: ["https://10.0.0.2:6385"], username: "lab", password: "s3cret-pw", caPem: "PEM", apiVersion: "1.81" };
        assert.equal(connectionKey(conn), connectionKey({ ...conn, onRequest: () => undefined }));
        for (const other of [{ password: "other" }, { endpoints: ["https://10.0.0.3:6385"] }, { apiVersion: "1.80" }, { username: "x" }]) {
            assert.notEqual(connectionKey({ ...conn, ...other }), connectionKey(conn), JSON.stringify(other));
        }
        assert.ok(!connectionKey(conn).includes("s3cret"));
    });
});

/** A list function that answers when the test says so, and remembers what it was asked. */
function fakeIronic(nodes: IronicNode[]) {
    const asked: string[] = [];
    const answers: (() => void)[] = [];
    let tell: (r: ApiRequest) => void = () => undefined;
    const list = (filter: string) =>
        new Promise<IronicNode[]>((resolve) => {
            asked.push(filter);
            answers.push(() => {
                tell({ api: "ironic", method: "GET", path: "/v1/nodes", status: 200, ms: 1, at: Date.now() });
                resolve(nodes.filter((n) => (n.description ?? "").includes(filter)));
            });
        });
    return { asked, list, answer: () => answers.shift()!(), setTell: (f: (r: ApiRequest) => void) => (tell = f) };
}

/** Lets timers (the poller's, at 0 ms here) and the promises after them run, until `done` holds (a loaded machine may take its time). */
const tick = async (done: () => boolean) => {
    for (let i = 0; i < 1000 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
};
/** Timers pending, once the ones that just fired are let go. */
const timers = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    return process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
};

describe("node poll shared by the batches in flight: the poller", () => {
    const first = (extra: Partial<PollNeed> = {}) => need(0, 50, { dueAt: Number.NEGATIVE_INFINITY, ...extra });

    it("serves every batch waiting with ONE list, each its own nodes, told once to the batch that joined first", async () => {
        const ironic = fakeIronic([node("a", marker(1)), node("b", marker(2)), node("z", batchMarker("prod/ironic-batch-1"))]);
        let retired = 0;
        const poller = new NodePoller(ironic.list, () => retired++);
        ironic.setTell((r) => poller.tell(r));
        const told: Record<string, number> = { one: 0, two: 0 };
        const one = poller.join(marker(1), () => told.one++);
        const two = poller.join(marker(2), () => told.two++);
        const lists = [one.next(first()), two.next(first())];
        await tick(() => ironic.asked.length > 0);
        assert.deepEqual(ironic.asked, ["[metal3-scale-lab:dev/ironic-batch-"], "one list for both, filtered by their common prefix");
        ironic.answer();
        const [l1, l2] = await Promise.all(lists);
        assert.deepEqual([...l1.nodes.keys()], ["a"]);
        assert.deepEqual([...l2.nodes.keys()], ["b"]);
        assert.equal(l1.sentAt, l2.sentAt);
        assert.deepEqual(told, { one: 1, two: 0 }, "the shared request is recorded once");
        one.leave();
        two.leave();
        assert.equal(retired, 1);
    });

    it("lists for a batch alone with its own marker, and a batch busy with the last list does not hold the others", async () => {
        const ironic = fakeIronic([node("a", marker(1)), node("b", marker(2))]);
        const poller = new NodePoller(ironic.list, () => undefined);
        ironic.setTell((r) => poller.tell(r));
        const one = poller.join(marker(1));
        const two = poller.join(marker(2));
        const got = one.next(first({ ceilingMs: 0 }));
        await tick(() => ironic.asked.length > 0);
        assert.deepEqual(ironic.asked, [marker(1)], "batch 2 asked for nothing yet");
        ironic.answer();
        await got;
        one.leave();
        two.leave();
    });

    it("leaves no timer behind when the last batch leaves, while waiting or during a list, and refuses a left batch", async () => {
        const ironic = fakeIronic([node("a", marker(1))]);
        let retired = 0;
        const poller = new NodePoller(ironic.list, () => retired++);
        const before = await timers();
        const one = poller.join(marker(1));
        void one.next(need(0, 50, { dueAt: Date.now() + 60_000, ceilingMs: 60_000 }));
        assert.equal(await timers(), before + 1, "the next list is due in a minute");
        one.leave();
        assert.equal(await timers(), before, "no timer left");
        assert.equal(retired, 1);
        await assert.rejects(one.next(first()), /was left/);

        // Leaving while a list is out: the poller retires once that list is answered.
        const two = poller.join(marker(1));
        const pending = two.next(first());
        await tick(() => ironic.asked.length > 0);
        assert.equal(ironic.asked.length, 1);
        two.cancel();
        two.leave();
        assert.equal(retired, 1, "not while its list is out");
        ironic.answer();
        await pending;
        await tick(() => retired === 2);
        assert.equal(retired, 2, "retired once its list was answered");
        assert.equal(await timers(), before, "no timer left");
        assert.equal(poller.size(), 0);
    });

    it("hands a list's error to every batch it served", async () => {
        const poller = new NodePoller(async () => {
            throw new Error("Ironic answered 500");
        }, () => undefined);
        const one = poller.join(marker(1));
        const two = poller.join(marker(2));
        const results = await Promise.allSettled([one.next(first()), two.next(first())]);
        assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
        one.leave();
        two.leave();
    });

    it("shares one poller per Ironic in the process, gone when its last batch left", async () => {
        const conn = { endpoints: ["https://127.0.0.1:9"], username: "lab", password: "pw", apiVersion: "1.81" };
        const registry = () => Object.keys((globalThis as any)["metal3-scale-lab/ironic-node-pollers/1"] ?? {});
        const before = registry().length;
        const a = joinNodePoller(conn, marker(1));
        const b = joinNodePoller({ ...conn }, marker(2));
        const c = joinNodePoller({ ...conn, password: "other" }, marker(3));
        assert.equal(registry().length, before + 2, "same Ironic and credentials: one poller; other credentials: another");
        for (const s of [a, b, c]) s.leave();
        assert.equal(registry().length, before);
    });
});
