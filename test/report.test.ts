// `npm run report`: the figures of summary.json, durations.csv and the page are those of the
// record. Records come from test/support/runRecordFixture.ts, which returns what it simulated;
// every expected number below is computed here from that, not by the report's code.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseArgs } from "../tools/cli/args";
import { parseEventLine } from "../tools/record/events";
import { latestRun, listRuns, resolveRun } from "../tools/record/locate";
import { readRun } from "../tools/record/read";
import { analyzeRun, RunSummary } from "../tools/report/analyze";
import { runCharts } from "../tools/report/charts";
import { writeCompareReport, writeRunReport } from "../tools/report/write";
import { GeneratedRun, TruthUnit, writeRunFixture } from "./support/runRecordFixture";

// Nearest rank, written out again on purpose: the oracle must not be the code under test.
function nearestRank(values: number[], p: number): number | undefined {
    const v = [...values].sort((a, b) => a - b);
    if (v.length === 0) return undefined;
    let k = 0;
    while ((k + 1) / v.length < p / 100) k++;
    return v[k];
}
const pcts = (values: number[]) => ({ p50: nearestRank(values, 50), p90: nearestRank(values, 90), p99: nearestRank(values, 99) });
const secondsOf = (u: TruthUnit) => (u.reachedAt! - u.opStart) / 1000;
const reachedOnes = (units: readonly TruthUnit[]) => units.filter((u) => u.reachedAt !== undefined && !u.failure);

/** The record's first event: the first op start (the generator writes nothing earlier). */
const firstEvent = (g: GeneratedRun) => Math.min(...g.truth.ops.map((o) => o.start));

function parseCsv(text: string): Record<string, string>[] {
    const rows: string[][] = [];
    let row: string[] = [];
    let cell = "";
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (quoted) {
            if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
            else if (c === '"') quoted = false;
            else cell += c;
        } else if (c === '"') quoted = true;
        else if (c === ",") row.push(cell), (cell = "");
        else if (c === "\r") continue;
        else if (c === "\n") row.push(cell), rows.push(row), (row = []), (cell = "");
        else cell += c;
    }
    const [head, ...body] = rows;
    return body.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
}

function assertSelfContained(html: string): void {
    assert.doesNotMatch(html, /<script/i, "no script: charts are inline SVG");
    assert.doesNotMatch(html, /<link\b/i, "no stylesheet link");
    assert.doesNotMatch(html, /@import|url\(/i, "no CSS fetch");
    // Only xmlns identifiers may name a URL; nothing is loaded from one.
    const urls = [...html.matchAll(/\b(?:src|href)\s*=\s*["']?([^"'\s>]+)/gi)].map((m) => m[1]);
    assert.deepEqual(urls, [], `no src/href: ${urls.join(", ")}`);
}

describe("report", function () {
    this.timeout(120_000);
    let tmp: string;
    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "report-test-"));
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("writes summary.json, durations.csv and a self-contained page whose numbers match the record", async () => {
        const g = writeRunFixture({ root: tmp, seed: 7, nodes: 75, batchSize: 25, conductors: 3, failures: 4, clusters: 3 });
        const out = path.join(tmp, "out");
        const files = await writeRunReport(g.dir, out);
        const summary = JSON.parse(fs.readFileSync(files.summary, "utf8")) as RunSummary;
        const hosts = g.truth.units.filter((u) => u.unit === "hosts");
        const clusters = g.truth.units.filter((u) => u.unit === "clusters");

        // Units and time to the target.
        for (const [kind, units] of [["hosts", hosts], ["clusters", clusters]] as const) {
            const u = summary.units[kind]!;
            const reached = reachedOnes(units);
            assert.equal(u.expected, kind === "hosts" ? 75 : 3);
            assert.equal(u.seen, units.length);
            assert.equal(u.reached, reached.length);
            assert.equal(u.failed, units.filter((x) => x.failure).length);
            assert.equal(u.unfinished, 0);
            const p = pcts(reached.map(secondsOf));
            assert.deepEqual([u.timeToTarget.p50, u.timeToTarget.p90, u.timeToTarget.p99], [p.p50, p.p90, p.p99], kind);
            const firstStart = Math.min(...g.truth.ops.filter((o) => o.unit === kind).map((o) => o.start));
            assert.equal(u.timeToAllMs, Math.max(...reached.map((x) => x.reachedAt!)) - firstStart);
        }
        assert.equal(summary.units.hosts!.failed, 4);
        assert.equal(summary.totalMs, g.truth.lastEventAt - firstEvent(g));
        assert.equal(summary.interrupted, false);
        assert.equal(summary.conductorsConfigured, 3);

        // Per batch.
        assert.deepEqual(
            summary.batches.map((b) => b.batch),
            g.truth.ops.map((o) => o.batch),
        );
        for (const [i, op] of g.truth.ops.entries()) {
            const b = summary.batches[i];
            const mine = g.truth.units.filter((u) => u.batch === op.batch);
            assert.equal(b.durationMs, op.end! - op.start, op.batch);
            assert.equal(b.reached, reachedOnes(mine).length, op.batch);
            assert.equal(b.failed, mine.filter((u) => u.failure).length, op.batch);
            assert.equal(b.ready, !mine.some((u) => u.failure), op.batch);
            const p = pcts(reachedOnes(mine).map(secondsOf));
            assert.deepEqual([b.timeToTarget.p50, b.timeToTarget.p90, b.timeToTarget.p99], [p.p50, p.p90, p.p99], op.batch);
        }

        // Per conductor.
        const conductors = [...new Set(hosts.map((h) => h.conductor!))].sort();
        assert.deepEqual(summary.conductorsSeen, conductors);
        for (const c of summary.conductors) {
            const mine = hosts.filter((h) => h.conductor === c.conductor);
            assert.equal(c.hosts, mine.length);
            assert.equal(c.reached, reachedOnes(mine).length);
            assert.equal(c.failed, mine.filter((h) => h.failure).length);
            assert.equal(c.timeToTarget.p90, pcts(reachedOnes(mine).map(secondsOf)).p90);
        }

        // API requests.
        assert.equal(summary.requests, g.truth.requests.length);
        const groups = new Map<string, typeof g.truth.requests>();
        for (const r of g.truth.requests) groups.set(`${r.api} ${r.method} ${r.path}`, [...(groups.get(`${r.api} ${r.method} ${r.path}`) ?? []), r]);
        assert.equal(summary.api.length, groups.size);
        for (const a of summary.api) {
            const mine = groups.get(`${a.api} ${a.method} ${a.path}`)!;
            assert.equal(a.count, mine.length);
            assert.equal(a.byStatus["4xx"] ?? 0, mine.filter((r) => r.status >= 400 && r.status < 500).length);
            assert.equal(a.byStatus["no answer"] ?? 0, mine.filter((r) => r.status === 0).length);
            const p = pcts(mine.map((r) => r.ms));
            assert.deepEqual([a.latencyMs.p50, a.latencyMs.p90, a.latencyMs.p99], [p.p50, p.p90, p.p99]);
        }

        // Every failure, whole.
        const failed = g.truth.units.filter((u) => u.failure);
        assert.deepEqual(
            summary.failures.map((f) => `${f.batch} ${f.name} ${f.state} ${f.error}`).sort(),
            failed.map((u) => `${u.batch} ${u.name} ${u.failure!.state} ${u.failure!.error}`).sort(),
        );

        // durations.csv: one row per unit, its seconds and outcome.
        const rows = parseCsv(fs.readFileSync(files.csv, "utf8"));
        assert.equal(rows.length, g.truth.units.length);
        for (const u of g.truth.units) {
            const row = rows.find((r) => r.name === u.name)!;
            assert.equal(row.batch, u.batch);
            assert.equal(row.outcome, u.failure ? "failed" : "reached", u.name);
            if (!u.failure) assert.equal(Number(row.seconds), secondsOf(u), u.name);
            else assert.equal(row.error, u.failure.error);
            assert.equal(row.conductor, u.conductor ?? "");
        }

        // The page: one inline SVG per chart, the table's figures, every failure message.
        const html = fs.readFileSync(files.html, "utf8");
        assertSelfContained(html);
        const ids = [...html.matchAll(/data-chart="([^"]+)"/g)].map((m) => m[1]);
        assert.deepEqual(ids, ["states-hosts", "states-clusters", "time-to-target", "throughput", "conductor-spread", "conductor-time", "api-requests", "api-latency"]);
        assert.equal((html.match(/<svg\b/g) ?? []).length, ids.length);
        for (const u of failed) assert.ok(html.includes(u.failure!.error.replace(/'/g, "&#39;")), u.failure!.error);
        assert.match(html, new RegExp(`<th>hosts \\(config\\)</th><td>75</td>`));
        assert.match(html, new RegExp(`<h2>Failures \\(${failed.length}\\)</h2>`));
    });

    it("turns the record of an interrupted run (an op with no end, a cut last line) into a report", async () => {
        const g = writeRunFixture({ root: tmp, seed: 3, nodes: 60, batchSize: 20, conductors: 3, failures: 3, interruptAfterMs: 80_000 });
        const files = await writeRunReport(g.dir, path.join(tmp, "out"));
        const s = files.analysis.summary;
        assert.equal(s.interrupted, true);
        assert.equal(s.skippedLines, 1, "the cut line is skipped and counted");
        const open = g.truth.ops.filter((o) => o.end === undefined);
        assert.equal(open.length, 1);
        assert.deepEqual(
            s.batches.filter((b) => b.interrupted).map((b) => b.batch),
            open.map((o) => o.batch),
        );
        const seen = g.truth.units.filter((u) => u.lastState !== "unseen");
        const reached = reachedOnes(seen);
        const failed = seen.filter((u) => u.failure);
        assert.ok(reached.length > 0 && reached.length < 60, `a partial run: ${reached.length} hosts reached`);
        assert.equal(s.units.hosts!.seen, seen.length);
        assert.equal(s.units.hosts!.reached, reached.length);
        assert.equal(s.units.hosts!.failed, failed.length);
        assert.equal(s.units.hosts!.unfinished, seen.length - reached.length - failed.length);
        assert.equal(s.units.hosts!.timeToTarget.p50, pcts(reached.map(secondsOf)).p50);
        // Failures of the cut batch have no failure line yet; their transitions still list them.
        assert.deepEqual(s.failures.map((f) => f.name).sort(), failed.map((u) => u.name).sort());
        const html = fs.readFileSync(files.html, "utf8");
        assertSelfContained(html);
        assert.match(html, /stops before every operation ended/);
        assert.match(html, /no end \(interrupted\)/);
    });

    it("--compare puts runs side by side with the speed-up per added conductor", async () => {
        const one = writeRunFixture({ root: tmp, stack: "c1", seed: 11, nodes: 40, batchSize: 20, conductors: 1, slowdown: 2.2 });
        const three = writeRunFixture({ root: tmp, stack: "c3", seed: 12, nodes: 40, batchSize: 20, conductors: 3 });
        const files = await writeCompareReport([one.dir, three.dir], path.join(tmp, "cmp"));
        const rate = (g: GeneratedRun) => {
            const r = reachedOnes(g.truth.units);
            return r.length / (Math.max(...r.map((u) => u.reachedAt!)) - Math.min(...g.truth.ops.map((o) => o.start)));
        };
        const expected = rate(three) / rate(one);
        const [a, b] = files.comparison.rows;
        assert.equal(a.speedup, 1);
        assert.equal(a.conductors, 1);
        assert.equal(b.conductors, 3);
        assert.ok(Math.abs(b.speedup! - expected) < 1e-9, `${b.speedup} vs ${expected}`);
        assert.ok(b.speedup! > 1, "the faster lab shows a speed-up");
        assert.ok(Math.abs(b.speedupPerAddedConductor! - (expected - 1) / 2) < 1e-9);
        const html = fs.readFileSync(files.html, "utf8");
        assertSelfContained(html);
        for (const id of ["compare-cumulative", "compare-time", "compare-percentiles", "compare-rate"]) assert.ok(html.includes(`data-chart="${id}"`), id);
        assert.ok(html.includes(`c1/${one.runId} (1 conductor)`) && html.includes(`c3/${three.runId} (3 conductors)`));
        assert.equal(JSON.parse(fs.readFileSync(files.json, "utf8")).runs.length, 2);
    });

    it("npm run report finds the stack's latest run and writes next to it", () => {
        const g = writeRunFixture({ root: tmp, seed: 5, nodes: 10, batchSize: 5, conductors: 2, failures: 1 });
        writeRunFixture({ root: tmp, seed: 6, runId: "20260101T000000Z", nodes: 4, batchSize: 4, conductors: 1, latest: false });
        const r = spawnSync("npm", ["run", "--silent", "report", "--", "--stack", "lab", "--root", tmp], { cwd: path.join(__dirname, ".."), encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /hosts: 9 reached, 1 failed, 0 not finished/);
        for (const f of ["report.html", "summary.json", "durations.csv"]) assert.ok(fs.existsSync(path.join(g.dir, "report", f)), f);
        const bad = spawnSync(process.execPath, ["--import=tsx", "tools/report/cli.ts", "--stack", "nope", "--root", tmp], { cwd: path.join(__dirname, ".."), encoding: "utf8" });
        assert.notEqual(bad.status, 0);
        assert.match(bad.stderr, /no run of stack nope under/);
    });

    it("reads runs by id, latest (link or file), <stack>/<id> and directory", () => {
        const a = writeRunFixture({ root: tmp, seed: 1, runId: "20260102T000000Z", nodes: 2, batchSize: 2, conductors: 1 });
        writeRunFixture({ root: tmp, seed: 2, runId: "20260102T000000Z-2", nodes: 2, batchSize: 2, conductors: 1, latest: false });
        writeRunFixture({ root: tmp, seed: 3, runId: "20260101T000000Z", nodes: 2, batchSize: 2, conductors: 1, latest: false });
        assert.deepEqual(listRuns(tmp, "lab"), ["20260101T000000Z", "20260102T000000Z", "20260102T000000Z-2"]);
        assert.equal(latestRun(tmp, "lab"), "20260102T000000Z", "the symlink wins");
        fs.rmSync(path.join(tmp, "lab", "latest"));
        assert.equal(latestRun(tmp, "lab"), "20260102T000000Z-2", "else the newest directory");
        fs.writeFileSync(path.join(tmp, "lab", "latest"), "20260101T000000Z\n");
        assert.equal(latestRun(tmp, "lab"), "20260101T000000Z", "a file naming the run");
        assert.equal(resolveRun({ root: tmp, stack: "lab" }, "20260102T000000Z"), a.dir);
        assert.equal(resolveRun({ root: tmp }, "lab/20260102T000000Z"), a.dir);
        assert.equal(resolveRun({ root: "/nonexistent" }, a.dir), a.dir);
        assert.throws(() => resolveRun({ root: tmp, stack: "lab" }, "20990101T000000Z"), /runs: 20260101T000000Z, 20260102T000000Z, 20260102T000000Z-2/);
        assert.throws(() => resolveRun({ root: tmp }), /--stack <name> is required/);
    });

    it("skips and counts lines it cannot read instead of failing", () => {
        assert.ok("skip" in parseEventLine('{"t":1,"kind":"transition","batch":"b","unit":"hosts","na'));
        assert.ok("skip" in parseEventLine('{"t":1,"kind":"newkind","batch":"b"}'));
        assert.ok("skip" in parseEventLine('{"t":"1","kind":"op","batch":"b","op":"create","phase":"start","units":1,"unit":"hosts"}'));
        assert.ok("skip" in parseEventLine('{"t":1,"kind":"request","batch":"b","api":"ironic","method":"GET","path":"/v1","status":"200","ms":1}'));
        assert.ok("event" in parseEventLine('{"t":1,"kind":"transition","batch":"b","unit":"hosts","name":"h","from":null,"to":"enroll","extra":1}'));
        const g = writeRunFixture({ root: tmp, seed: 4, nodes: 4, batchSize: 2, conductors: 1 });
        const file = path.join(g.dir, "events", fs.readdirSync(path.join(g.dir, "events"))[0]);
        fs.appendFileSync(file, '{"t":1,"kind":"newkind","batch":"b"}\nnot json\n');
        const record = readRun(g.dir);
        assert.deepEqual(
            record.skipped.map((s) => s.reason),
            ['unknown kind "newkind"', "not JSON (cut short?)"],
        );
    });

    it("reads a record whose op lines name no targets: the config's target for hosts, ready batches' end states for clusters", () => {
        const opts = { seed: 8, nodes: 30, batchSize: 10, conductors: 2, failures: 2, clusters: 4 };
        const withTargets = analyzeRun(readRun(writeRunFixture({ root: path.join(tmp, "a"), ...opts }).dir)).summary;
        const g = writeRunFixture({ root: path.join(tmp, "b"), ...opts, recordTargets: false });
        assert.doesNotMatch(fs.readFileSync(path.join(g.dir, "events", "lab_cluster-batch-000.jsonl"), "utf8"), /targets/);
        const without = analyzeRun(readRun(g.dir)).summary;
        assert.deepEqual(without.units, withTargets.units);
        assert.equal(without.units.clusters!.reached, 4);
        assert.deepEqual(
            without.batches.map((b) => b.targets),
            [["available"], ["available"], ["available"], ["ready"]],
        );
    });

    it("leaves out a chart with nothing to draw (no conductor recorded: BMO mode hosts)", () => {
        const g = writeRunFixture({ root: tmp, seed: 9, nodes: 6, batchSize: 3, conductors: 2 });
        // The same record without conductors, as a BMH batch writes it.
        for (const f of fs.readdirSync(path.join(g.dir, "events"))) {
            const p = path.join(g.dir, "events", f);
            fs.writeFileSync(p, fs.readFileSync(p, "utf8").replace(/,"conductor":"[^"]*"/g, ""));
        }
        const ids = runCharts(analyzeRun(readRun(g.dir))).map((c) => c.id);
        assert.deepEqual(ids, ["states-hosts", "time-to-target", "throughput", "api-requests", "api-latency"]);
    });

    it("parses the tools' flags", () => {
        const spec = { values: ["stack", "run"], lists: ["compare"], switches: ["once"] };
        const p = parseArgs(["--stack", "s", "--compare", "a", "b", "--once", "--run=r"], spec);
        assert.deepEqual([p.values, p.lists, [...p.switches]], [{ stack: "s", run: "r" }, { compare: ["a", "b"] }, ["once"]]);
        assert.throws(() => parseArgs(["--stack"], spec), /--stack needs a value/);
        assert.throws(() => parseArgs(["--bogus"], spec), /unknown flag --bogus/);
        assert.throws(() => parseArgs(["stray"], spec), /unexpected argument stray/);
    });
});
