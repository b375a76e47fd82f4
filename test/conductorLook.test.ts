import { strict as assert } from "assert";
import { conductorsToLook, newConductors } from "../components/enroll/ironicNodeBatch";

// The run record names each transition's conductor. Create answers carry it; a detail list of
// the whole batch (slow: hundreds of ms for 50 nodes) is sent only when these say so.
describe("IronicNodeBatch: when a recorded run looks up conductors", () => {
    const t0 = 1_000_000;
    const known = () => ({ ...newConductors(), of: { a: "c1", b: "c2" } as Record<string, string | null>, at: t0 });

    it("never for nodes whose conductor Ironic's answers named, for minutes", () => {
        assert.equal(conductorsToLook(known(), ["a", "b"], t0 + 60_000), false);
        assert.equal(conductorsToLook(known(), ["a", "b"], t0 + 299_000), false);
    });

    it("once a node of unknown conductor moves, after 5 min, or nothing moves: nothing", () => {
        assert.equal(conductorsToLook(known(), ["a", "z"], t0 + 1), true);
        assert.equal(conductorsToLook(known(), ["a"], t0 + 300_000), true);
        assert.equal(conductorsToLook(known(), [], t0 + 300_000), false);
        assert.equal(conductorsToLook(newConductors(), ["a"], t0), true);
    });

    it("at once after a node's conductor was unreachable (a takeover moves nodes)", () => {
        assert.equal(conductorsToLook({ ...known(), stale: true }, ["a"], t0 + 1), true);
    });
});
