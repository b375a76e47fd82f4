// The behaviour every batch resource shares, whatever enrolls its hosts:
// host-by-host diff (always an update), idempotent create/update (adoption),
// a provider-enforced deadline, visible progress, failures recorded on the
// resource so the next `pulumi up` resumes, delete that waits, and the run
// record of every create, update and delete (when given a `runDir`).
//
// A HostDriver supplies the parts that talk to a system (Ironic, Kubernetes).
// The provider object returned by makeBatchProvider is what Pulumi serializes
// into `__provider`: it and its drivers must build every client inside methods.
import type * as pulumi from "@pulumi/pulumi";
import type { Operation } from "../record/format";
import { BatchRecord, openBatchRecord } from "../record/observer";
import { latestRunDir } from "../record/location";
import { Deadline } from "./bounded";
import { canonicalJson, diffHosts, isEmptyDiff, NamedHost } from "./hostDiff";
import { BatchObserver, HostFailure, HostTracker } from "./tracker";

export interface BatchInputs<H extends NamedHost> {
    /** Human label used in progress and errors, e.g. "dev/bmh-batch-003". */
    readonly label: string;
    readonly hosts: readonly H[];
    readonly targetState: string;
    readonly timeoutSeconds: number;
    /**
     * Absolute run dir of this `pulumi up` (components/record), "" or absent: nothing recorded.
     * A new one every run: never a change of the batch by itself.
     */
    readonly runDir?: string;
}

export interface BatchStatus {
    /** Every host reached targetState. */
    readonly ready: boolean;
    readonly counts: Record<string, number>;
    readonly failures: readonly HostFailure[];
    readonly updatedAt: string;
}

export type BatchOutputs<I> = I & { readonly status: BatchStatus };

export interface WaitContext {
    readonly tracker: HostTracker;
    readonly deadline: Deadline;
}

export interface HostDriver<H extends NamedHost, I extends BatchInputs<H>> {
    /** Kind-specific input checks, beyond the shared ones. */
    check(inputs: I): pulumi.dynamic.CheckFailure[];
    /** Creates (or adopts) these hosts and re-applies changed ones; idempotent. */
    apply(inputs: I, hosts: readonly H[], ctx: WaitContext): Promise<void>;
    /** Returns when every tracked host is in a target state or failed, or the deadline passed. */
    waitForHosts(inputs: I, ctx: WaitContext): Promise<void>;
    /** Deletes these hosts and returns when all are gone (already gone counts as deleted). */
    remove(inputs: I, hosts: readonly H[], ctx: WaitContext): Promise<void>;
    /** One look at every host (one list call), fed to the tracker: what `pulumi refresh` reports. */
    observe(inputs: I, ctx: WaitContext): Promise<void>;
    /** Input keys that only say how to connect: a change there alone does not update the batch. */
    readonly connectionKeys: readonly string[];
    /** What the batch's items are called in progress, errors and the run record (default "hosts"). */
    readonly unit?: "hosts" | "clusters";
    /** Extra observers; progress lines are always printed and the run record is added by the core. */
    observers?(inputs: I): BatchObserver[];
    /** Secret inputs (passwords, tokens): never written to the run record. */
    secrets?(inputs: I): string[];
    /**
     * The inputs with every host in full, for a kind that declares fields its hosts share once
     * (default: as declared). Gets any shape a stack's state may hold; outputs keep the declared one.
     */
    expand?(declared: I): I;
}

/**
 * The error that records a created-but-failed batch: Pulumi stores `id` and
 * `properties` (the dynamic-provider host reads them off the thrown object).
 * A plain Error, since Error subclasses do not survive serialization into `__provider`.
 */
export function batchFailedError(message: string, id: string, properties: Record<string, unknown>): Error {
    return Object.assign(new Error(message), { name: "BatchFailedError", id, properties, reasons: [message] });
}

// An array, not a Set: module values are serialized into `__provider`, where a Set loses its contents.
// runDir: each run records into a new directory, which alone never updates a batch.
const IGNORED_KEYS: readonly string[] = ["__provider", "status", "runDir"];

function sharedCheck<H extends NamedHost>(inputs: BatchInputs<H>): pulumi.dynamic.CheckFailure[] {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (typeof inputs.label !== "string" || inputs.label === "") failures.push({ property: "label", reason: "label must be a non-empty string" });
    if (!Array.isArray(inputs.hosts) || inputs.hosts.length === 0) {
        failures.push({ property: "hosts", reason: "hosts must be a non-empty list" });
    } else {
        const seen = new Set<string>();
        for (const [i, h] of inputs.hosts.entries()) {
            if (!h || typeof h.name !== "string" || h.name === "") failures.push({ property: "hosts", reason: `hosts[${i}] has no name` });
            else if (seen.has(h.name)) failures.push({ property: "hosts", reason: `hosts[${i}]: duplicate host name ${h.name}` });
            else seen.add(h.name);
        }
    }
    if (typeof inputs.targetState !== "string" || inputs.targetState === "") failures.push({ property: "targetState", reason: "targetState must be set" });
    if (!(Number(inputs.timeoutSeconds) > 0)) failures.push({ property: "timeoutSeconds", reason: `timeoutSeconds must be a positive number, got ${inputs.timeoutSeconds}` });
    return failures;
}

export function makeBatchProvider<H extends NamedHost, I extends BatchInputs<H>>(driver: HostDriver<H, I>): pulumi.dynamic.ResourceProvider {
    const full = (declared: I): I => (driver.expand ? driver.expand(declared) : declared);

    /** A batch-wide input other than the hosts and the connection changed. */
    const settingsChanged = (olds: Record<string, unknown> | I, news: I): boolean =>
        [...new Set([...Object.keys(olds), ...Object.keys(news)])].some(
            (k) => !IGNORED_KEYS.includes(k) && k !== "hosts" && !driver.connectionKeys.includes(k) && canonicalJson((olds as any)[k]) !== canonicalJson((news as any)[k]),
        );

    const tracking = (inputs: I, hosts: readonly H[], targets: string[], label = inputs.label, record?: BatchRecord): WaitContext => ({
        tracker: new HostTracker(label, hosts.map((h) => h.name), targets, {
            observers: [...(driver.observers?.(inputs) ?? []), ...(record ? [record] : [])],
            unit: driver.unit,
        }),
        deadline: new Deadline(Number(inputs.timeoutSeconds) * 1000),
    });

    /**
     * Runs one operation under the run record in `runDir` (none: not recorded): its start, and its
     * end with whether it finished; the body records its failing units. A record never fails the batch.
     */
    const recorded = async <T>(inputs: I, op: Operation, units: number, runDir: unknown, body: (record?: BatchRecord) => Promise<T>): Promise<T> => {
        const record = openBatchRecord(runDir, inputs.label, driver.unit ?? "hosts", driver.secrets?.(inputs) ?? []);
        // The states that count as done: what the report measures time-to-target against.
        record?.operation(op, "start", units, { targets: op === "delete" ? ["deleted"] : [inputs.targetState] });
        try {
            const result = await body(record);
            record?.operation(op, "end", units, { ready: true });
            return result;
        } catch (err) {
            record?.operation(op, "end", units, { ready: false, reason: errorMessage(err).split("\n")[0] });
            throw err;
        } finally {
            await record?.close();
        }
    };

    /** Applies `toApply`, waits for all of `inputs.hosts`, and returns outs (as declared) or throws a recording error. */
    const converge = async (id: string, inputs: I, toApply: readonly H[], record?: BatchRecord): Promise<BatchOutputs<I>> => {
        const all = full(inputs);
        const ctx = tracking(all, all.hosts, [inputs.targetState], inputs.label, record);
        let error: unknown;
        try {
            if (toApply.length > 0) await driver.apply(all, toApply, ctx);
            await driver.waitForHosts(all, ctx);
        } catch (err) {
            error = err;
        }
        ctx.tracker.report(true);
        record?.failures(ctx.tracker.failing());
        const failures = ctx.tracker.failures();
        const ready = error === undefined && ctx.tracker.settled() && failures.length === 0;
        const outs: BatchOutputs<I> = {
            ...withoutProvider(inputs),
            status: { ready, counts: ctx.tracker.counts(), failures: failures.slice(0, 100), updatedAt: new Date().toISOString() },
        };
        if (ready) return outs;
        const reason = error !== undefined ? `stopped by an error: ${errorMessage(error)}` : ctx.deadline.passed() ? `deadline of ${inputs.timeoutSeconds}s passed` : `${driver.unit ?? "hosts"} failed`;
        const message = ctx.tracker.describeFailures(reason);
        // Recorded as created-but-failed: the next `pulumi up` diffs against these outs and resumes.
        throw batchFailedError(message, id, outs as unknown as Record<string, unknown>);
    };

    return {
        async check(_olds: I, news: I) {
            const failures = [...sharedCheck(news), ...(Array.isArray(news.hosts) ? driver.check(news) : [])];
            return { inputs: news, failures };
        },

        async diff(_id: string, olds: BatchOutputs<I>, news: I) {
            const [was, now] = [full(olds), full(news)];
            const hosts = diffHosts(was.hosts ?? [], now.hosts ?? []);
            // A batch recorded as failed (or from a version without status) is re-run by the next up.
            const unfinished = olds.status !== undefined && olds.status.ready !== true;
            return { changes: !isEmptyDiff(hosts) || settingsChanged(was, now) || unfinished, replaces: [], deleteBeforeReplace: false };
        },

        /**
         * `pulumi refresh`: a host gone or broken behind the batch's back makes it unfinished, so the next up re-applies it.
         * Not recorded: a refresh runs before the program picks a run dir, so it would land in an older run.
         */
        async read(id: string, props: BatchOutputs<I>) {
            const all = full(props);
            const hosts = all.hosts ?? [];
            if (hosts.length === 0) return { id, props };
            const ctx = tracking(all, hosts, [props.targetState]);
            await driver.observe(all, ctx);
            const failures = ctx.tracker.failures();
            const status: BatchStatus = {
                ready: ctx.tracker.settled() && failures.length === 0,
                counts: ctx.tracker.counts(),
                failures: failures.slice(0, 100),
                updatedAt: new Date().toISOString(),
            };
            return { id, props: { ...withoutProvider(props), status } };
        },

        async create(inputs: I) {
            const id = inputs.label;
            const hosts = full(inputs).hosts;
            return { id, outs: await recorded(inputs, "create", hosts.length, inputs.runDir, (record) => converge(id, inputs, hosts, record)) };
        },

        async update(id: string, olds: BatchOutputs<I>, news: I) {
            const [was, now] = [full(olds), full(news)];
            const hosts = diffHosts(was.hosts ?? [], now.hosts);
            const outs = await recorded(news, "update", now.hosts.length + hosts.removed.length, news.runDir, async (record) => {
                if (hosts.removed.length > 0) {
                    const ctx = tracking(now, hosts.removed, ["deleted"], `${news.label} (removing)`, record);
                    await driver.remove(now, hosts.removed, ctx);
                    ctx.tracker.report(true);
                    record?.failures(ctx.tracker.failing());
                    if (!ctx.tracker.settled()) throw new Error(ctx.tracker.describeFailures("removing hosts did not finish"));
                }
                // Unchanged hosts are re-applied only if the last run did not finish or a batch-wide
                // setting (e.g. the BMC password) changed: adoption makes re-applying safe.
                const everyHost = olds.status?.ready !== true || settingsChanged(was, now);
                const toApply = everyHost ? now.hosts : [...hosts.added, ...hosts.changed];
                return converge(id, news, toApply, record);
            });
            return { outs };
        },

        async delete(_id: string, props: BatchOutputs<I>) {
            const all = full(props);
            const hosts = all.hosts ?? [];
            if (hosts.length === 0) return;
            // The stored runDir is the run that created the batch: a delete records into the stack's newest run.
            const runDir = typeof props.runDir === "string" && props.runDir !== "" ? latestRunDir(props.runDir) : "";
            await recorded(props, "delete", hosts.length, runDir, async (record) => {
                const ctx = tracking(all, hosts, ["deleted"], `${props.label} (deleting)`, record);
                await driver.remove(all, hosts, ctx);
                ctx.tracker.report(true);
                record?.failures(ctx.tracker.failing());
                if (!ctx.tracker.settled()) throw new Error(ctx.tracker.describeFailures("delete did not finish"));
            });
        },
    };
}

function withoutProvider<I>(inputs: I): I {
    const copy: Record<string, unknown> = { ...(inputs as Record<string, unknown>) };
    delete copy.__provider;
    return copy as I;
}

export function errorMessage(err: unknown): string {
    return err instanceof Error ? err.message : String(err);
}
