// The report of REAL runs: IronicNodeBatch providers (rebuilt from `__provider`) enroll hosts in a
// real local Ironic with 1, then 3 conductors, recording each run as `pulumi up` does; the report's
// figures are checked against Ironic itself (nodes, conductors, state timestamps, requests served),
// the pages open in headless Chromium, and --compare puts the two runs side by side.
// REPORT_REAL_RUNS=<dir> keeps the runs and their reports there (e.g. for README's screenshot).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pathToFileURL } from "url";
import { loadLabConfig } from "../components/config/load";
import { IronicNodeBatch } from "../components/enroll/ironicNodeBatch";
import { fakeHardwareNodeSpec } from "../components/enroll/specs";
import { buildInventory, planBatches } from "../components/inventory/inventory";
import { createRun } from "../components/record/run";
import { CHROMIUM, openInChromium } from "../tools/report/browser";
import { runCharts } from "../tools/report/charts";
import { writeCompareReport, writeRunReport } from "../tools/report/write";
import { captureDynamicResources } from "./support/capturedProvider";
import { batchAccess, IronicNode, requireIronicOrSkip, ServedRequest, startIronicLab } from "./support/ironicLocal";
import { requireToolOrSkip } from "./support/requireTool";

const NODES = 24;
const BATCH = 8;

interface RealRun {
    readonly conductors: number;
    readonly runDir: string;
    readonly nodes: IronicNode[];
    readonly served: ServedRequest[];
    readonly conductorHosts: string[];
}

describe("report of real runs against a real Ironic, 1 and 3 conductors @real", function () {
    this.timeout(900_000);
    const keep = process.env.REPORT_REAL_RUNS;
    const root = keep ? path.resolve(keep) : fs.mkdtempSync(path.join(os.tmpdir(), "report-real-"));
    const runs: RealRun[] = [];

    before(function () {
        requireIronicOrSkip(this);
    });
    after(() => {
        if (!keep) fs.rmSync(root, { recursive: true, force: true });
    });

    async function realRun(conductors: number): Promise<RealRun> {
        const lab = await startIronicLab({ conductors, tls: true });
        const realLog = console.log;
        try {
            const cfg = loadLabConfig({ mode: "ironic", nodes: String(NODES), conductors: String(conductors), batchSize: String(BATCH) }, `real-${conductors}c`);
            const runDir = createRun(cfg, { root });
            assert.notEqual(runDir, "");
            const resources = await captureDynamicResources(() => {
                for (const batch of planBatches(buildInventory(cfg), BATCH)) {
                    new IronicNodeBatch(`ironic-batch-${batch.index}`, {
                        label: `${cfg.stack}/ironic-batch-${String(batch.index).padStart(3, "0")}`,
                        hosts: batch.hosts.map(fakeHardwareNodeSpec),
                        targetState: "available",
                        timeoutSeconds: 300,
                        ...batchAccess(lab),
                        runDir,
                    });
                }
            });
            const servedBefore = lab.servedOverTls().length;
            console.log = () => undefined; // the batches' progress lines
            for (const b of resources) {
                const checked = await b.provider.check({}, b.inputs);
                const created = await b.provider.create(checked.inputs);
                assert.equal(created.outs.status.ready, true, JSON.stringify(created.outs.status));
            }
            console.log = realLog;
            const served = lab.servedOverTls().slice(servedBefore);
            return { conductors, runDir, nodes: await lab.listNodes(), served, conductorHosts: [...lab.conductorHosts] };
        } finally {
            console.log = realLog;
            await lab.stop();
        }
    }

    it("reports a real 1-conductor and a real 3-conductor run with the figures Ironic has", async () => {
        for (const conductors of [1, 3]) runs.push(await realRun(conductors));
        for (const run of runs) {
            const files = await writeRunReport(run.runDir, path.join(run.runDir, "report"));
            const s = files.analysis.summary;
            assert.equal(s.conductorsConfigured, run.conductors);
            assert.equal(s.interrupted, false);
            assert.deepEqual([s.units.hosts!.expected, s.units.hosts!.reached, s.units.hosts!.failed], [NODES, NODES, 0]);
            assert.equal(s.batches.length, NODES / BATCH);
            assert.ok(s.batches.every((b) => b.ready === true && b.reached === BATCH));
            // Hosts per conductor: what Ironic says holds each node.
            const perConductor = new Map<string, number>();
            for (const n of run.nodes) perConductor.set(String(n.conductor), (perConductor.get(String(n.conductor)) ?? 0) + 1);
            assert.deepEqual(
                s.conductors.map((c) => [c.conductor, c.hosts]),
                [...perConductor.entries()].sort(([a], [b]) => (a < b ? -1 : 1)),
            );
            assert.ok(s.conductors.every((c) => run.conductorHosts.includes(c.conductor)));
            // Each host reached available when Ironic says it did, give or take a poll.
            const rows = files.analysis.unitRuns;
            for (const n of run.nodes) {
                const row = rows.find((u) => u.name === n.name)!;
                const ironicAt = Date.parse(String(n.provision_updated_at));
                assert.equal(n.provision_state, "available");
                assert.ok(row.reachedAt! >= ironicAt - 1000 && row.reachedAt! - ironicAt < 15_000, `${n.name}: recorded ${row.reachedAt}, Ironic ${ironicAt}`);
            }
            // Every request Ironic's endpoints answered is counted, none twice.
            assert.equal(s.requests, run.served.length);
            assert.equal(
                s.api.filter((a) => a.api === "ironic").reduce((sum, a) => sum + a.count, 0),
                run.served.length,
            );
        }
    });

    it("opens both reports and their comparison in headless Chromium, every chart drawn", async function () {
        requireToolOrSkip(this, CHROMIUM, "apt-get install chromium (.ci/run installs it)");
        assert.equal(runs.length, 2, "the real runs above");
        const cmp = await writeCompareReport(
            runs.map((r) => r.runDir),
            path.join(root, "compare"),
        );
        assert.deepEqual(
            cmp.comparison.rows.map((r) => [r.conductors, r.reached]),
            [
                [1, NODES],
                [3, NODES],
            ],
        );
        assert.equal(cmp.comparison.rows[0].speedup, 1);
        assert.ok(cmp.comparison.rows[1].speedup! > 0 && Number.isFinite(cmp.comparison.rows[1].speedupPerAddedConductor));
        const pages = [...runs.map((r) => path.join(r.runDir, "report", "report.html")), cmp.html];
        for (const html of pages) {
            const view = await openInChromium(html);
            assert.deepEqual(view.consoleErrors, [], html);
            assert.deepEqual(view.requests, [pathToFileURL(html).href]);
            assert.ok(view.charts.length >= 4);
            for (const c of view.charts) assert.ok(c.dataMarks > 0 && c.width > 100, `${html}: ${c.id}`);
        }
        const { analyzeRun } = await import("../tools/report/analyze");
        const { readRun } = await import("../tools/record/read");
        // A 3-conductor run draws the conductor charts.
        assert.ok(runCharts(analyzeRun(readRun(runs[1].runDir))).some((c) => c.id === "conductor-time"));
    });
});
