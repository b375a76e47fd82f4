// Telling a node no conductor will move on from one a conductor works on (components/enroll/stuckNodes.ts).
// On the real Ironic: test/ironicFaults.test.ts ("a lock left behind", "a conductor SIGKILLed mid-create").
import { strict as assert } from "assert";
import type { IronicNode } from "../components/enroll/ironicApi";
import { newStuckWatch, ORPHANED_STATES, STUCK_DEFAULT_SECONDS, stuckError, stuckFailure, stuckMs } from "../components/enroll/stuckNodes";

function node(fields: Partial<IronicNode> = {}): IronicNode {
    return {
        uuid: "11111111-2222-3333-4444-555555555555",
        name: "host-0001",
        provision_state: "verifying",
        target_provision_state: "manageable",
        last_error: null,
        maintenance: false,
        maintenance_reason: null,
        fault: null,
        inspection_finished_at: null,
        reservation: "127.0.0.12",
        provision_updated_at: "2026-12-01T10:00:00+00:00",
        ...fields,
    };
}

describe("stuck nodes", () => {
    it("a node held by one conductor with no progress: held since it was first seen so", () => {
        const watch = newStuckWatch();
        assert.equal(stuckMs(watch, node(), 1_000), 0);
        assert.equal(stuckMs(watch, node(), 31_000), 30_000);
        assert.equal(stuckMs(watch, node(), 200_000), 199_000);
    });

    it("an unlocked node in a state a conductor rests in is never held, and its next lock counts from when it is seen", () => {
        const watch = newStuckWatch();
        const resting = node({ provision_state: "enroll", target_provision_state: null, reservation: null });
        assert.equal(stuckMs(watch, resting, 0), 0);
        assert.equal(stuckMs(watch, resting, 500_000), 0);
        for (const state of ["manageable", "available", "inspect wait", "clean wait", "inspect failed"]) {
            assert.equal(stuckMs(watch, node({ provision_state: state, reservation: null }), 900_000), 0, state);
        }
        const locked = node({ provision_state: "enroll", target_provision_state: null });
        assert.equal(stuckMs(watch, locked, 600_000), 0);
        assert.equal(stuckMs(watch, locked, 610_000), 10_000);
        // Released in between (the conductor finished one task and took the next): counts again.
        assert.equal(stuckMs(watch, resting, 620_000), 0);
        assert.equal(stuckMs(watch, locked, 630_000), 0);
        assert.equal(stuckMs(watch, locked, 640_000), 10_000);
    });

    it("an unlocked node in a state only a working conductor is in (its conductor died mid-task) is held from when it is seen so", () => {
        const watch = newStuckWatch();
        assert.deepEqual([...ORPHANED_STATES].sort(), ["adopting", "cleaning", "deleting", "deploying", "inspecting", "rescuing", "unrescuing", "verifying"]);
        // The dead conductor's lock first (until the live ones release it), then none: the clock starts again.
        assert.equal(stuckMs(watch, node(), 0), 0);
        assert.equal(stuckMs(watch, node(), 8_000), 8_000);
        assert.equal(stuckMs(watch, node({ reservation: null }), 10_000), 0);
        assert.equal(stuckMs(watch, node({ reservation: null }), 70_000), 60_000);
        // A conductor starting fails it to enroll (with last_error): nothing holds it any more.
        assert.equal(stuckMs(watch, node({ reservation: null, provision_state: "enroll", target_provision_state: null, last_error: "can't be resumed" }), 80_000), 0);
    });

    it("progress resets the clock: another state, another target, a provision_updated_at, another holder", () => {
        const watch = newStuckWatch();
        stuckMs(watch, node(), 0);
        assert.equal(stuckMs(watch, node(), 100_000), 100_000);
        for (const moved of [
            node({ provision_state: "manageable", target_provision_state: null }),
            node({ provision_state: "manageable", target_provision_state: "inspecting" }),
            node({ provision_state: "manageable", target_provision_state: "inspecting", provision_updated_at: "2026-12-01T10:05:00+00:00" }),
            node({ provision_state: "manageable", target_provision_state: "inspecting", provision_updated_at: "2026-12-01T10:05:00+00:00", reservation: "127.0.0.13" }),
        ]) {
            assert.equal(stuckMs(watch, moved, 200_000), 0, JSON.stringify(moved));
        }
        assert.equal(stuckMs(watch, node({ provision_state: "manageable", target_provision_state: "inspecting", provision_updated_at: "2026-12-01T10:05:00+00:00", reservation: "127.0.0.13" }), 260_000), 60_000);
    });

    it("nodes are watched each on its own", () => {
        const watch = newStuckWatch();
        const other = node({ uuid: "66666666-7777-8888-9999-000000000000" });
        stuckMs(watch, node(), 0);
        assert.equal(stuckMs(watch, other, 50_000), 0);
        assert.equal(stuckMs(watch, node(), 60_000), 60_000);
        assert.equal(stuckMs(watch, other, 60_000), 10_000);
    });

    it("the failure names what holds the node, the state, how long, and the remedy", () => {
        const text = stuckError(node(), 181_400);
        assert.match(text, /locked by conductor 127\.0\.0\.12 in verifying \(target manageable\) for 181 s with no progress/);
        assert.match(text, /Restart conductor 127\.0\.0\.12, then run up again/);
        assert.match(stuckError(node({ provision_state: "enroll", target_provision_state: null }), 30_000), / in enroll for 30 s /);
        const orphaned = stuckError(node({ reservation: null }), 65_000);
        assert.match(orphaned, /stayed in verifying \(target manageable\) for 65 s with no conductor working on it/);
        assert.match(orphaned, /Restart the conductors, then run up again/);
        assert.ok(STUCK_DEFAULT_SECONDS >= 120, "past a dead conductor's locks being released at Ironic's default heartbeat_timeout (60 s)");
    });

    it("a host fails only once its node has been held for the limit, with the message of what holds it", () => {
        const watch = newStuckWatch();
        assert.equal(stuckFailure(watch, node(), 0, 30_000), undefined);
        assert.equal(stuckFailure(watch, node(), 29_999, 30_000), undefined);
        assert.equal(stuckFailure(watch, node(), 30_000, 30_000), stuckError(node(), 30_000));
    });
});
