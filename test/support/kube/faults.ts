/** Request descriptions, the request log and fault injection for the Kubernetes API test server. */
import { KubeApiError, apiError } from './objects';
import type { KubeApiTestServer } from './server';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'apply' | 'delete' | 'deletecollection' | 'discovery' | 'other';

/** What the server understood of a request (also passed to fault matchers). */
export interface RequestInfo {
    method: string;
    path: string;
    query: Record<string, string>;
    verb: Verb;
    group?: string;
    version?: string;
    resource?: string;
    namespace?: string;
    name?: string;
    subresource?: string;
    fieldManager?: string;
    userAgent?: string;
}

export interface RequestLogEntry extends RequestInfo {
    status: number;
    /** Date.now() when the request arrived */
    at: number;
    durationMs: number;
}

export type RequestMatcher =
    | ((r: RequestInfo) => boolean)
    | Partial<{
          method: string;
          verb: Verb | Verb[];
          resource: string;
          namespace: string;
          name: string;
          subresource: string;
          path: string | RegExp;
      }>;

export function matches(m: RequestMatcher | undefined, r: RequestInfo): boolean {
    if (!m) return true;
    if (typeof m === 'function') return m(r);
    if (m.method && m.method.toUpperCase() !== r.method) return false;
    if (m.verb && !(Array.isArray(m.verb) ? m.verb : [m.verb]).includes(r.verb)) return false;
    if (m.resource && m.resource !== r.resource) return false;
    if (m.namespace && m.namespace !== r.namespace) return false;
    if (m.name && m.name !== r.name) return false;
    if (m.subresource !== undefined && m.subresource !== (r.subresource ?? '')) return false;
    if (m.path && (typeof m.path === 'string' ? !r.path.startsWith(m.path) : !m.path.test(r.path))) return false;
    return true;
}

interface Fault {
    remaining: number;
    /** Date.now() after which the fault is disarmed (an outage of a given length) */
    until?: number;
    match?: RequestMatcher;
    kind: 'throttle' | 'fail' | 'delay';
    status?: number;
    /** answered in turn (e.g. 500, 503, 500...) instead of `status` */
    statuses?: number[];
    answered?: number;
    retryAfterSeconds?: number;
    delayMs?: number;
    message?: string;
}

/** Fault injection for the HTTP API (in-process store calls are not affected). */
export class FaultInjector {
    private faults: Fault[] = [];
    private watchCuts: { everyEvents: number; remaining: number; match?: RequestMatcher }[] = [];
    /** Watches cut by dropWatchesEvery so far. */
    watchesCut = 0;

    constructor(private readonly server: KubeApiTestServer) {}

    /** The next `count` matching requests get 429 TooManyRequests with Retry-After. */
    throttle(count: number, retryAfterSeconds = 1, match?: RequestMatcher): this {
        this.faults.push({ kind: 'throttle', remaining: count, retryAfterSeconds, match });
        return this;
    }

    /** The next `count` matching requests fail with `status` (500, 503, 504...). */
    fail(count: number, status = 500, match?: RequestMatcher, message?: string): this {
        this.faults.push({ kind: 'fail', remaining: count, status, match, message });
        return this;
    }

    /** Every matching request fails for the next `ms`, answering `statuses` in turn (an outage: 500/503 for 10 s). */
    failFor(ms: number, statuses: number | number[] = 503, match?: RequestMatcher): this {
        const list = Array.isArray(statuses) ? statuses : [statuses];
        this.faults.push({ kind: 'fail', remaining: Infinity, until: Date.now() + ms, statuses: list, answered: 0, match });
        return this;
    }

    /** Every matching watch is cut (socket destroyed) once it has sent `events` events (bookmarks not counted), `count` times in all. */
    dropWatchesEvery(events: number, match?: RequestMatcher, count = Infinity): this {
        this.watchCuts.push({ everyEvents: events, remaining: count, match });
        return this;
    }

    /** @internal The server asks after each event it sent on a watch whether to cut that watch now. */
    cutWatch(r: RequestInfo, eventsSent: number): boolean {
        const cut = this.watchCuts.find((c) => c.remaining > 0 && eventsSent >= c.everyEvents && matches(c.match, r));
        if (!cut) return false;
        cut.remaining--;
        this.watchesCut++;
        return true;
    }

    /** Adds latency to the next `count` matching requests (default: all). */
    delay(ms: number, match?: RequestMatcher, count = Infinity): this {
        this.faults.push({ kind: 'delay', remaining: count, delayMs: ms, match });
        return this;
    }

    /** Closes every open watch connection abruptly (socket destroyed). */
    dropWatches(): number {
        return this.server.dropWatches();
    }

    /** Forgets the event history: older resourceVersions get 410. */
    compact(): void {
        this.server.compact();
    }

    clear(): void {
        this.faults = [];
        this.watchCuts = [];
    }

    /** Faults still armed. */
    get pending(): number {
        return this.faults.filter((f) => f.remaining > 0).length;
    }

    /** @internal */
    take(r: RequestInfo): { delayMs: number; error?: KubeApiError } {
        let delayMs = 0;
        let error: KubeApiError | undefined;
        const now = Date.now();
        this.faults = this.faults.filter((f) => f.until === undefined || now < f.until);
        for (const f of this.faults) {
            if (f.remaining <= 0 || !matches(f.match, r)) continue;
            if (f.kind === 'delay') {
                f.remaining--;
                delayMs += f.delayMs ?? 0;
                continue;
            }
            if (error) continue;
            f.remaining--;
            if (f.kind === 'throttle') {
                const s = f.retryAfterSeconds ?? 1;
                error = apiError(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: s }, { 'Retry-After': String(s) });
            } else {
                const code = f.statuses ? f.statuses[f.answered!++ % f.statuses.length] : (f.status ?? 500);
                const reason = code === 503 ? 'ServiceUnavailable' : code === 504 ? 'Timeout' : 'InternalError';
                const msg = f.message ?? (code === 503 ? 'the server is currently unable to handle the request' : code === 504 ? 'the server was unable to return a response in the time allotted, but may still be processing the request' : 'Internal error occurred: injected fault');
                error = apiError(code, reason, msg, code === 500 ? { causes: [{ message: f.message ?? 'injected fault' }] } : undefined);
            }
        }
        this.faults = this.faults.filter((f) => f.remaining > 0);
        return { delayMs, error };
    }
}
