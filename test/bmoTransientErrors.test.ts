// Transient errors as BMO v0.13.2 has them, in the simulated BMO (recorded, retried after backoff,
// cleared on success; PROVISIONING_LIMIT counting and re-checking delayed hosts after a backoff), and
// BareMetalHostBatch's error policy against it: a glitch BMO recovers from does not fail a batch, a
// persistent error does (by errorCount or by its grace period), a power error on an available host is
// not a failure.
import { strict as assert } from "assert";
import { BareMetalHostBatch, BMH_ERROR_POLICY, BmhSpec, errorPolicy, observeBmh } from "../components/enroll/bareMetalHostBatch";
import { rebuildProvider } from "./support/capturedProvider";
import { KObj, KubeApiTestServer, StoreEvent } from "./support/kubeApiServer";
import { runProgram } from "./support/mockProgram";
import { bmoBackoff, SimulatedBmo } from "./support/simulatedBmo";

const P = "baremetalhosts.metal3.io";
const PASSWORD = "bmc-pw-transient-7f3a";

function spec(name: string, i: number, extra: Partial<BmhSpec> = {}): BmhSpec {
    const hex = i.toString(16).padStart(2, "0");
    return { name, bootMac: `00:5c:52:31:00:${hex}`, bmcAddress: `redfish+http://192.168.111.1:8001/redfish/v1/Systems/sys-${hex}`, bootMode: "UEFI", online: true, ...extra };
}

/** Every status a host went through, as BMO wrote it (with the time it was written). */
function recorder(server: KubeApiTestServer, ns: string) {
    const seen: { at: number; name: string; status: any }[] = [];
    const unsubscribe = server.store.subscribe(P, (ev: StoreEvent) => {
        if (ev.namespace === ns && ev.object?.status) seen.push({ at: Date.now(), name: ev.name, status: JSON.parse(JSON.stringify(ev.object.status)) });
    });
    return { seen, of: (name: string) => seen.filter((e) => e.name === name).map((e) => ({ ...e.status, at: e.at })), stop: unsubscribe };
}

describe("BMO transient errors: the simulated BMO and BareMetalHostBatch's error policy", function () {
    this.timeout(60_000);
    let server: KubeApiTestServer;
    const bmos: SimulatedBmo[] = [];
    const NAMESPACES = ["sim-glitch", "sim-power", "sim-random", "sim-limit", "sim-delay", "p-glitch", "p-persist", "p-grace", "p-power"];

    const put = (ns: string, s: BmhSpec) => {
        server.store.apply("secrets", { apiVersion: "v1", kind: "Secret", metadata: { name: `${s.name}-bmc-secret`, namespace: ns }, stringData: { username: "admin", password: "pw" } } as KObj, { fieldManager: "test" });
        server.store.apply(P, {
            apiVersion: "metal3.io/v1alpha1",
            kind: "BareMetalHost",
            metadata: { name: s.name, namespace: ns },
            spec: { bmc: { address: s.bmcAddress, credentialsName: `${s.name}-bmc-secret` }, bootMACAddress: s.bootMac, online: s.online, ...(s.inspectionMode ? { inspectionMode: s.inspectionMode } : {}) },
        } as KObj, { fieldManager: "test" });
    };
    const bmo = (namespaces: string[], options: ConstructorParameters<typeof SimulatedBmo>[1] = {}) => {
        const b = new SimulatedBmo(server, { namespaces, delays: { registering: 10, inspecting: 20, preparing: 10, power: 5 }, ...options });
        bmos.push(b);
        return b;
    };

    before(async () => {
        server = new KubeApiTestServer({ namespaces: NAMESPACES, token: "transient-token" });
        await server.start();
    });

    after(async () => {
        for (const b of bmos) b.stop();
        await server?.stop();
    });

    it("BMO's calculateBackoff: 2^n minutes minus up to half, n capped at 9", () => {
        assert.equal(bmoBackoff(1, 60_000, 0), 120_000);
        assert.ok(Math.abs(bmoBackoff(1, 60_000, 0.999999) - 60_000) < 1);
        assert.equal(bmoBackoff(3, 10, 0.5), 60);
        assert.equal(bmoBackoff(12, 1, 0), bmoBackoff(9, 1, 0));
    });

    it("an inspection error is retried after BMO's backoff with the error cleared, errorCount growing, and reset on success", async () => {
        const ns = "sim-glitch";
        const minuteMs = 20;
        const sim = bmo([ns], { minuteMs });
        sim.failHost("g-0", { state: "inspecting", times: 2, errorMessage: "timeout reached while inspecting the node" });
        const rec = recorder(server, ns);
        put(ns, spec("g-0", 1));
        await sim.waitForState(ns, ["g-0"], "available");
        rec.stop();
        const statuses = rec.of("g-0");
        const inspecting = statuses.filter((s) => s.provisioning?.state === "inspecting");
        const errors = inspecting.filter((s) => s.operationalStatus === "error");
        assert.deepEqual(errors.map((s) => [s.errorType, s.errorMessage, s.errorCount]), [
            ["inspection error", "timeout reached while inspecting the node", 1],
            ["inspection error", "timeout reached while inspecting the node", 2],
        ]);
        // Each retry starts with the error cleared (errorCount kept), no sooner than 2^(n-1) BMO-minutes.
        for (const e of errors) {
            const restart = inspecting.find((s) => s.at >= e.at && s.operationalStatus === "OK" && s.errorCount === e.errorCount);
            assert.ok(restart, `restart after error ${e.errorCount}`);
            assert.ok(restart.at - e.at >= 2 ** (e.errorCount - 1) * minuteMs - 2, `retried ${restart.at - e.at} ms after error ${e.errorCount}`);
        }
        const last = statuses.at(-1)!;
        assert.equal(last.operationalStatus, "OK");
        assert.equal(last.errorCount, 0);
        assert.equal(sim.stats.injectedErrors, 2);
    });

    it("a power error on an available host keeps the state `available`; BMO retries the power change and clears it", async () => {
        const ns = "sim-power";
        const sim = bmo([ns]);
        sim.failHost("pw-0", { state: "available", times: 1 });
        const rec = recorder(server, ns);
        put(ns, spec("pw-0", 2));
        await sim.waitFor((hs) => hs[0]?.status?.poweredOn === true && hs[0].status.provisioning.state === "available", { namespace: ns });
        rec.stop();
        const err = rec.of("pw-0").find((s) => s.operationalStatus === "error")!;
        assert.equal(err.provisioning.state, "available");
        assert.equal(err.errorType, "power management error");
        assert.equal(err.poweredOn, false);
        const h = sim.hostStatus(ns, "pw-0");
        assert.equal(h.operationalStatus, "OK");
        assert.equal(h.errorCount, 0);
    });

    it("random transient errors (seeded) hit a share of hosts once; every host still reaches available", async () => {
        const ns = "sim-random";
        const sim = bmo([ns], { seed: 3, transientErrors: { rate: 0.3, states: ["inspecting"] } });
        const rec = recorder(server, ns);
        for (let i = 0; i < 20; i++) put(ns, spec(`r-${i}`, 10 + i));
        await sim.waitForState(ns, 20, "available");
        rec.stop();
        const erred = new Set(rec.seen.filter((e) => e.status.operationalStatus === "error").map((e) => e.name));
        assert.ok(erred.size > 0 && erred.size < 20, `${erred.size} of 20 hosts erred`);
        assert.equal(sim.stats.injectedErrors, erred.size, "one failed attempt each");
        for (const e of rec.seen.filter((x) => x.status.operationalStatus === "error")) {
            assert.equal(e.status.errorType, "inspection error");
            assert.equal(e.status.errorCount, 1);
        }
    });

    it("PROVISIONING_LIMIT counts a preparing host too: the next host waits `delayed` while it prepares", async () => {
        const ns = "sim-limit";
        const sim = bmo([ns], { provisioningLimit: 1, minuteMs: 5, delays: { registering: 10, inspecting: 20, preparing: 150, power: 5 } });
        const rec = recorder(server, ns);
        put(ns, spec("l-0", 30, { inspectionMode: "disabled" }));
        await sim.waitForState(ns, ["l-0"], "preparing");
        put(ns, spec("l-1", 31));
        await sim.waitForState(ns, ["l-0", "l-1"], "available");
        rec.stop();
        const prepared = rec.of("l-0").find((s) => s.provisioning?.state === "available")!.at;
        const l1 = rec.of("l-1");
        assert.ok(l1.some((s) => s.operationalStatus === "delayed" && s.provisioning.state === "registering"), "l-1 was delayed");
        assert.ok(l1.find((s) => s.provisioning?.state === "inspecting")!.at >= prepared, "l-1 inspected only once l-0 was no longer busy");
        assert.equal(sim.stats.maxBusy, 1);
    });

    it("a delayed host is re-checked after BMO's backoff (1–2 BMO-minutes), not as soon as capacity frees", async () => {
        const ns = "sim-delay";
        const minuteMs = 300;
        const sim = bmo([ns], { provisioningLimit: 1, minuteMs, delays: { registering: 10, inspecting: 100, preparing: 50, power: 5 } });
        const rec = recorder(server, ns);
        put(ns, spec("d-0", 40));
        await sim.waitForState(ns, ["d-0"], "inspecting");
        put(ns, spec("d-1", 41));
        await sim.waitForState(ns, ["d-0", "d-1"], "available");
        rec.stop();
        const freed = rec.of("d-0").find((s) => s.provisioning?.state === "available")!.at;
        const l1 = rec.of("d-1");
        const delayedAt = l1.find((s) => s.operationalStatus === "delayed")!.at;
        const inspectedAt = l1.find((s) => s.provisioning?.state === "inspecting")!.at;
        assert.ok(inspectedAt > freed);
        assert.ok(inspectedAt - delayedAt >= minuteMs - 2, `re-checked ${inspectedAt - delayedAt} ms after the delay (capacity freed after ${freed - delayedAt} ms)`);
        assert.ok(sim.stats.delays >= 1);
    });

    it("observeBmh: transient until errorCount reaches maxErrorCount or the error outlasts its grace; the state decides first", () => {
        const policy = errorPolicy({});
        assert.deepEqual(policy, { maxErrorCount: BMH_ERROR_POLICY.maxErrorCount, errorGraceMs: BMH_ERROR_POLICY.errorGraceSeconds * 1000 });
        assert.deepEqual(errorPolicy({ maxErrorCount: 2, errorGraceSeconds: 0 }), { maxErrorCount: 2, errorGraceMs: 0 });
        const bmh = (state: string, status: Record<string, unknown>) => ({ metadata: { name: "h" }, status: { provisioning: { state }, ...status } });
        const err = { operationalStatus: "error", errorType: "inspection error", errorMessage: `BMC said ${PASSWORD}` };
        assert.deepEqual(observeBmh(bmh("inspecting", { ...err, errorCount: 1 }), "available", [PASSWORD], policy, 1000), {
            state: "inspecting",
            retrying: "inspection error: BMC said *** (errorCount 1; BMO retries)",
        });
        assert.deepEqual(observeBmh(bmh("inspecting", { ...err, errorCount: 4 }), "available", [PASSWORD], policy, 0), { state: "inspecting", error: "inspection error: BMC said ***" });
        assert.equal(observeBmh(bmh("inspecting", { ...err, errorCount: 1 }), "available", [PASSWORD], policy, 600_000).error, "inspection error: BMC said ***");
        const power = { operationalStatus: "error", errorType: "power management error", errorMessage: "Redfish 503", errorCount: 9 };
        assert.deepEqual(observeBmh(bmh("available", power), "available", [], policy, 3_600_000), { state: "available", retrying: "power management error: Redfish 503 (errorCount 9; BMO retries)" });
        assert.equal(observeBmh(bmh("available", power), "provisioned", [], policy, 3_600_000).error, "power management error: Redfish 503");
    });

    describe("BareMetalHostBatch (rebuilt from __provider) against the simulated BMO", () => {
        const batches: Record<string, { provider: ReturnType<typeof rebuildProvider>; inputs: Record<string, any> }> = {};
        let glitchy: SimulatedBmo;
        let fast: SimulatedBmo;
        let slow: SimulatedBmo;
        const logs: string[] = [];
        const realLog = console.log;

        before(async () => {
            const kubeconfig = server.kubeconfigYaml();
            const common = { kubeconfig, bmcUsername: "admin", bmcPassword: PASSWORD, timeoutSeconds: 30, watchTimeoutSeconds: 30 };
            const hosts = (prefix: string) => Array.from({ length: 5 }, (_, i) => spec(`${prefix}-${i}`, 0x80 + i));
            const run = await runProgram(() => {
                new BareMetalHostBatch("glitch", { ...common, namespace: "p-glitch", batch: 0, hosts: hosts("pg") });
                new BareMetalHostBatch("persist", { ...common, namespace: "p-persist", batch: 1, hosts: hosts("pp") });
                new BareMetalHostBatch("grace", { ...common, namespace: "p-grace", batch: 2, hosts: hosts("pr"), errorGraceSeconds: 1 });
                new BareMetalHostBatch("power", { ...common, namespace: "p-power", batch: 3, hosts: hosts("pw") });
            }, { stack: "transient", config: {} });
            for (const r of run.resources.filter((x) => x.type.startsWith("pulumi-nodejs:dynamic"))) batches[r.name] = { provider: rebuildProvider(r.inputs.__provider), inputs: r.inputs };
            // A BMO-minute of 10 ms; 500 ms where the provider must see the glitch (it lasts 0.5–1 s); a real minute where the error must last.
            fast = bmo(["p-persist"]);
            glitchy = bmo(["p-glitch"], { minuteMs: 500 });
            slow = bmo(["p-grace", "p-power"], { minuteMs: 60_000 });
            console.log = (...args: unknown[]) => void logs.push(args.map(String).join(" "));
        });

        after(() => {
            console.log = realLog;
        });

        const failure = async (run: () => Promise<unknown>): Promise<Error & { properties: Record<string, any> }> => {
            try {
                await run();
            } catch (e) {
                return e as Error & { properties: Record<string, any> };
            }
            throw new Error("expected the batch to fail");
        };

        it("check() refuses a bad error policy, naming the input", async () => {
            const { provider, inputs } = batches["glitch"];
            assert.deepEqual((await provider.check({}, { ...inputs, maxErrorCount: 2, errorGraceSeconds: 0 })).failures, []);
            const bad = (await provider.check({}, { ...inputs, maxErrorCount: 0, errorGraceSeconds: -1 })).failures ?? [];
            assert.deepEqual(bad.map((f: { property: string }) => f.property), ["maxErrorCount", "errorGraceSeconds"]);
            assert.match(bad[0].reason, /integer >= 1.*got 0/);
        });

        it("a brief glitch on the last host does not fail the batch; BMO's message shows in progress", async () => {
            const sim = glitchy;
            sim.failHost("pg-4", { state: "inspecting", times: 1, errorMessage: `timeout reaching the BMC (password ${PASSWORD})` });
            const res = await batches["glitch"].provider.create(batches["glitch"].inputs);
            assert.equal(res.outs.status.ready, true);
            assert.deepEqual(res.outs.status.counts, { available: 5 });
            const line = logs.find((l) => l.includes("pg-4: inspecting: inspection error: timeout reaching the BMC"));
            assert.ok(line, "the retried error was shown");
            assert.match(line, /errorCount 1; BMO retries/);
            assert.ok(!logs.some((l) => l.includes(PASSWORD)), "BMO's message is redacted");
        });

        it("a persistent error still fails the batch once errorCount reaches maxErrorCount, naming the host and BMO's message", async () => {
            const sim = fast;
            sim.failHost("pp-2", { state: "inspecting", errorMessage: "timeout waiting for IPA ramdisk" });
            const err = await failure(() => batches["persist"].provider.create(batches["persist"].inputs));
            assert.match(err.message, /hosts failed/);
            assert.match(err.message, /pp-2: inspecting: inspection error: timeout waiting for IPA ramdisk/);
            assert.deepEqual(err.properties.status.counts, { available: 4, "inspecting (error)": 1 });
            assert.ok(sim.hostStatus("p-persist", "pp-2").errorCount >= BMH_ERROR_POLICY.maxErrorCount);
            sim.clearFailure("pp-2");
        });

        it("an error BMO does not clear within errorGraceSeconds fails the host though errorCount stays low", async () => {
            const sim = slow;
            sim.failHost("pr-1", { state: "inspecting", errorMessage: "inspection failed: no IPA heartbeat" });
            const err = await failure(() => batches["grace"].provider.create(batches["grace"].inputs));
            assert.match(err.message, /pr-1: inspecting: inspection error: inspection failed: no IPA heartbeat/);
            assert.equal(sim.hostStatus("p-grace", "pr-1").errorCount, 1);
        });

        it("a power error on a host already available is not a failure (create, then refresh)", async () => {
            const sim = slow;
            sim.failHost("pw-3", { state: "available", errorMessage: "Failed to set power state: 503" });
            const { provider, inputs } = batches["power"];
            const res = await provider.create(inputs);
            assert.equal(res.outs.status.ready, true);
            await sim.waitFor((hs) => hs.some((h) => h.metadata.name === "pw-3" && h.status?.errorType === "power management error"), { namespace: "p-power" });
            const read = await provider.read(res.id, res.outs);
            assert.equal(read.props.status.ready, true);
            assert.deepEqual(read.props.status.failures, []);
            assert.deepEqual(read.props.status.counts, { available: 5 });
            assert.ok(logs.some((l) => l.includes("pw-3: available: power management error: Failed to set power state: 503")));
            sim.clearFailure();
        });
    });
});
