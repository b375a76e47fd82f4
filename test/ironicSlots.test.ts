// Requests in flight to one Ironic, shared by the IronicNodeBatches of a provider process (components/enroll/ironicSlots.ts).
// On the real Ironic: test/ironicNodeBatch.test.ts (4 batches of 50 at once), and bench/ironicEnroll.ts.
import { strict as assert } from "assert";
import { ironicSlot } from "../components/enroll/ironicSlots";

const conn = { endpoints: ["https://127.0.0.1:9"], username: "lab", password: "pw", apiVersion: "1.81" };

/** Runs `n` requests through `slot`, each a few ms long; returns the most in flight at once. */
async function peak(slots: ((fn: () => Promise<void>) => Promise<void>)[], n: number): Promise<number> {
    let now = 0;
    let most = 0;
    const request = async () => {
        most = Math.max(most, ++now);
        await new Promise((r) => setTimeout(r, 2));
        now--;
    };
    await Promise.all(Array.from({ length: n }, (_, i) => slots[i % slots.length](request)));
    return most;
}

describe("requests in flight to one Ironic, shared by its batches", () => {
    it("four batches on the same Ironic at concurrency 3 have at most 3 requests in flight between them", async () => {
        const batches = [1, 2, 3, 4].map(() => ironicSlot({ ...conn, endpoints: [...conn.endpoints] }, 3));
        assert.equal(await peak(batches, 40), 3);
    });

    it("another Ironic, other credentials or another concurrency get slots of their own", async () => {
        const slots = [
            ironicSlot({ ...conn, endpoints: ["https://127.0.0.2:9"] }, 2),
            ironicSlot({ ...conn, endpoints: ["https://127.0.0.3:9"] }, 2),
            ironicSlot({ ...conn, endpoints: ["https://127.0.0.2:9"], password: "other" }, 2),
        ];
        assert.equal(new Set(slots).size, 3);
        assert.equal(await peak(slots, 30), 6);
        assert.notEqual(ironicSlot({ ...conn, endpoints: ["https://127.0.0.2:9"] }, 5), slots[0]);
        assert.equal(ironicSlot({ ...conn, endpoints: ["https://127.0.0.2:9"] }, 2), slots[0]);
    });

    it("keeps its registry on globalThis, where each batch's copy of the module finds it", () => {
        const slot = ironicSlot(conn, 4);
        const registry: Record<string, unknown> = (globalThis as any)["metal3-scale-lab/ironic-request-slots/1"] ?? {};
        assert.ok(Object.values(registry).includes(slot));
    });
});
