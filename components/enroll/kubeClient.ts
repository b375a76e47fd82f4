// A small Kubernetes REST client for batch providers: authentication and TLS
// come from @kubernetes/client-node's KubeConfig (tokens, client
// certificates, exec plugins, proxies), the requests themselves are plain
// HTTP so that every answer's status and Retry-After header are seen:
// 429 waits as long as the server asks, 5xx and connection errors back off
// exponentially with jitter, both for a bounded number of attempts. A watch
// that drops resumes from the last resourceVersion it saw (bookmarks move it
// forward); a 410 Gone relists.
//
// Built inside each provider method (sockets and agents cannot be serialized
// into `__provider`); module-level values are plain arrays and objects only.
import type * as http from "http";
import { backoffMs, parseRetryAfter, sleep } from "./bounded";
import type { ApiRequest } from "./tracker";

// Shared with the Ironic client; re-exported for callers of this module.
export { backoffMs, parseRetryAfter };

export interface KubeClientOptions {
    /** Kubeconfig as YAML text; its current context is used. */
    readonly kubeconfig: string;
    /** Requests in flight at once (sizes the connection pool). */
    readonly maxInFlight?: number;
    /** Attempts per request on 5xx answers and connection errors. */
    readonly maxAttempts?: number;
    /** 429 answers tolerated per request (each waits Retry-After). */
    readonly maxThrottled?: number;
    readonly requestTimeoutMs?: number;
    /**
     * 5xx and connection errors are retried for at least this long (beyond maxAttempts) before a
     * request fails: an API server restarting or an etcd election takes seconds. Default 0.
     */
    readonly retryWindowMs?: number;
    /** Milliseconds left to the caller's deadline: no retry waits past it. */
    readonly remainingMs?: () => number;
    /** First backoff step; doubles per attempt (with jitter) up to maxBackoffMs. */
    readonly backoffBaseMs?: number;
    readonly maxBackoffMs?: number;
    /** Strings never to be shown in an error message (passwords, tokens). */
    readonly redact?: readonly string[];
    /** Told about every request sent (each attempt; a watch as WATCH, until its answer's headers): the run record. */
    readonly onRequest?: (r: ApiRequest) => void;
    /** Told each `Warning` an answer carries (e.g. `unknown field "spec.foo"`, a deprecated API), with the request's method and path. */
    readonly onWarning?: (warning: string, method: string, path: string) => void;
}

export interface KubeList<T> {
    readonly items: T[];
    readonly metadata: { resourceVersion?: string; continue?: string };
}

export interface KubeObject {
    readonly apiVersion?: string;
    readonly kind?: string;
    readonly metadata: {
        readonly name: string;
        readonly namespace?: string;
        readonly resourceVersion?: string;
        readonly deletionTimestamp?: string;
        readonly finalizers?: string[];
        readonly labels?: Record<string, string>;
    };
    readonly [key: string]: unknown;
}

export interface WatchEvent {
    readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
    readonly object: any;
}

/** How one watch request ended. */
export type WatchEnd =
    | { readonly kind: "closed" }
    | { readonly kind: "aborted" }
    | { readonly kind: "gone" }
    | { readonly kind: "failed"; readonly error: Error; readonly status?: number; readonly retryAfterMs?: number };

/** An error answer of the Kubernetes API (never quotes a request body). */
export interface KubeApiError extends Error {
    readonly name: "KubeApiError";
    readonly status: number;
    readonly method: string;
    readonly path: string;
    readonly reason: string;
    readonly retryAfterMs?: number;
}

/** A plain Error with fields: Error subclasses do not survive serialization into `__provider`. */
export function kubeApiError(status: number, method: string, path: string, reason: string, detail: string, retryAfterMs?: number): KubeApiError {
    const message = `Kubernetes ${method} ${path} answered ${status}${reason ? ` ${reason}` : ""}${detail ? `: ${detail}` : ""}`;
    return Object.assign(new Error(message), { name: "KubeApiError" as const, status, method, path, reason, retryAfterMs });
}

export function isKubeApiError(err: unknown): err is KubeApiError {
    return err instanceof Error && err.name === "KubeApiError" && typeof (err as KubeApiError).status === "number";
}

// Module-level values are captured by value into `__provider`: plain arrays survive, Sets and Maps do not.
const RETRYABLE_STATUS: readonly number[] = [429, 500, 502, 503, 504];

/** Replaces every occurrence of each secret (of 4+ characters) with `***`. */
export function redactText(text: string, secrets: readonly string[]): string {
    let out = text;
    for (const s of secrets) if (typeof s === "string" && s.length >= 4) out = out.split(s).join("***");
    return out;
}

/**
 * The texts of `Warning` headers (RFC 7234 `299 - "text"`, as the apiserver sends them; several
 * headers arrive joined with ", ").
 */
export function parseWarnings(header: string | string[] | undefined): string[] {
    const out: string[] = [];
    for (const h of Array.isArray(header) ? header : header ? [header] : []) {
        for (const m of h.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)) {
            try {
                out.push(JSON.parse(`"${m[1]}"`));
            } catch {
                out.push(m[1]);
            }
        }
    }
    return out;
}

function isRetryableStatus(status: number): boolean {
    return RETRYABLE_STATUS.includes(status);
}

/** The `message` of a Kubernetes Status body (never the request), shortened. */
function statusDetail(text: string): { reason: string; message: string } {
    try {
        const body = JSON.parse(text);
        return { reason: String(body.reason ?? ""), message: String(body.message ?? "").slice(0, 300) };
    } catch {
        return { reason: "", message: text.slice(0, 200) };
    }
}

interface RawResponse {
    readonly status: number;
    readonly headers: http.IncomingHttpHeaders;
    readonly text: string;
}

/** Why kubeconfig text cannot be used, or undefined; never quotes the text or the parser's message (credentials). */
export function kubeconfigProblem(kubeconfig: unknown): string | undefined {
    if (typeof kubeconfig !== "string" || kubeconfig.trim() === "") return "kubeconfig must be the YAML text of a kubeconfig";
    try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const k8s = require("@kubernetes/client-node");
        const kc = new k8s.KubeConfig();
        kc.loadFromString(kubeconfig);
        return kc.getCurrentCluster()?.server ? undefined : "kubeconfig has no current context with a cluster server URL";
    } catch {
        return "kubeconfig is not valid kubeconfig YAML";
    }
}

export interface RequestOptions {
    readonly query?: Record<string, string | number | boolean | undefined>;
    readonly body?: unknown;
    readonly contentType?: string;
    /** Statuses answered without an error (e.g. 404 for "already gone"). */
    readonly okStatuses?: readonly number[];
}

export class KubeClient {
    // Fields are assigned in the constructor, never initialized in place: the closure serializer
    // that writes `__provider` keeps only the constructor's body.
    /** Requests sent (retries included), for progress and tests. */
    readonly stats: { requests: number; retries: number; throttled: number; watches: number };
    private readonly maxAttempts: number;
    private readonly retryWindowMs: number;
    private readonly remainingMs: () => number;
    private readonly maxThrottled: number;
    private readonly requestTimeoutMs: number;
    private readonly backoffBaseMs: number;
    private readonly maxBackoffMs: number;
    private readonly secrets: string[];
    private closed: boolean;
    /** `http` or `https`, loaded once (a require per request is slow under loaders). */
    private readonly transport: typeof http;
    private auth: { at: number; headers: Record<string, string>; basic?: string } | undefined;
    private readonly onRequest: ((r: ApiRequest) => void) | undefined;
    private readonly onWarning: ((warning: string, method: string, path: string) => void) | undefined;

    private constructor(
        private readonly kc: any,
        readonly server: URL,
        private readonly agent: http.Agent,
        transport: typeof http,
        options: KubeClientOptions,
    ) {
        this.transport = transport;
        this.auth = undefined;
        this.stats = { requests: 0, retries: 0, throttled: 0, watches: 0 };
        this.closed = false;
        this.maxAttempts = options.maxAttempts ?? 6;
        this.retryWindowMs = options.retryWindowMs ?? 0;
        this.remainingMs = options.remainingMs ?? (() => Number.POSITIVE_INFINITY);
        this.maxThrottled = options.maxThrottled ?? 30;
        this.requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
        this.backoffBaseMs = options.backoffBaseMs ?? 250;
        this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
        this.secrets = [...(options.redact ?? [])];
        this.onRequest = options.onRequest;
        this.onWarning = options.onWarning;
        const user = kc.getCurrentUser?.();
        for (const s of [user?.token, user?.password]) if (typeof s === "string") this.secrets.push(s);
    }

    /** Builds a client from kubeconfig text: no request is sent. */
    static async connect(options: KubeClientOptions): Promise<KubeClient> {
        // Loaded here, not at module level: the provider is rebuilt from `__provider`, where a require in a method works.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const k8s = require("@kubernetes/client-node");
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const nodeHttp = require("http");
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const nodeHttps = require("https");
        const kc = new k8s.KubeConfig();
        try {
            kc.loadFromString(options.kubeconfig);
        } catch {
            // The parser's message may quote the kubeconfig (tokens, keys): never pass it on.
            throw new Error("the kubeconfig could not be parsed as YAML");
        }
        const cluster = kc.getCurrentCluster();
        if (!cluster || typeof cluster.server !== "string") throw new Error("the kubeconfig has no current cluster with a server URL");
        const opts: any = {};
        await kc.applyToHTTPSOptions(opts);
        const agent: http.Agent = opts.agent;
        // client-node's agents do not keep connections alive: reuse them, a batch sends hundreds of requests.
        if (agent && (agent.constructor === nodeHttp.Agent || agent.constructor === nodeHttps.Agent)) {
            (agent as any).keepAlive = true;
            (agent as any).options.keepAlive = true;
            agent.maxSockets = Math.max(4, (options.maxInFlight ?? 10) + 4);
        }
        const server = new URL(cluster.server);
        return new KubeClient(kc, server, agent, server.protocol === "https:" ? nodeHttps : nodeHttp, options);
    }

    close(): void {
        this.closed = true;
        this.agent?.destroy?.();
    }

    /** How long 5xx and connection errors are retried (followCollection uses the same for its watch). */
    retryWindow(): number {
        return this.retryWindowMs;
    }

    redact(text: string): string {
        return redactText(text, this.secrets);
    }

    /** Sends one request, waiting out 429s (Retry-After) and retrying 5xx/connection errors with backoff. */
    async request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<{ status: number; data: T }> {
        const ok = options.okStatuses ?? [];
        let attempts = 0;
        let throttled = 0;
        let firstFailure: number | undefined;
        /** How long to wait before the next attempt, or undefined: give up (attempts and the retry window spent, or the deadline). */
        const retryIn = (retryAfter?: number): number | undefined => {
            firstFailure ??= Date.now();
            const wait = Math.max(retryAfter ?? 0, backoffMs(attempts, this.backoffBaseMs, this.maxBackoffMs));
            const spent = attempts >= this.maxAttempts && Date.now() - firstFailure >= this.retryWindowMs;
            return spent || this.closed || wait >= this.remainingMs() ? undefined : wait;
        };
        while (true) {
            let res: RawResponse;
            try {
                res = await this.send(method, path, options);
            } catch (err) {
                attempts++;
                const error = new Error(`Kubernetes ${method} ${path} failed: ${this.redact(err instanceof Error ? err.message : String(err))}`);
                const wait = retryIn();
                if (wait === undefined) throw error;
                this.stats.retries++;
                await sleep(wait);
                continue;
            }
            if (this.onWarning) for (const w of parseWarnings(res.headers.warning)) this.onWarning(this.redact(w), method, path);
            if (res.status < 300 || ok.includes(res.status)) {
                let data: any;
                try {
                    data = res.text ? JSON.parse(res.text) : undefined;
                } catch {
                    data = undefined;
                }
                return { status: res.status, data: data as T };
            }
            const detail = statusDetail(res.text);
            const retryAfter = parseRetryAfter(res.headers["retry-after"]);
            const error = kubeApiError(res.status, method, path, detail.reason, this.redact(detail.message), retryAfter);
            if (res.status === 429) {
                throttled++;
                if (throttled > this.maxThrottled || this.closed) throw error;
                this.stats.throttled++;
                await sleep(retryAfter ?? backoffMs(throttled, this.backoffBaseMs, this.maxBackoffMs));
                continue;
            }
            if (!isRetryableStatus(res.status)) throw error;
            attempts++;
            const wait = retryIn(retryAfter);
            if (wait === undefined) throw error;
            this.stats.retries++;
            await sleep(wait);
        }
    }

    /**
     * A LIST of every page (500 items each, following `continue` tokens). A continue token that expired
     * mid-way (410: the first page's revision was compacted) restarts the list, at most `maxRestarts` times:
     * the pages must be one snapshot whose resourceVersion a watch can start from. The "inconsistent"
     * token the 410 carries would mix two states and lose changes to the pages already read.
     */
    async list<T>(path: string, query: Record<string, string | number | undefined>, okStatuses: readonly number[] = [], maxRestarts = 3): Promise<{ status: number; list: KubeList<T> }> {
        for (let restarts = 0; ; restarts++) {
            const items: T[] = [];
            let cont: string | undefined;
            let resourceVersion: string | undefined;
            let status = 200;
            try {
                do {
                    const res = await this.request<KubeList<T>>("GET", path, { query: { ...query, limit: 500, continue: cont }, okStatuses });
                    status = res.status;
                    if (res.status >= 300) return { status, list: { items: [], metadata: {} } };
                    items.push(...(res.data?.items ?? []));
                    resourceVersion = res.data?.metadata?.resourceVersion;
                    cont = res.data?.metadata?.continue || undefined;
                } while (cont);
                return { status, list: { items, metadata: { resourceVersion } } };
            } catch (err) {
                if (cont === undefined || !isKubeApiError(err) || err.status !== 410 || restarts >= maxRestarts) throw err;
            }
        }
    }

    /**
     * Opens one watch request. Events are passed to `onEvent` as they arrive;
     * an ERROR event with code 410 ends it as `gone`. `done` says how it ended.
     */
    watch(path: string, query: Record<string, string | number | boolean | undefined>, onEvent: (event: WatchEvent) => void, idleMs: number): { done: Promise<WatchEnd>; abort(): void } {
        this.stats.watches++;
        let req: http.ClientRequest | undefined;
        let aborted = false;
        let finished = false;
        let settle!: (end: WatchEnd) => void;
        const done = new Promise<WatchEnd>((resolve) => {
            settle = (end) => {
                if (finished) return;
                finished = true;
                resolve(aborted ? { kind: "aborted" } : end);
                req?.destroy();
            };
        });
        const fail = (err: unknown, status?: number, retryAfterMs?: number) =>
            settle({ kind: "failed", error: new Error(`Kubernetes watch ${path}: ${this.redact(err instanceof Error ? err.message : String(err))}`), status, retryAfterMs });
        const started = performance.now();
        this.open("GET", path, { ...query, watch: "true" }, undefined, undefined, idleMs)
            .then(({ request, response }) => {
                req = request;
                this.told("WATCH", path, response.statusCode ?? 0, started);
                // Ended (aborted) while the request was being sent: close it now.
                if (finished) return request.destroy();
                if (response.statusCode !== 200) {
                    let text = "";
                    response.setEncoding("utf8");
                    response.on("data", (c: string) => (text += c));
                    response.on("end", () => {
                        const status = response.statusCode ?? 0;
                        if (status === 410) return settle({ kind: "gone" });
                        const detail = statusDetail(text);
                        fail(new Error(`answered ${status} ${detail.reason}: ${detail.message}`), status, parseRetryAfter(response.headers["retry-after"]));
                    });
                    response.on("error", (err) => fail(err));
                    response.on("close", () => fail(new Error("connection closed")));
                    return undefined;
                }
                let buffer = "";
                response.setEncoding("utf8");
                response.on("data", (chunk: string) => {
                    buffer += chunk;
                    let nl: number;
                    while ((nl = buffer.indexOf("\n")) >= 0) {
                        const line = buffer.slice(0, nl).trim();
                        buffer = buffer.slice(nl + 1);
                        if (!line) continue;
                        let event: WatchEvent;
                        try {
                            event = JSON.parse(line);
                        } catch {
                            continue;
                        }
                        if (event.type === "ERROR") {
                            const code = Number(event.object?.code);
                            if (code === 410) return settle({ kind: "gone" });
                            return fail(new Error(`watch error ${code} ${event.object?.reason ?? ""}: ${String(event.object?.message ?? "").slice(0, 300)}`), code);
                        }
                        try {
                            onEvent(event);
                        } catch (err) {
                            return fail(err);
                        }
                        if (aborted) return settle({ kind: "aborted" });
                    }
                    return undefined;
                });
                response.on("end", () => settle({ kind: "closed" }));
                response.on("error", (err) => fail(err));
                response.on("close", () => (response.complete ? settle({ kind: "closed" }) : fail(new Error("connection closed"))));
                return undefined;
            })
            .catch((err) => {
                this.told("WATCH", path, 0, started);
                fail(err);
            });
        return {
            done,
            abort: () => {
                aborted = true;
                settle({ kind: "aborted" });
            },
        };
    }

    private url(path: string, query: Record<string, string | number | boolean | undefined> = {}): URL {
        const base = this.server.href.replace(/\/+$/, "");
        const url = new URL(base + path);
        for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
        return url;
    }

    /** Sends a request and resolves with the response once its headers arrived; `idleMs` of socket silence aborts it. */
    private async open(
        method: string,
        path: string,
        query: RequestOptions["query"],
        body: string | undefined,
        contentType: string | undefined,
        idleMs: number,
    ): Promise<{ request: http.ClientRequest; response: http.IncomingMessage }> {
        const auth = await this.authHeaders();
        const url = this.url(path, query);
        const headers: Record<string, string | number> = { Accept: "application/json", ...auth.headers };
        if (body !== undefined) {
            headers["Content-Type"] = contentType ?? "application/json";
            headers["Content-Length"] = Buffer.byteLength(body);
        }
        this.stats.requests++;
        return new Promise((resolve, reject) => {
            const request = this.transport.request(url, { method, agent: this.agent, headers, auth: auth.basic }, (response) => resolve({ request, response }));
            request.setTimeout(idleMs, () => request.destroy(new Error(`no data for ${Math.round(idleMs / 1000)}s`)));
            request.on("error", reject);
            request.end(body);
        });
    }

    /** Authorization headers from the kubeconfig, asked again every 30 s: exec plugins and token files rotate tokens. */
    private async authHeaders(): Promise<{ headers: Record<string, string>; basic?: string }> {
        if (this.auth && Date.now() - this.auth.at < 30_000) return this.auth;
        const opts: any = {};
        await this.kc.applyToHTTPSOptions(opts);
        opts.agent?.destroy?.();
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k] = String(v);
        this.auth = { at: Date.now(), headers, basic: typeof opts.auth === "string" ? opts.auth : undefined };
        return this.auth;
    }

    /** Passes one request to the hook (never lets the hook break a request). */
    private told(method: string, path: string, status: number, started: number): void {
        try {
            this.onRequest?.({ api: "kubernetes", method, path, status, ms: performance.now() - started, at: Date.now() });
        } catch {
            // A record's trouble is the record's.
        }
    }

    private async send(method: string, path: string, options: RequestOptions): Promise<RawResponse> {
        const body = options.body === undefined ? undefined : JSON.stringify(options.body);
        const started = performance.now();
        let reported = false;
        const tell = (status: number) => {
            if (!reported) this.told(method, path, status, started);
            reported = true;
        };
        let response: http.IncomingMessage;
        try {
            ({ response } = await this.open(method, path, options.query, body, options.contentType, this.requestTimeoutMs));
        } catch (err) {
            tell(0);
            throw err;
        }
        return new Promise((resolve, reject) => {
            let text = "";
            response.setEncoding("utf8");
            response.on("data", (c: string) => (text += c));
            response.on("end", () => {
                tell(response.statusCode ?? 0);
                resolve({ status: response.statusCode ?? 0, headers: response.headers, text });
            });
            response.on("error", (err) => {
                tell(0);
                reject(err);
            });
            response.on("close", () => {
                if (response.complete) return;
                tell(0);
                reject(new Error("connection closed before the answer was complete"));
            });
        });
    }
}

export interface FollowOptions<T> {
    /** Collection path, e.g. /apis/metal3.io/v1alpha1/namespaces/x/baremetalhosts. */
    readonly path: string;
    readonly labelSelector: string;
    /** Server-side end of each watch request (the watch is then resumed). */
    readonly watchTimeoutSeconds: number;
    /** Every object of the (re)list; `status` 404 means the collection does not exist (e.g. no namespace). */
    onList(items: T[], status: number): void;
    onEvent(type: "ADDED" | "MODIFIED" | "DELETED", object: T): void;
    /** Checked after the list and every event: true ends the follow. */
    finished(): boolean;
    /** Remaining milliseconds before giving up (the provider's deadline). */
    remaining(): number;
    /** Called about every second while following (progress lines). */
    tick?(): void;
    /** Ends the follow when it settles, even with no event to look at (e.g. another kind's watch finished the wait). */
    readonly until?: Promise<unknown>;
}

/**
 * ONE list and then ONE watch of a collection until `finished()` or the
 * deadline: a watch that ends or drops is resumed from the last
 * resourceVersion seen (bookmarks included), a 410 Gone relists, failures to
 * (re)open the watch back off (Retry-After honoured) for a bounded number of
 * attempts in a row.
 */
export async function followCollection<T extends KubeObject>(client: KubeClient, options: FollowOptions<T>, maxFailures = 6, retryWindowMs = client.retryWindow()): Promise<void> {
    const relist = async (): Promise<string | undefined> => {
        const { status, list } = await client.list<T>(options.path, { labelSelector: options.labelSelector }, [404]);
        options.onList(list.items, status);
        return list.metadata.resourceVersion;
    };
    let rv = await relist();
    let failures = 0;
    let failingSince = 0;
    let stopped = false;
    let current: { abort(): void } | undefined;
    options.until?.then(() => {
        stopped = true;
        current?.abort();
    });
    const ticker = options.tick ? setInterval(() => options.tick!(), 1000) : undefined;
    try {
        while (!stopped && !options.finished() && options.remaining() > 0) {
            if (rv === undefined) {
                // The collection does not exist (yet): nothing to watch; look again shortly.
                await sleep(Math.min(2000, options.remaining()));
                rv = await relist();
                continue;
            }
            let progressed = false;
            const timeoutSeconds = Math.max(1, Math.min(options.watchTimeoutSeconds, Math.ceil(options.remaining() / 1000)));
            const handle = client.watch(
                options.path,
                { labelSelector: options.labelSelector, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds },
                (event) => {
                    const v = event.object?.metadata?.resourceVersion;
                    if (typeof v === "string" && v !== "") rv = v;
                    progressed = true;
                    if (event.type !== "BOOKMARK") options.onEvent(event.type as "ADDED" | "MODIFIED" | "DELETED", event.object as T);
                    if (options.finished()) handle.abort();
                },
                (timeoutSeconds + 30) * 1000,
            );
            current = handle;
            if (stopped) handle.abort();
            const deadlineTimer = setTimeout(() => handle.abort(), options.remaining());
            const end = await handle.done.finally(() => clearTimeout(deadlineTimer));
            if (end.kind === "aborted") break;
            if (end.kind === "gone") {
                rv = await relist();
                failures = 0;
                continue;
            }
            if (end.kind === "closed") {
                failures = 0;
                continue;
            }
            // failed: a dropped connection after events resumes at once; otherwise back off.
            if (progressed && end.status === undefined) {
                failures = 0;
                continue;
            }
            if (end.status !== undefined && end.status < 500 && end.status !== 429) throw end.error;
            if (failures++ === 0) failingSince = Date.now();
            if (failures >= maxFailures && Date.now() - failingSince >= retryWindowMs) throw end.error;
            const wait = end.status === 429 ? (end.retryAfterMs ?? backoffMs(failures)) : Math.max(end.retryAfterMs ?? 0, backoffMs(failures));
            await sleep(Math.min(wait, options.remaining()));
        }
    } finally {
        if (ticker) clearInterval(ticker);
    }
}
