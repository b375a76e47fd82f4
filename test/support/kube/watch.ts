/**
 * Watches of the Kubernetes API test server: the event history (a per-resource
 * watch cache that forgets events older than the compaction window, and the
 * etcd compaction revision that bounds continue tokens and exact lists), the
 * fan-out to subscribers and the HTTP watch stream.
 */
import type * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { KubeStatus, clone, makeStatus, apiError } from './objects';
import type { ResourceInfo } from './registry';
import { LabelSelector, FieldSelector } from './selectors';
import type { Rec } from './store';
import type { FaultInjector, RequestInfo } from './faults';
import { objJson } from './http';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface HistoryEvent {
    rv: number;
    type: EventType;
    rec: Rec;
    prev?: Rec;
}

export interface Subscriber {
    resKey: string | null;
    namespace?: string;
    labels?: LabelSelector;
    fields?: FieldSelector;
    deliver: (type: EventType | 'DELETED', rec: Rec, ev: HistoryEvent) => void;
}

export interface WatchHistoryOptions {
    /** Events older than this are forgotten (etcd compaction / watch-cache window, scaled down). */
    windowMs: number;
    /** At most this many events are kept per resource. */
    sizePerResource: number;
    initialResourceVersion: number;
    now: () => number;
}

interface Timed {
    ev: HistoryEvent;
    at: number;
}

/** One resource's events, oldest first; `oldest` is the newest resourceVersion forgotten. */
interface ResourceLog {
    events: Timed[];
    start: number;
    oldest: number;
}

/**
 * History of writes. Per resource (as the apiserver's watch cache): a watch or
 * exact read from resourceVersion N is served when N is at or after the
 * newest event the resource forgot, else 410. Globally (as etcd compaction):
 * the revision current `windowMs` ago; continue tokens older than it expire.
 */
export class WatchHistory {
    private readonly logs = new Map<string, ResourceLog>();
    /** (time, rv) of writes inside the window, to find the revision current windowMs ago */
    private readonly marks: { at: number; rv: number }[] = [];
    private marksStart = 0;
    /** the revision current just before the oldest mark */
    private floor: number;
    private base: number;

    constructor(private readonly opts: WatchHistoryOptions) {
        this.floor = opts.initialResourceVersion;
        this.base = opts.initialResourceVersion;
    }

    get windowMs(): number {
        return this.opts.windowMs;
    }

    record(ev: HistoryEvent): void {
        const at = this.opts.now();
        const log = this.log(ev.rec.res.key);
        log.events.push({ ev, at });
        this.marks.push({ at, rv: ev.rv });
        this.evict(log);
        this.pruneMarks(at - this.opts.windowMs);
    }

    /** Events of a resource older than or equal to this resourceVersion are forgotten. */
    oldestFor(resKey: string): number {
        const log = this.logs.get(resKey);
        if (!log) return this.base;
        this.evict(log);
        return log.oldest;
    }

    /** etcd's compacted revision: the resourceVersion that was current windowMs ago. */
    compactedRevision(): number {
        const cut = this.opts.now() - this.opts.windowMs;
        this.pruneMarks(cut);
        const first = this.marks[this.marksStart];
        return first && first.at <= cut ? first.rv : this.floor;
    }

    /** Keeps the newest mark at or before `cut` and the later ones. */
    private pruneMarks(cut: number): void {
        const m = this.marks;
        while (this.marksStart + 1 < m.length && m[this.marksStart + 1].at <= cut) this.floor = m[this.marksStart++].rv;
        if (this.marksStart > 4096 && this.marksStart > m.length / 2) {
            m.splice(0, this.marksStart);
            this.marksStart = 0;
        }
    }

    /** Number of events retained (all resources). */
    get length(): number {
        let n = 0;
        for (const log of this.logs.values()) {
            this.evict(log);
            n += log.events.length - log.start;
        }
        return n;
    }

    /** Events of a resource after rv, oldest first (rv must be >= oldestFor). */
    eventsSince(resKey: string, rv: number): HistoryEvent[] {
        const log = this.logs.get(resKey);
        if (!log) return [];
        let lo = log.start;
        let hi = log.events.length;
        while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (log.events[mid].ev.rv <= rv) lo = mid + 1;
            else hi = mid;
        }
        return log.events.slice(lo).map((t) => t.ev);
    }

    /** Forgets everything up to `rv` (the current resourceVersion). */
    compact(rv: number): void {
        this.logs.clear();
        this.marks.length = 0;
        this.marksStart = 0;
        this.floor = rv;
        this.base = rv;
    }

    private log(resKey: string): ResourceLog {
        let log = this.logs.get(resKey);
        if (!log) this.logs.set(resKey, (log = { events: [], start: 0, oldest: this.base }));
        return log;
    }

    private evict(log: ResourceLog): void {
        const cut = this.opts.now() - this.opts.windowMs;
        const ev = log.events;
        while (log.start < ev.length && (ev[log.start].at <= cut || ev.length - log.start > this.opts.sizePerResource)) log.oldest = ev[log.start++].ev.rv;
        if (log.start > 1024 && log.start > ev.length / 2) {
            ev.splice(0, log.start);
            log.start = 0;
        }
    }
}

/** How a given event looks to a filtered watcher (null: invisible). */
export function viewFor(sub: { namespace?: string; labels?: LabelSelector; fields?: FieldSelector }, ev: HistoryEvent): { type: EventType; rec: Rec } | null {
    if (sub.namespace !== undefined && ev.rec.res.namespaced && ev.rec.ns !== sub.namespace) return null;
    const m = (r: Rec | undefined) =>
        !!r && (!sub.labels || sub.labels.empty || sub.labels.matches(r.obj.metadata?.labels)) && (!sub.fields || sub.fields.empty || sub.fields.matches(r.obj));
    const filtered = (sub.labels && !sub.labels.empty) || (sub.fields && !sub.fields.empty);
    if (!filtered) return { type: ev.type, rec: ev.rec };
    const cur = m(ev.rec);
    if (ev.type === 'ADDED') return cur ? { type: 'ADDED', rec: ev.rec } : null;
    if (ev.type === 'DELETED') return cur ? { type: 'DELETED', rec: ev.rec } : null;
    const before = m(ev.prev);
    if (cur && before) return { type: 'MODIFIED', rec: ev.rec };
    if (cur) return { type: 'ADDED', rec: ev.rec };
    if (before) {
        // previous content, stamped with the event's resourceVersion (as the watch cache does)
        const old = clone(ev.prev!.obj);
        old.metadata.resourceVersion = String(ev.rv);
        return { type: 'DELETED', rec: { ...ev.prev!, obj: old, json: undefined, listJson: undefined } };
    }
    return null;
}

/** Subscribers by resource (null: every resource); a failing subscriber never breaks a write. */
export class WatchHub {
    private readonly subscribers = new Map<string | null, Set<Subscriber>>();

    add(sub: Subscriber): () => void {
        let set = this.subscribers.get(sub.resKey);
        if (!set) this.subscribers.set(sub.resKey, (set = new Set()));
        set.add(sub);
        return () => {
            set!.delete(sub);
        };
    }

    publish(ev: HistoryEvent): void {
        for (const key of [ev.rec.res.key, null]) {
            const set = this.subscribers.get(key);
            if (!set) continue;
            for (const sub of [...set]) {
                if (!set.has(sub)) continue;
                const v = viewFor(sub, ev);
                if (!v) continue;
                try {
                    sub.deliver(v.type, v.rec, ev);
                } catch (e) {
                    // eslint-disable-next-line no-console
                    console.error('KubeStore subscriber failed:', e);
                }
            }
        }
    }
}

export interface ActiveWatch {
    res: http.ServerResponse;
    socket: Duplex | null;
    close: () => void;
}

/** What the HTTP watch needs of the server. */
export interface WatchContext {
    store: {
        readonly resourceVersion: string;
        oldestResourceVersionOf(res: ResourceInfo): number;
        eventsSinceOf(res: ResourceInfo, rv: number): HistoryEvent[];
        select(res: ResourceInfo, namespace: string | undefined, labels?: LabelSelector, fields?: FieldSelector): Rec[];
        addSubscriber(sub: Subscriber): () => void;
    };
    faults: FaultInjector;
    bookmarkIntervalMs: number;
    /** How long this watch lasts, from the request's timeoutSeconds (undefined: not given). */
    watchDurationMs(timeoutSeconds: number | undefined): number;
    watches: Set<ActiveWatch>;
}

/**
 * Watch duration as the apiserver computes it: timeoutSeconds when given (> 0),
 * else a random duration in [minRequestTimeout, 2 × minRequestTimeout).
 */
export function watchDurationMs(timeoutSeconds: number | undefined, minRequestTimeoutSeconds: number, scale: number, random: () => number = Math.random): number {
    if (timeoutSeconds !== undefined && timeoutSeconds > 0) return timeoutSeconds * 1000 * scale;
    return minRequestTimeoutSeconds * 1000 * (1 + random());
}

/** Serves one watch request: replay from history (or synthetic ADDED), then live events, bookmarks, the timeout. */
export function serveWatch(ctx: WatchContext, res: ResourceInfo, info: RequestInfo, req: http.IncomingMessage, out: http.ServerResponse, log: (s: number) => void): void {
    const q = info.query;
    const labels = LabelSelector.parse(q.labelSelector);
    let fields = FieldSelector.parse(q.fieldSelector, res);
    if (info.name) fields = FieldSelector.parse(`metadata.name=${info.name}`, res);
    const bookmarks = q.allowWatchBookmarks === 'true' || q.allowWatchBookmarks === '1';
    const rvParam = q.resourceVersion ?? '';
    let since: number | undefined;
    if (rvParam !== '' && rvParam !== '0') {
        if (!/^\d+$/.test(rvParam)) throw apiError(400, 'BadRequest', `resourceVersion: Invalid value: ${JSON.stringify(rvParam)}: must be a non-negative integer`);
        since = Number(rvParam);
    }
    let timeoutSeconds: number | undefined;
    if (q.timeoutSeconds !== undefined) {
        timeoutSeconds = Number(q.timeoutSeconds);
        if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0) throw apiError(400, 'BadRequest', `timeoutSeconds: Invalid value: ${JSON.stringify(q.timeoutSeconds)}`);
    }
    const durationMs = ctx.watchDurationMs(timeoutSeconds);
    const sendInitial = q.sendInitialEvents === 'true';
    out.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    out.flushHeaders();
    log(200);
    let corked = false;
    const write = (line: string) => {
        if (out.destroyed || out.writableEnded) return;
        // The events of one tick leave in one socket write, as a real server buffers them:
        // a syscall per event made every writer (the simulated controllers too) pay for each watcher.
        if (!corked) {
            corked = true;
            out.cork();
            process.nextTick(() => {
                corked = false;
                out.uncork();
            });
        }
        out.write(line);
    };
    const eventLine = (type: string, rec: Rec) => `{"type":"${type}","object":${objJson(rec)}}\n`;
    // Events sent on this watch: the fault injector may cut it after some (dropWatchesEvery).
    let sent = 0;
    let cut = false;
    const sendEvent = (type: string, rec: Rec) => {
        write(eventLine(type, rec));
        if (!cut && ctx.faults.cutWatch(info, ++sent)) {
            cut = true;
            setImmediate(() => (req.socket ?? out.socket)?.destroy());
        }
    };
    const bookmark = (extraAnnotations?: Record<string, string>) =>
        write(
            `${JSON.stringify({
                type: 'BOOKMARK',
                object: {
                    kind: res.kind,
                    apiVersion: res.apiVersion,
                    metadata: { resourceVersion: ctx.store.resourceVersion, creationTimestamp: null, ...(extraAnnotations ? { annotations: extraAnnotations } : {}) },
                },
            })}\n`,
        );
    const errorEvent = (status: KubeStatus) => {
        write(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
        out.end();
    };
    const filter = { namespace: res.namespaced ? info.namespace : undefined, labels, fields };
    if (since !== undefined) {
        const oldest = ctx.store.oldestResourceVersionOf(res);
        const current = Number(ctx.store.resourceVersion);
        if (since < oldest) return errorEvent(makeStatus(410, 'Expired', `too old resource version: ${since} (${oldest})`));
        if (since > current) {
            return errorEvent(makeStatus(504, 'Timeout', `Too large resource version: ${since}, current: ${current}`, { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 }));
        }
        for (const ev of ctx.store.eventsSinceOf(res, since)) {
            const v = viewFor(filter, ev);
            if (v) sendEvent(v.type, v.rec);
        }
    } else {
        for (const r of ctx.store.select(res, filter.namespace, labels, fields)) sendEvent('ADDED', r);
        if (sendInitial && bookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
    }
    const w: ActiveWatch = { res: out, socket: req.socket, close: () => undefined };
    const unsubscribe = ctx.store.addSubscriber({
        resKey: res.key,
        ...filter,
        deliver: (type, rec) => sendEvent(type, rec),
    });
    const timers: NodeJS.Timeout[] = [];
    if (bookmarks && ctx.bookmarkIntervalMs > 0) timers.push(setInterval(() => bookmark(), ctx.bookmarkIntervalMs));
    if (Number.isFinite(durationMs) && durationMs > 0) {
        // the cacher sends a bookmark shortly before the watch times out, so the client resumes from a fresh resourceVersion
        if (bookmarks && durationMs > 200) timers.push(setTimeout(() => bookmark(), durationMs - 100));
        timers.push(
            setTimeout(() => {
                cleanup();
                if (!out.writableEnded) out.end();
            }, durationMs),
        );
    }
    let cleaned = false;
    const cleanup = () => {
        if (cleaned) return;
        cleaned = true;
        unsubscribe();
        for (const t of timers) clearTimeout(t);
        ctx.watches.delete(w);
    };
    w.close = cleanup;
    ctx.watches.add(w);
    out.on('close', cleanup);
}
