// Small async helpers for providers: bounded concurrency, sleeps, retry timing, a deadline.

/** Runs `fn` over `items` with at most `limit` in flight; rejects with the first error after all settle. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
    const results: R[] = new Array(items.length);
    const errors: unknown[] = [];
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const i = next++;
            try {
                results[i] = await fn(items[i], i);
            } catch (err) {
                errors.push(err);
            }
        }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
    if (errors.length > 0) throw errors[0];
    return results;
}

/** A slot limiter: at most `limit` of the functions given to it run at once; the others wait their turn, first come first served. */
export function limiter(limit: number): <T>(fn: () => Promise<T>) => Promise<T> {
    let active = 0;
    const queue: (() => void)[] = [];
    return async (fn) => {
        if (active >= Math.max(1, limit)) await new Promise<void>((resolve) => queue.push(resolve));
        else active++;
        try {
            return await fn();
        } finally {
            // The slot passes straight to the next in line, or is given back.
            const next = queue.shift();
            if (next) next();
            else active--;
        }
    };
}

/**
 * The wait before the next look at things that change by themselves (an adaptive poll): each look
 * should find about `want` of them moved on. It shortens (at most halving) when the last look found
 * more, lengthens (at most doubling) when it found fewer, doubles when it found none; always within
 * `floorMs`..`ceilingMs` (a ceiling below the floor wins).
 */
export function nextPollMs(lastMs: number, found: number, want: number, floorMs: number, ceilingMs: number): number {
    const floor = Math.min(floorMs, ceilingMs);
    const factor = found <= 0 ? 2 : Math.min(2, Math.max(0.5, Math.max(1, want) / found));
    return Math.min(ceilingMs, Math.max(floor, Math.round(Math.max(lastMs, floor) * factor)));
}

export function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Milliseconds a Retry-After header asks for (seconds or an HTTP date); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
    const text = Array.isArray(value) ? value[0] : value;
    if (text === undefined || text.trim() === "") return undefined;
    if (/^\s*\d+(\.\d+)?\s*$/.test(text)) return Math.round(Number(text) * 1000);
    const at = Date.parse(text);
    return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Exponential backoff with jitter: attempt 1 waits ~base, each further attempt about doubles, capped. */
export function backoffMs(attempt: number, baseMs = 250, capMs = 10_000, random: () => number = Math.random): number {
    const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** The provider's own time limit: the Node dynamic-provider host ignores customTimeouts. */
export class Deadline {
    private readonly end: number;
    constructor(readonly ms: number, private readonly now: () => number = Date.now) {
        this.end = now() + ms;
    }
    remaining(): number {
        return Math.max(0, this.end - this.now());
    }
    passed(): boolean {
        return this.remaining() === 0;
    }
}

export function formatDuration(ms: number): string {
    const s = Math.round(ms / 1000);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = s % 60;
    return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(sec).padStart(2, "0")}s` : `${sec}s`;
}
