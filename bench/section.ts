// What every bench section shares: its context, what it hands back, and the
// small statistics and table helpers its figures go through. A section never
// asserts: it measures, compares in the same run, and says where a target is
// missed and why.

export interface BenchContext {
    /** `--quick`: smaller sizes and fewer rounds (the whole bench < 3 min). */
    readonly quick: boolean;
    /** Prints a progress or result line as it comes (the console). */
    readonly log: (line: string) => void;
}

export interface BenchSection {
    /** The section's heading in RESULTS.md. */
    readonly title: string;
    /** Markdown body: what was measured and how, the tables, the targets met or missed. */
    readonly markdown: string;
}

export type Bench = (ctx: BenchContext) => Promise<BenchSection>;

export function median(xs: readonly number[]): number {
    if (xs.length === 0) return NaN;
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function min(xs: readonly number[]): number {
    return xs.length === 0 ? NaN : Math.min(...xs);
}

/** A Markdown table; every cell already formatted. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
    const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
    return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** A number with `digits` decimals (or "n/a" when it is not a finite number). */
export function fmt(x: number, digits = 0): string {
    return Number.isFinite(x) ? x.toFixed(digits) : "n/a";
}

/** Wall-clock milliseconds since `start` (from process.hrtime.bigint()). */
export function msSince(start: bigint): number {
    return Number(process.hrtime.bigint() - start) / 1e6;
}
