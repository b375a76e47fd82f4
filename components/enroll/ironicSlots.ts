// Requests in flight to one Ironic, shared by every IronicNodeBatch of this provider process.
// Without it the batches in flight (HostEnrollment's maxBatchesInFlight) add their `concurrency`
// up: four batches at 20 put 80 requests on an Ironic whose own best pace is at 10 to 40
// (bench/RESULTS.md), and the queue that builds inside its API and conductors slows every batch.
// The registry lives on globalThis, as the node pollers' does (nodePoller.ts): each batch's
// provider may be its own copy of this module.
import { limiter } from "./bounded";
import type { IronicConnection } from "./ironicApi";
import { pollerKey } from "./nodePoller";

export type Slot = <T>(fn: () => Promise<T>) => Promise<T>;

const REGISTRY = "metal3-scale-lab/ironic-request-slots/1";

/** The slots of this Ironic (endpoints and credentials) at this concurrency: made on first use, shared after. */
export function ironicSlot(conn: IronicConnection, concurrency: number): Slot {
    const g = globalThis as unknown as Record<string, Record<string, Slot> | undefined>;
    const slots = (g[REGISTRY] ??= {});
    return (slots[`${pollerKey(conn)}/${concurrency}`] ??= limiter(concurrency));
}
