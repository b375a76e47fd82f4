// One run's report page: summary table, charts, batches, API requests, every failure.
import type { RunAnalysis } from "./analyze";
import { chartSection, duration, esc, keyValues, num, page, raw, RenderedChart, spreadText, table } from "./html";

const gib = (bytes: number | undefined) => (bytes === undefined ? "—" : `${(bytes / 2 ** 30).toFixed(1)} GiB`);

export function summaryTable(a: RunAnalysis): string {
    const s = a.summary;
    const c = s.config;
    const run = keyValues([
        ["run", `${s.stack ?? "?"}/${s.runId}`],
        ["started", s.startedAt ?? s.start ?? "—"],
        ["mode", c.mode ?? "—"],
        ["hosts (config)", c.nodes ?? "—"],
        ["clusters (config)", c.clusters ?? 0],
        ["conductors", `${s.conductorsConfigured ?? "?"} configured, ${s.conductorsSeen.length} seen holding hosts`],
        ["batch size / in flight", `${c.batchSize ?? "?"} / ${c.maxBatchesInFlight ?? "?"}`],
        ["sushy-tools / fake-ipa containers", `${c.sushyContainers ?? "?"} / ${c.fakeIpaContainers ?? "?"}`],
        ["inspect hosts / target state", `${c.inspectHosts ?? "?"} / ${c.targetState ?? "?"}`],
        ["total time", duration(s.totalMs)],
        ["result", s.interrupted ? raw(`<span class="err">interrupted: an operation has no end in the record</span>`) : "every operation ended"],
        ["failures", s.failures.length],
        ["API requests", s.requests],
    ]);
    const m = s.machine;
    const machine = keyValues([
        ["CPUs", m.cpus ?? "—"],
        ["CPU model", m.cpuModel ?? "—"],
        ["memory", gib(m.memoryBytes)],
        ["platform", `${m.platform ?? "?"} ${m.release ?? ""}`],
        ["node", m.node ?? "—"],
    ]);
    const images = Object.entries(c.images ?? {});
    const imageList = images.length === 0 ? "" : `<details><summary>${images.length} images</summary>${keyValues(images)}</details>`;
    const units = table(
        ["unit", "expected", "seen", "reached", "failed", "not finished", "time to all", "per minute", "time to target p50 / p90 / p99"],
        Object.entries(s.units).map(([kind, u]) => [
            kind,
            u.expected ?? "—",
            u.seen,
            u.reached,
            u.failed,
            u.unfinished,
            duration(u.timeToAllMs),
            num(u.perMinute),
            spreadText(u.timeToTarget, "s"),
        ]),
    );
    return `<div class="cols"><div><h3>Run</h3>${run}</div><div><h3>Units</h3>${units}<h3>Machine</h3>${machine}${imageList}</div></div>`;
}

function batchesTable(a: RunAnalysis): string {
    return table(
        ["batch", "operation", "units", "started", "took", "reached", "failed", "time to target p50 / p90 / p99", "result"],
        a.summary.batches.map((b) => [
            b.batch,
            b.op,
            `${b.units} ${b.unit}`,
            b.start,
            b.interrupted ? "—" : duration(b.durationMs),
            b.reached,
            b.failed,
            spreadText(b.timeToTarget, "s"),
            b.interrupted ? raw(`<span class="err">no end (interrupted)</span>`) : b.ready ? "ready" : raw(`<span class="err">${esc(b.reason ?? "not ready")}</span>`),
        ]),
    );
}

function apiTable(a: RunAnalysis): string {
    return table(
        ["api", "method", "path", "requests", "answers", "latency p50 / p90 / p99", "max"],
        a.summary.api.map((r) => [
            r.api,
            r.method,
            r.path,
            r.count,
            Object.entries(r.byStatus)
                .map(([k, v]) => `${k}: ${v}`)
                .join(", "),
            spreadText(r.latencyMs, "ms"),
            `${num(r.latencyMs.max)} ms`,
        ]),
    );
}

function failuresTable(a: RunAnalysis): string {
    const f = a.summary.failures;
    if (f.length === 0) return `<p>None.</p>`;
    return table(
        ["batch", "unit", "state", "message", "at"],
        f.map((r) => [r.batch, r.name, r.state, raw(`<span class="err">${esc(r.error)}</span>`), r.at]),
        "failures",
    );
}

export function runPage(a: RunAnalysis, charts: readonly RenderedChart[]): string {
    const s = a.summary;
    const skipped = a.summary.skippedLines > 0 ? `<p class="banner">${a.summary.skippedLines} unreadable line(s) in the record were skipped (a run killed mid-write cuts its last line).</p>` : "";
    const interrupted = s.interrupted ? `<p class="banner">This run's record stops before every operation ended: the figures cover what was recorded.</p>` : "";
    const body = `
<h1>Metal3 scale lab run ${esc(s.stack ?? "")}/${esc(s.runId)}</h1>
<p class="sub">${esc(s.config.mode ?? "")} mode, ${esc(s.config.nodes ?? "?")} hosts, ${esc(s.conductorsConfigured ?? "?")} conductors, ${esc(duration(s.totalMs))} recorded</p>
${interrupted}${skipped}
<h2>Summary</h2>
${summaryTable(a)}
<h2>Charts</h2>
<div class="charts">${charts.map(chartSection).join("\n")}</div>
<h2>Batches</h2>
${batchesTable(a)}
<h2>Failures (${s.failures.length})</h2>
${failuresTable(a)}
<h2>API requests</h2>
${apiTable(a)}
`;
    return page(`Run ${s.stack ?? ""}/${s.runId}`, body);
}
