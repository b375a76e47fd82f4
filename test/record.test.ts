// The run record without any system behind it: path classes, run dirs and
// run.json, buffered JSON Lines, warn-once on an unwritable dir, and the batch
// core recording an operation (with an in-memory driver) without a secret.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BatchInputs, HostDriver, makeBatchProvider } from "../components/enroll/batchProvider";
import { loadLabConfig } from "../components/config/load";
import { eventsFile } from "../components/record/format";
import { BatchRecord } from "../components/record/observer";
import { pathClass } from "../components/record/pathClass";
import { createRun, latestRunDir, runIdAt, runsRoot } from "../components/record/run";
import { JsonlWriter } from "../components/record/writer";
import { filesUnder, readEvents } from "./support/runRecord";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("run record", () => {
    let tmp: string;
    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "record-test-"));
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("classes request paths: ids replaced, query dropped", () => {
        assert.equal(pathClass("ironic", "/v1/nodes/9d3b2c1e-0000-4000-8000-000000000001/states/provision"), "/v1/nodes/{node}/states/provision");
        assert.equal(pathClass("ironic", "/v1/nodes/9d3b2c1e-0000-4000-8000-000000000001?fields=uuid,name"), "/v1/nodes/{node}");
        assert.equal(pathClass("ironic", "/v1/nodes/abc/maintenance"), "/v1/nodes/{node}/maintenance");
        assert.equal(pathClass("ironic", "/v1/nodes?fields=uuid&description_contains=%5Bmetal3-scale-lab%3Adev%2Fb%5D"), "/v1/nodes");
        assert.equal(pathClass("ironic", "/v1/nodes/detail?description_contains=x"), "/v1/nodes/detail");
        assert.equal(pathClass("ironic", "/v1/ports"), "/v1/ports");
        assert.equal(pathClass("kubernetes", "/api/v1/namespaces/metal3/secrets/host-0-bmc-secret"), "/api/v1/namespaces/{namespace}/secrets/{name}");
        assert.equal(pathClass("kubernetes", "/apis/metal3.io/v1alpha1/namespaces/metal3/baremetalhosts?labelSelector=a%3Db"), "/apis/metal3.io/v1alpha1/namespaces/{namespace}/baremetalhosts");
        assert.equal(pathClass("kubernetes", "/apis/metal3.io/v1alpha1/namespaces/m/baremetalhosts/h1/status"), "/apis/metal3.io/v1alpha1/namespaces/{namespace}/baremetalhosts/{name}/status");
        assert.equal(pathClass("kubernetes", "/api/v1/namespaces/metal3"), "/api/v1/namespaces/{name}");
        assert.equal(pathClass("fkas", "/register"), "/register");
    });

    it("names runs by UTC time and events files by batch label", () => {
        assert.equal(runIdAt(new Date("2026-03-04T05:06:07.890Z")), "20260304T050607Z");
        assert.equal(eventsFile("dev/ironic-batch-003"), "events/dev_ironic-batch-003.jsonl");
        assert.equal(runsRoot({ METAL3_LAB_RUNS: "/x/y" }, "/p"), "/x/y");
        assert.equal(runsRoot({}, "/p"), "/p/runs");
    });

    it("creates one run dir per run (suffix when taken), run.json without a secret, and a latest link", () => {
        const cfg = loadLabConfig({ mode: "ironic", nodes: "30", conductors: "3" }, "rec");
        const at = new Date("2026-01-02T03:04:05Z");
        const machine = { cpus: 2, cpuModel: "test cpu", memoryBytes: 1024, platform: "linux", release: "6", node: "v22" };
        const first = createRun(cfg, { root: tmp, now: at, machine });
        const second = createRun(cfg, { root: tmp, now: at, machine });
        assert.equal(first, path.join(tmp, "rec", "20260102T030405Z"));
        assert.equal(second, path.join(tmp, "rec", "20260102T030405Z-2"));
        assert.equal(fs.statSync(first).mode & 0o777, 0o700);
        assert.equal(fs.statSync(path.join(tmp, "rec")).mode & 0o777, 0o700);
        assert.equal(latestRunDir(first), second, "latest points at the newest run");
        const file = path.join(second, "run.json");
        assert.equal(fs.statSync(file).mode & 0o777, 0o600);
        const info = JSON.parse(fs.readFileSync(file, "utf8"));
        assert.deepEqual(Object.keys(info), ["format", "runId", "stack", "project", "startedAt", "config", "machine"]);
        assert.deepEqual(
            { format: info.format, runId: info.runId, stack: info.stack, project: info.project, startedAt: info.startedAt },
            { format: 1, runId: "20260102T030405Z-2", stack: "rec", project: "metal3-scale-lab", startedAt: "2026-01-02T03:04:05.000Z" },
        );
        assert.deepEqual(Object.keys(info.config), ["mode", "nodes", "conductors", "sushyContainers", "fakeIpaContainers", "hostsPerSushy", "batchSize", "maxBatchesInFlight", "clusters", "workersPerCluster", "inspectHosts", "targetState", "images"]);
        assert.equal(info.config.conductors, 3);
        assert.equal(info.config.images.ironic, cfg.images.ironic);
        assert.deepEqual(info.machine, machine);
    });

    it("records nothing and warns once when the runs root cannot be written, without failing", () => {
        const blocker = path.join(tmp, "a-file");
        fs.writeFileSync(blocker, "");
        const warnings: string[] = [];
        const cfg = loadLabConfig({ mode: "ironic", nodes: "10" }, "rec");
        assert.equal(createRun(cfg, { root: blocker, warn: (m) => warnings.push(m) }), "");
        assert.equal(createRun(cfg, { root: blocker, warn: (m) => warnings.push(m) }), "");
        assert.equal(warnings.length, 1, warnings.join("\n"));
        assert.match(warnings[0], /no run record for this run/);
    });

    it("buffers events and writes them in one append per flush, at most flushMs after the first", async () => {
        const writer = new JsonlWriter(tmp, "events/b.jsonl", { flushMs: 150 });
        const file = path.join(tmp, "events/b.jsonl");
        const appends: string[] = [];
        const real = fs.promises.appendFile;
        (fs.promises as any).appendFile = (f: string, ...rest: unknown[]) => (appends.push(f), (real as any)(f, ...rest));
        try {
            for (let i = 0; i < 1000; i++) writer.write({ t: i, kind: "transition" });
            assert.equal(fs.existsSync(file), false, "nothing written per event");
            await sleep(400);
            assert.equal(appends.length, 1, "one append for the whole buffer");
            assert.equal(readEvents(file).length, 1000);
            writer.write({ t: 1000, kind: "op" });
            await writer.flush();
            assert.equal(appends.length, 2);
            assert.equal(readEvents(file).length, 1001);
            assert.equal(fs.statSync(file).mode & 0o777, 0o600);
            assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
        } finally {
            (fs.promises as any).appendFile = real;
        }
    });

    it("warns once per run dir when events cannot be written, then drops them", async () => {
        const blocker = path.join(tmp, "a-file");
        fs.writeFileSync(blocker, "");
        const runDir = path.join(blocker, "run");
        const warnings: string[] = [];
        for (const batch of ["s/b0", "s/b1"]) {
            const r = new BatchRecord(runDir, batch, "hosts", [], { warn: (m) => warnings.push(m) });
            r.operation("create", "start", 1);
            await r.close();
            r.onTransition({ batch, host: "h", from: undefined, to: "x", at: 1 });
            await r.close();
        }
        assert.equal(warnings.length, 1, warnings.join("\n"));
        assert.match(warnings[0], /run record cannot be written .*recording is off, the run goes on/);
    });

    describe("the batch core records each operation", () => {
        const SECRETS = ["pa55-w0rd-xyz", "t0ken-abcdef-123"];
        type H = { name: string };
        type I = BatchInputs<H> & { password: string };
        let broken: string[] = [];
        const driver: HostDriver<H, I> = {
            connectionKeys: ["timeoutSeconds"],
            secrets: (i) => [i.password, SECRETS[1]],
            check: () => [],
            async apply(_i, hosts, { tracker }) {
                for (const h of hosts) tracker.request({ api: "ironic", method: "POST", path: `/v1/nodes?token=${SECRETS[1]}`, status: 201, ms: 3.25, at: Date.now() });
            },
            async waitForHosts(i, { tracker }) {
                for (const h of i.hosts) tracker.observe(h.name, { state: "enroll", conductor: "c1" });
                tracker.request({ api: "ironic", method: "GET", path: "/v1/nodes?description_contains=x", status: 200, ms: 7, at: Date.now() });
                for (const h of i.hosts) {
                    tracker.observe(h.name, broken.includes(h.name) ? { state: "clean failed", error: `BMC said no to ${i.password} and ${SECRETS[1]}`, conductor: "c2" } : { state: "available", conductor: "c1" });
                }
            },
            async observe() {},
            async remove(_i, hosts, { tracker }) {
                for (const h of hosts) tracker.observe(h.name, { state: "deleted" });
            },
        };
        const provider = makeBatchProvider(driver);
        const names = Array.from({ length: 30 }, (_, i) => `h${String(i).padStart(2, "0")}`);
        const inputs = (runDir: string, hosts = names): I => ({ label: "rec/batch-000", hosts: hosts.map((name) => ({ name })), targetState: "available", timeoutSeconds: 5, password: SECRETS[0], runDir });
        const quiet = <T>(fn: () => Promise<T>) => {
            const log = console.log;
            console.log = () => undefined;
            return fn().finally(() => (console.log = log));
        };

        beforeEach(() => {
            broken = [];
        });

        it("create: op start/end, every transition with time and conductor, every request classed", async () => {
            const runDir = path.join(tmp, "rec", "run1");
            const { outs } = await quiet(() => provider.create!(inputs(runDir)));
            assert.equal(outs.status.ready, true);
            const events = readEvents(path.join(runDir, "events/rec_batch-000.jsonl"));
            assert.deepEqual(events[0], { ...events[0], kind: "op", batch: "rec/batch-000", op: "create", phase: "start", units: 30, unit: "hosts", targets: ["available"] });
            assert.deepEqual(events.at(-1), { ...events.at(-1)!, kind: "op", op: "create", phase: "end", ready: true } as any);
            const transitions = events.filter((e) => e.kind === "transition");
            assert.equal(transitions.length, 60);
            assert.deepEqual(transitions[0], { t: transitions[0].t, kind: "transition", batch: "rec/batch-000", unit: "hosts", name: "h00", from: null, to: "enroll", conductor: "c1" });
            assert.ok(transitions.every((e) => Number.isInteger(e.t) && e.t > 1.7e12));
            const requests = events.filter((e) => e.kind === "request");
            assert.equal(requests.length, 31);
            assert.deepEqual(requests[0], { t: requests[0].t, kind: "request", batch: "rec/batch-000", api: "ironic", method: "POST", path: "/v1/nodes", status: 201, ms: 3.3 });
        });

        it("records every failing host whole (not cut at 20) and no secret anywhere", async () => {
            broken = names.slice(0, 25);
            const runDir = path.join(tmp, "rec", "run2");
            const err: any = await quiet(() => provider.create!(inputs(runDir))).catch((e) => e);
            assert.ok(err instanceof Error);
            assert.ok(!err.message.includes("h24"), "the message lists 20");
            const events = readEvents(path.join(runDir, eventsFile("rec/batch-000")));
            const failures = events.filter((e) => e.kind === "failure");
            assert.deepEqual(failures.map((f) => f.kind === "failure" && f.name), broken);
            assert.deepEqual(failures[0], { t: failures[0].t, kind: "failure", batch: "rec/batch-000", name: "h00", state: "clean failed", error: "BMC said no to *** and ***" });
            const end = events.at(-1)!;
            assert.equal(end.kind === "op" && end.ready, false);
            assert.match(end.kind === "op" ? end.reason! : "", /^rec\/batch-000: hosts failed: 25 of 30 hosts not available:$/);
            for (const file of filesUnder(tmp)) {
                const text = fs.readFileSync(file, "utf8");
                for (const s of SECRETS) assert.ok(!text.includes(s), `${file} holds a secret`);
            }
        });

        it("update and delete append to the batch's file; delete records into the stack's latest run", async () => {
            const cfg = loadLabConfig({ mode: "ironic", nodes: "10" }, "rec");
            const first = createRun(cfg, { root: tmp, now: new Date("2026-01-01T00:00:00Z") });
            const { outs } = await quiet(() => provider.create!(inputs(first, names.slice(0, 3))));
            const update = await quiet(() => provider.update!("rec/batch-000", outs, inputs(first, names.slice(0, 2))));
            const file = path.join(first, eventsFile("rec/batch-000"));
            const ops = () => readEvents(file).filter((e) => e.kind === "op").map((e) => e.kind === "op" && `${e.op} ${e.phase} ${e.units}`);
            assert.deepEqual(ops(), ["create start 3", "create end 3", "update start 3", "update end 3"]);
            assert.ok(readEvents(file).some((e) => e.kind === "transition" && e.name === "h02" && e.to === "deleted"));
            // A later `pulumi up` made a newer run; the batch's stored runDir is still the first.
            const second = createRun(cfg, { root: tmp, now: new Date("2026-01-01T01:00:00Z") });
            await quiet(() => provider.delete!("rec/batch-000", update.outs));
            assert.deepEqual(ops(), ["create start 3", "create end 3", "update start 3", "update end 3"]);
            const deleted = readEvents(path.join(second, eventsFile("rec/batch-000")));
            assert.deepEqual(deleted.filter((e) => e.kind === "op").map((e) => e.kind === "op" && `${e.op} ${e.phase} ${e.units}`), ["delete start 2", "delete end 2"]);
        });

        it("a new runDir alone never changes a batch; an empty runDir records nothing", async () => {
            const { outs } = await quiet(() => provider.create!(inputs("")));
            assert.equal(fs.readdirSync(tmp).length, 0, "nothing written without a run dir");
            assert.equal((await provider.diff!("rec/batch-000", outs, inputs(path.join(tmp, "another")))).changes, false);
        });

        it("a run dir that cannot be written warns once and never fails the batch", async () => {
            const blocker = path.join(tmp, "a-file");
            fs.writeFileSync(blocker, "");
            const warnings: string[] = [];
            const warn = console.warn;
            console.warn = (m: string) => void warnings.push(m);
            try {
                const { outs } = await quiet(() => provider.create!(inputs(path.join(blocker, "run"))));
                assert.equal(outs.status.ready, true);
                await quiet(() => provider.create!(inputs(path.join(blocker, "run"))));
            } finally {
                console.warn = warn;
            }
            assert.equal(warnings.length, 1, warnings.join("\n"));
        });
    });
});
