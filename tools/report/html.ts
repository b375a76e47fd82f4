// Small HTML helpers shared by the run page and the compare page: escaping, tables, the page
// shell (inline CSS only: the file must open with no network).
import { formatDuration } from "../../components/enroll/bounded";
import type { Spread } from "../stats/percentile";

export function esc(text: unknown): string {
    return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** A table: cells are plain values (escaped) unless wrapped by raw(). */
export interface Raw {
    readonly html: string;
}
export const raw = (html: string): Raw => ({ html });
const cell = (v: unknown) => (typeof v === "object" && v !== null && "html" in v ? (v as Raw).html : esc(v));

export function table(head: readonly string[], rows: readonly (readonly unknown[])[], cls = ""): string {
    return `<table class="${esc(cls)}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows
        .map((r) => `<tr>${r.map((v) => `<td>${cell(v)}</td>`).join("")}</tr>`)
        .join("")}</tbody></table>`;
}

export function keyValues(rows: readonly (readonly [string, unknown])[]): string {
    return `<table class="kv"><tbody>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${cell(v)}</td></tr>`).join("")}</tbody></table>`;
}

export const duration = (ms: number | undefined) => (ms === undefined ? "—" : formatDuration(ms));
export const num = (v: number | undefined, digits = 1) => (v === undefined ? "—" : Number.isInteger(v) ? String(v) : v.toFixed(digits));
export const spreadText = (s: Spread, unit: string) => (s.count === 0 ? "—" : `${num(s.p50)} / ${num(s.p90)} / ${num(s.p99)} ${unit}`);

export interface RenderedChart {
    readonly id: string;
    readonly title: string;
    readonly caption: string;
    readonly svg: string;
}

export function chartSection(c: RenderedChart): string {
    return `<section class="chart" data-chart="${esc(c.id)}"><h3>${esc(c.title)}</h3><p class="caption">${esc(c.caption)}</p><div class="svg">${c.svg}</div></section>`;
}

const CSS = `
body{font-family:sans-serif;margin:0;padding:16px 24px;color:#222;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:0 0 2px}.sub{color:#666;margin:0 0 12px}
.banner{background:#fff3cd;border:1px solid #e0c36a;padding:8px 12px;margin:8px 0}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(760px,1fr));gap:16px}
.charts.wide{grid-template-columns:1fr}
details summary{cursor:pointer;color:#444;font-size:13px;margin:6px 0}
.chart{background:#fff;border:1px solid #e3e3e3;padding:10px 12px;overflow-x:auto}
.caption{color:#555;font-size:13px;margin:0 0 6px}
.cols{display:flex;flex-wrap:wrap;gap:24px}
table{border-collapse:collapse;font-size:13px;background:#fff;margin:4px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
thead th{background:#f0f0f0}table.kv th{background:#f6f6f6;font-weight:normal;color:#555}
td.err,.err{color:#b00020;white-space:pre-wrap}
`;

export function page(title: string, body: string): string {
    return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body>
${body}
</body></html>
`;
}
