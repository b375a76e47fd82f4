// The management cluster of the BareMetalHost bench — the Kubernetes API test
// server with the simulated BMO at a fixed pace — in a process of its own, as
// it is in a lab: what the provider (or the study's script) spends in the
// bench process does not slow BMO's clock, and BMO's work does not slow theirs.
// The parent drives it over IPC; times are epoch milliseconds (both clocks are
// this machine's).
import { ChildProcess, fork } from "child_process";
import * as path from "path";
import { BareMetalHostBatchInputs, bmhManifest, secretManifest } from "../components/enroll/bareMetalHostBatch";
import { bmhSpecs } from "../test/support/bmhSpecs";
import { KubeApiTestServer } from "../test/support/kubeApiServer";
import { BmoDelays, SimulatedBmo, SimulatedBmoOptions } from "../test/support/simulatedBmo";

export const LAB_NAMESPACE = "bench";
/** The fixed pace: BMO_CONCURRENCY workers, each transition holding one for its delay (±20 % jitter). */
export const BMO_PACE = { concurrency: 20, delays: { registering: 40, inspecting: 160, preparing: 40, power: 20 } satisfies Partial<BmoDelays> };
const BMH = { group: "metal3.io", plural: "baremetalhosts" };

export interface LabResult {
    /** When the simulated BMO set the last host `available` (0: none was). */
    readonly lastAvailableAt: number;
    /** When the last BareMetalHost was created: every host was in BMO's hands. */
    readonly lastCreatedAt: number;
    readonly available: number;
    /** Requests the server answered in the lab namespace, and per verb. */
    readonly requests: number;
    readonly verbs: Record<string, number>;
    /** CPU the lab process spent since the reset (API server and BMO). */
    readonly cpuMs: number;
}

type Request = { id: number; op: "reset"; bmo?: SimulatedBmoOptions } | { id: number; op: "pace" | "available"; hosts: number } | { id: number; op: "result" };
type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

const now = () => performance.timeOrigin + performance.now();

/** The parent's handle on the lab process. */
export class BmhLab {
    private next = 0;
    private readonly waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();

    private constructor(private readonly child: ChildProcess) {
        child.on("message", (m: Reply) => {
            const w = this.waiting.get(m.id);
            this.waiting.delete(m.id);
            if (m.ok) w?.resolve(m.value);
            else w?.reject(new Error(`bmh lab: ${m.error}`));
        });
        child.on("exit", (code) => {
            for (const w of this.waiting.values()) w.reject(new Error(`bmh lab exited with ${code}`));
            this.waiting.clear();
        });
    }

    /** Forks the lab process (with this process's Node options, so TypeScript loads alike). */
    static start(): BmhLab {
        const child = fork(path.join(__dirname, "bmhLab.ts"), [], { env: { ...process.env, METAL3_BMH_LAB: "1" }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
        return new BmhLab(child);
    }

    private ask<T>(request: { op: "result" } | { op: "reset"; bmo?: SimulatedBmoOptions } | { op: "pace" | "available"; hosts: number }): Promise<T> {
        const id = this.next++;
        return new Promise<T>((resolve, reject) => {
            this.waiting.set(id, { resolve, reject });
            this.child.send({ ...request, id });
        });
    }

    /** A new, empty server and BMO (at BMO_PACE unless told otherwise); resolves to the server's kubeconfig. */
    reset(bmo: SimulatedBmoOptions = BMO_PACE): Promise<string> {
        return this.ask({ op: "reset", bmo });
    }

    /** Hands `hosts` hosts to BMO at once, straight into the store; resolves to the ms until the last is available. */
    pace(hosts: number): Promise<number> {
        return this.ask({ op: "pace", hosts });
    }

    /** Resolves once BMO has set `hosts` hosts `available`. */
    available(hosts: number): Promise<void> {
        return this.ask({ op: "available", hosts });
    }

    result(): Promise<LabResult> {
        return this.ask({ op: "result" });
    }

    async stop(): Promise<void> {
        if (this.child.exitCode !== null) return;
        const exited = new Promise((resolve) => this.child.once("exit", resolve));
        this.child.kill("SIGTERM");
        await exited;
    }
}

/** The lab process: one server and BMO at a time, replaced on each reset. */
function serve(): void {
    let lab: { server: KubeApiTestServer; bmo: SimulatedBmo; lastAvailableAt: number; lastCreatedAt: number; available: number; cpu: NodeJS.CpuUsage; onAvailable?: () => void } | undefined;
    const close = async () => {
        lab?.bmo.stop();
        await lab?.server.stop();
        lab = undefined;
    };
    const handlers = {
        async reset(options: SimulatedBmoOptions): Promise<string> {
            await close();
            const server = new KubeApiTestServer({ namespaces: [LAB_NAMESPACE], token: "bench-token" });
            await server.start();
            const bmo = new SimulatedBmo(server, { ...options, namespaces: [LAB_NAMESPACE] });
            const l: NonNullable<typeof lab> = { server, bmo, lastAvailableAt: 0, lastCreatedAt: 0, available: 0, cpu: process.cpuUsage() };
            server.store.subscribe(BMH, (ev) => {
                if (ev.type === "ADDED") l.lastCreatedAt = now();
                if (ev.object?.status?.provisioning?.state === "available" && ev.previous?.status?.provisioning?.state !== "available") {
                    l.available++;
                    l.lastAvailableAt = now();
                    l.onAvailable?.();
                }
            });
            lab = l;
            return server.kubeconfigYaml();
        },
        async pace(hosts: number): Promise<number> {
            const l = lab!;
            const inputs = { stack: "bench", label: "bench/pace", batch: 0, namespace: LAB_NAMESPACE, bmcUsername: "admin", bmcPassword: "bench-password" } as BareMetalHostBatchInputs;
            const start = now();
            const done = handlers.available(hosts);
            for (const spec of bmhSpecs(LAB_NAMESPACE, hosts, 0x31)) {
                l.server.store.apply("secrets", secretManifest(inputs, spec) as never, { fieldManager: "metal3-scale-lab" });
                l.server.store.apply(BMH, bmhManifest(inputs, spec) as never, { fieldManager: "metal3-scale-lab" });
            }
            await done;
            return l.lastAvailableAt - start;
        },
        available(hosts: number): Promise<void> {
            const l = lab!;
            return new Promise<void>((resolve) => {
                l.onAvailable = () => l.available >= hosts && resolve();
                l.onAvailable();
            });
        },
        async result(): Promise<LabResult> {
            const l = lab!;
            const used = process.cpuUsage(l.cpu);
            return {
                lastAvailableAt: l.lastAvailableAt,
                lastCreatedAt: l.lastCreatedAt,
                available: l.available,
                requests: l.server.requests.filter((r) => r.namespace === LAB_NAMESPACE).length,
                verbs: l.server.countsByVerb({ namespace: LAB_NAMESPACE }),
                cpuMs: (used.user + used.system) / 1000,
            };
        },
    };
    process.on("message", (m: Request) => {
        const run = m.op === "reset" ? handlers.reset(m.bmo ?? BMO_PACE) : m.op === "pace" ? handlers.pace(m.hosts) : m.op === "available" ? handlers.available(m.hosts) : handlers.result();
        run.then(
            (value) => process.send!({ id: m.id, ok: true, value } satisfies Reply),
            (err: unknown) => process.send!({ id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies Reply),
        );
    });
    process.on("SIGTERM", () => void close().finally(() => process.exit(0)));
    process.on("disconnect", () => void close().finally(() => process.exit(0)));
}

if (process.env.METAL3_BMH_LAB === "1" && process.send) serve();
