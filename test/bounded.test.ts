// The providers' small async helpers that pace requests: the slot limiter and the adaptive poll schedule.
import { strict as assert } from "assert";
import { limiter, nextPollMs } from "../components/enroll/bounded";

describe("nextPollMs: the adaptive poll", () => {
    const next = (lastMs: number, found: number, want = 4) => nextPollMs(lastMs, found, want, 250, 2000);

    it("doubles while looks find nothing, up to the ceiling, and comes down again when they find plenty", () => {
        const schedule: number[] = [];
        let ms = 0;
        for (const found of [0, 0, 0, 0, 0, 8, 8, 8, 8]) schedule.push((ms = next(ms, found)));
        assert.deepEqual(schedule, [500, 1000, 2000, 2000, 2000, 1000, 500, 250, 250]);
    });

    it("aims at `want` hosts per look: lengthens when a look finds fewer, shortens when it finds more, at most by 2", () => {
        assert.equal(next(400, 4), 400, "found what it wanted: same pace");
        assert.equal(next(400, 2), 800);
        assert.equal(next(400, 1), 800, "at most doubling");
        assert.equal(next(400, 5), 320);
        assert.equal(next(400, 40), 250, "at most halving, never below the floor");
    });

    it("with one host left to wait for, one found per look is enough", () => {
        assert.equal(next(500, 1, 1), 500);
        assert.equal(next(500, 1, 0), 500, "nothing left to wait for counts as one");
    });

    it("starts from the floor and never waits longer than the ceiling, even one below the floor (a short pollSeconds)", () => {
        assert.equal(next(0, 4), 250);
        assert.equal(nextPollMs(0, 4, 4, 250, 100), 100);
        assert.equal(nextPollMs(100, 0, 4, 250, 100), 100);
    });
});

describe("limiter: at most N in flight", () => {
    it("runs no more than the limit at once, in the order asked, and gives every result back", async () => {
        const slot = limiter(3);
        let active = 0;
        let most = 0;
        const started: number[] = [];
        const results = await Promise.all(
            Array.from({ length: 10 }, (_, i) =>
                slot(async () => {
                    started.push(i);
                    most = Math.max(most, ++active);
                    await new Promise((r) => setTimeout(r, 5 + (i % 3)));
                    active--;
                    return i * 2;
                }),
            ),
        );
        assert.equal(most, 3);
        assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert.deepEqual(results, Array.from({ length: 10 }, (_, i) => i * 2));
    });

    it("frees the slot of a function that fails", async () => {
        const slot = limiter(1);
        await assert.rejects(slot(async () => Promise.reject(new Error("boom"))), /boom/);
        assert.equal(await slot(async () => "next"), "next");
    });
});
