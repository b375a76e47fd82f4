// The report as a person sees it: the page opened in Debian's headless Chromium (installed by
// .ci/run; never skipped under CI=true) with networking cut off renders every chart, logs no
// error and asks for nothing but itself.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pathToFileURL } from "url";
import { analyzeRun } from "../tools/report/analyze";
import { runCharts } from "../tools/report/charts";
import { readRun } from "../tools/record/read";
import { writeCompareReport, writeRunReport } from "../tools/report/write";
import { CHROMIUM, openInChromium, PageView, pngSize } from "../tools/report/browser";
import { requireToolOrSkip } from "./support/requireTool";
import { writeRunFixture } from "./support/runRecordFixture";

function assertRendered(view: PageView, file: string, chartIds: readonly string[], minHeight = 1000): void {
    assert.deepEqual(view.consoleErrors, [], "no console error");
    assert.deepEqual(view.requests, [pathToFileURL(file).href], "the page loads nothing but itself");
    assert.deepEqual(
        view.charts.map((c) => c.id),
        chartIds,
    );
    for (const c of view.charts) {
        assert.ok(c.width > 100 && c.height > 100, `${c.id} is drawn at ${c.width}x${c.height}`);
        assert.ok(c.dataMarks > 0, `${c.id} draws its data`);
        assert.ok(c.texts > 2, `${c.id} has axes and labels`);
    }
    const png = pngSize(view.screenshot);
    assert.equal(png.width, 1600);
    assert.ok(png.height > minHeight, `the screenshot covers the page (${png.height}px)`);
}

describe("report in a browser", function () {
    this.timeout(180_000);
    let tmp: string;
    before(function () {
        requireToolOrSkip(this, CHROMIUM, "apt-get install chromium (.ci/run installs it)");
    });
    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "report-browser-"));
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("renders every chart of a run's report in headless Chromium, offline and without errors", async () => {
        const g = writeRunFixture({ root: tmp, seed: 31, nodes: 90, batchSize: 30, conductors: 3, failures: 4, clusters: 3 });
        const files = await writeRunReport(g.dir, path.join(tmp, "out"));
        const ids = runCharts(analyzeRun(readRun(g.dir))).map((c) => c.id);
        assert.equal(ids.length, 8);
        const view = await openInChromium(files.html);
        assertRendered(view, files.html, ids);
        assert.match(view.bodyText, /Failures \(4\)/);
        fs.writeFileSync(path.join(tmp, "report.png"), view.screenshot);
    });

    it("renders the report of an interrupted run", async () => {
        const g = writeRunFixture({ root: tmp, seed: 32, nodes: 60, batchSize: 20, conductors: 3, failures: 2, interruptAfterMs: 75_000 });
        const files = await writeRunReport(g.dir, path.join(tmp, "out"));
        const view = await openInChromium(files.html);
        assertRendered(view, files.html, runCharts(files.analysis).map((c) => c.id));
        assert.match(view.bodyText, /stops before every operation ended/);
    });

    it("renders a comparison of runs", async () => {
        const one = writeRunFixture({ root: tmp, stack: "c1", seed: 33, nodes: 40, batchSize: 20, conductors: 1, slowdown: 2 });
        const three = writeRunFixture({ root: tmp, stack: "c3", seed: 34, nodes: 40, batchSize: 20, conductors: 3 });
        const files = await writeCompareReport([one.dir, three.dir], path.join(tmp, "cmp"));
        const view = await openInChromium(files.html);
        assertRendered(view, files.html, ["compare-cumulative", "compare-time", "compare-percentiles", "compare-rate"], 600);
    });
});
