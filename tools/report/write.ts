// Writes a run's report (report.html, summary.json, durations.csv) or a comparison
// (compare.html, compare.json) to a folder.
import * as fs from "fs";
import * as path from "path";
import { readRun } from "../record/read";
import { analyzeRun, RunAnalysis } from "./analyze";
import { Chart, runCharts } from "./charts";
import { compareCharts, comparePage, compareRuns, Comparison } from "./compare";
import { durationsCsv } from "./csv";
import type { RenderedChart } from "./html";
import { runPage } from "./runPage";
import { renderSvg } from "./vega";

export async function renderCharts(charts: readonly Chart[]): Promise<RenderedChart[]> {
    const out: RenderedChart[] = [];
    for (const c of charts) out.push({ id: c.id, title: c.title, caption: c.caption, svg: await renderSvg(c.spec) });
    return out;
}

function writeFile(file: string, text: string): void {
    fs.writeFileSync(file, text, { mode: 0o600 });
}

export interface RunReportFiles {
    readonly html: string;
    readonly summary: string;
    readonly csv: string;
    readonly analysis: RunAnalysis;
}

export async function writeRunReport(runDir: string, outDir: string): Promise<RunReportFiles> {
    const analysis = analyzeRun(readRun(runDir));
    const charts = await renderCharts(runCharts(analysis));
    fs.mkdirSync(outDir, { recursive: true, mode: 0o700 });
    const files = { html: path.join(outDir, "report.html"), summary: path.join(outDir, "summary.json"), csv: path.join(outDir, "durations.csv") };
    writeFile(files.html, runPage(analysis, charts));
    writeFile(files.summary, JSON.stringify(analysis.summary, null, 2) + "\n");
    writeFile(files.csv, durationsCsv(analysis.unitRuns));
    return { ...files, analysis };
}

export interface CompareFiles {
    readonly html: string;
    readonly json: string;
    readonly comparison: Comparison;
}

export async function writeCompareReport(runDirs: readonly string[], outDir: string): Promise<CompareFiles> {
    const runs = runDirs.map((d) => analyzeRun(readRun(d)));
    const comparison = compareRuns(runs);
    const charts = await renderCharts(compareCharts(runs, comparison));
    fs.mkdirSync(outDir, { recursive: true, mode: 0o700 });
    const files = { html: path.join(outDir, "compare.html"), json: path.join(outDir, "compare.json") };
    writeFile(files.html, comparePage(runs, comparison, charts));
    writeFile(files.json, JSON.stringify({ ...comparison, runs: runs.map((r) => r.summary) }, null, 2) + "\n");
    return { ...files, comparison };
}
