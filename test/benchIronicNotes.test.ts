import { strict as assert } from "assert";
import { LabResult, rawListNote, SizeResult } from "../bench/ironicEnroll";

/** One lab's figures at `hosts`: medians as given (one run each), requests per host as given. */
function lab(conductors: number, hosts: number, ms: { a1: number; a4: number; b: number }, requestsPerHost: { a1: number; a4: number; b: number }): LabResult {
    const sample = (m: "a1" | "a4" | "b") => [{ ms: ms[m], requests: requestsPerHost[m] * hosts }];
    const size: SizeResult = { hosts, samples: { a1: sample("a1"), a4: sample("a4"), b: sample("b") }, sweep: [{ concurrency: 20, sample: sample("b")[0] }], rawConcurrency: 20 };
    return { conductors, sizes: [size] };
}

describe("bench: the 1,000-host section's note on the raw bound", () => {
    it("says which methods beat (b), and (b)'s lists per host from its requests beyond the five calls", () => {
        const note = rawListNote([lab(3, 1000, { a1: 219_800, a4: 208_300, b: 245_100 }, { a1: 5.4, a4: 5.26, b: 5.32 })]);
        assert.ok(note, "a note where (a) beat (b)");
        assert.match(note, /3 conductors: a1 and a4 faster than \(b\), whose 320 lists \(about 0\.32 per host\) each answered all 1,000 nodes/);
    });

    it("names only the labs and methods that beat (b)", () => {
        const note = rawListNote([
            lab(3, 1000, { a1: 250_000, a4: 240_000, b: 245_100 }, { a1: 5.4, a4: 5.26, b: 5.5 }),
            lab(1, 1000, { a1: 260_000, a4: 250_000, b: 255_000 }, { a1: 5.6, a4: 5.56, b: 5.5 }),
        ]);
        assert.ok(note);
        assert.match(note, /3 conductors: a4 faster than \(b\), whose 500 lists/);
        assert.match(note, /1 conductor: a4 faster/);
        assert.doesNotMatch(note, /a1 and/);
    });

    it("says nothing where (b) was the fastest", () => {
        assert.equal(rawListNote([lab(3, 200, { a1: 42_000, a4: 40_500, b: 39_000 }, { a1: 5.4, a4: 5.3, b: 5.6 })]), undefined);
    });
});
