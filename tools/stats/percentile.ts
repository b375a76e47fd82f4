// Percentiles by the nearest-rank method: the smallest value with at least p % of the values at or
// below it. Always one of the measured values (no interpolation between two hosts' times).

/** `sorted` ascending; undefined when empty. */
export function percentile(sorted: readonly number[], p: number): number | undefined {
    if (sorted.length === 0) return undefined;
    const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
    return sorted[Math.min(rank, sorted.length) - 1];
}

export interface Spread {
    readonly count: number;
    readonly p50?: number;
    readonly p90?: number;
    readonly p99?: number;
    readonly max?: number;
    readonly mean?: number;
}

export function spread(values: readonly number[]): Spread {
    const sorted = [...values].sort((a, b) => a - b);
    if (sorted.length === 0) return { count: 0 };
    return {
        count: sorted.length,
        p50: percentile(sorted, 50),
        p90: percentile(sorted, 90),
        p99: percentile(sorted, 99),
        max: sorted[sorted.length - 1],
        mean: sorted.reduce((s, v) => s + v, 0) / sorted.length,
    };
}

export const PERCENTILES = ["p50", "p90", "p99"] as const;
