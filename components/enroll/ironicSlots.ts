// Requests in flight to one Ironic, shared by every IronicNodeBatch of this provider process.
// Without it the batches in flight (HostEnrollment's maxBatchesInFlight) add their `concurrency`
// up: four batches at 20 allow 80 requests in flight to an Ironic whose own best pace is at 10 to 40
// (bench/RESULTS.md), and the queue that builds inside its API and conductors slows every batch.
// The slots are process-wide (processWide.ts), as the node pollers are (nodePoller.ts).
import { limiter } from "./bounded";
import { connectionKey, IronicConnection } from "./ironicApi";
import { processWide } from "./processWide";

export type Slot = <T>(fn: () => Promise<T>) => Promise<T>;

const REGISTRY = "metal3-scale-lab/ironic-request-slots/1";

/** The slots of this Ironic (endpoints and credentials) at this concurrency: made on first use, shared after. */
export function ironicSlot(conn: IronicConnection, concurrency: number): Slot {
    return (processWide<Slot>(REGISTRY)[`${connectionKey(conn)}/${concurrency}`] ??= limiter(concurrency));
}
