// Talks to FKAS (Metal3's fake Kubernetes API server, CAPM3
// hack/fake-apiserver/cmd/metal3-fkas): POST /register {"cluster","namespace"}
// answers {"ResourceName","Host","Port"}, the address FKAS will serve that
// cluster's API server on once its sidecar has sent /updateNode. Refused
// connections, 5xx and 429 are retried with backoff (FKAS restarting, its pod
// not ready yet); any other answer is final. A TCP probe tells whether a
// cluster's API server is being served.
//
// Built inside provider methods (no sockets at module level: `__provider`).
import { backoffMs, parseRetryAfter, sleep } from "../enroll/bounded";
import type { ApiRequest } from "../enroll/tracker";
import type { Endpoint } from "./render";

export interface FkasClientOptions {
    /** http://<host>:<port> of the FKAS instance. */
    readonly url: string;
    /** Attempts per registration on refused connections, 5xx and 429. */
    readonly maxAttempts?: number;
    readonly backoffBaseMs?: number;
    readonly maxBackoffMs?: number;
    readonly requestTimeoutMs?: number;
    /** Milliseconds left to the caller's deadline: no retry waits past it. */
    readonly remainingMs?: () => number;
    /** Told about every request sent (each attempt): the run record. */
    readonly onRequest?: (r: ApiRequest) => void;
}

/** A plain Error with fields: Error subclasses do not survive serialization into `__provider`. */
export interface FkasError extends Error {
    readonly name: "FkasError";
    /** HTTP status, absent for connection errors. */
    readonly status?: number;
    /** Worth asking again later (connection refused/reset, 5xx, 429). */
    readonly transient: boolean;
}

function fkasError(message: string, transient: boolean, status?: number): FkasError {
    return Object.assign(new Error(message), { name: "FkasError" as const, status, transient });
}

export function isFkasError(err: unknown): err is FkasError {
    return err instanceof Error && err.name === "FkasError";
}

/** FKAS's /register answer (utils.go ResourceData: no json tags, so the Go field names). */
export function parseRegisterAnswer(text: string): Endpoint {
    let body: any;
    try {
        body = JSON.parse(text);
    } catch {
        throw fkasError(`FKAS /register answered something that is not JSON: ${text.slice(0, 120)}`, false);
    }
    const host = body?.Host;
    const port = body?.Port;
    if (typeof host !== "string" || host === "" || !Number.isInteger(port) || port < 1 || port > 65535) {
        throw fkasError(`FKAS /register answered without a usable Host/Port: ${text.slice(0, 120)}`, false);
    }
    return { host, port };
}

export class FkasClient {
    // Assigned in the constructor: the `__provider` serializer drops field initializers.
    /** Requests sent (retries included) and retries, for progress and tests. */
    readonly stats: { requests: number; retries: number };
    private readonly url: string;
    private readonly maxAttempts: number;
    private readonly backoffBaseMs: number;
    private readonly maxBackoffMs: number;
    private readonly requestTimeoutMs: number;
    private readonly agent: any;
    private readonly http: any;
    private readonly onRequest: ((r: ApiRequest) => void) | undefined;
    private readonly remainingMs: () => number;

    constructor(options: FkasClientOptions) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        this.http = require("http");
        this.url = options.url.replace(/\/+$/, "");
        this.maxAttempts = options.maxAttempts ?? 8;
        this.backoffBaseMs = options.backoffBaseMs ?? 500;
        this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
        this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
        this.agent = new this.http.Agent({ keepAlive: true, maxSockets: 1 });
        this.stats = { requests: 0, retries: 0 };
        this.onRequest = options.onRequest;
        this.remainingMs = options.remainingMs ?? (() => Number.POSITIVE_INFINITY);
    }

    close(): void {
        this.agent.destroy();
    }

    /**
     * Registers a cluster (FKAS answers the same address again for a name it already holds).
     * FKAS writes unlocked Go maps in /register (concurrent writes crash it), so every
     * registration with one FKAS in this process, whichever batch sends it, waits for the last.
     */
    register(cluster: string, namespace: string): Promise<Endpoint> {
        const g = globalThis as { __metal3ScaleLabFkasQueues?: Record<string, Promise<unknown>> };
        const queues = (g.__metal3ScaleLabFkasQueues ??= {});
        const turn = (queues[this.url] ?? Promise.resolve()).then(() => this.registerNow(cluster, namespace));
        queues[this.url] = turn.catch(() => undefined);
        return turn;
    }

    private async registerNow(cluster: string, namespace: string): Promise<Endpoint> {
        const body = JSON.stringify({ cluster, namespace });
        for (let attempt = 1; ; attempt++) {
            let error: FkasError;
            let retryAfter: number | undefined;
            try {
                const res = await this.post("/register", body);
                if (res.status === 200) return parseRegisterAnswer(res.text);
                const transient = res.status >= 500 || res.status === 429;
                error = fkasError(`FKAS POST /register for ${namespace}/${cluster} answered ${res.status}: ${res.text.trim().slice(0, 200)}`, transient, res.status);
                retryAfter = parseRetryAfter(res.retryAfter);
            } catch (err) {
                if (isFkasError(err)) throw err;
                error = fkasError(`FKAS POST /register at ${this.url} failed: ${err instanceof Error ? err.message : String(err)}`, true);
            }
            const wait = Math.max(retryAfter ?? 0, backoffMs(attempt, this.backoffBaseMs, this.maxBackoffMs));
            if (!error.transient || attempt >= this.maxAttempts || wait >= this.remainingMs()) throw error;
            this.stats.retries++;
            await sleep(wait);
        }
    }

    private post(path: string, body: string): Promise<{ status: number; text: string; retryAfter?: string }> {
        this.stats.requests++;
        const started = performance.now();
        let reported = false;
        const told = (status: number) => {
            if (!reported) this.onRequest?.({ api: "fkas", method: "POST", path, status, ms: performance.now() - started, at: Date.now() });
            reported = true;
        };
        return new Promise((resolve, reject) => {
            const failed = (err: Error) => {
                told(0);
                reject(err);
            };
            const req = this.http.request(
                `${this.url}${path}`,
                { method: "POST", agent: this.agent, headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) } },
                (res: any) => {
                    let text = "";
                    res.setEncoding("utf8");
                    res.on("data", (c: string) => (text += c));
                    res.on("end", () => {
                        told(res.statusCode ?? 0);
                        resolve({ status: res.statusCode ?? 0, text, retryAfter: res.headers["retry-after"] });
                    });
                    res.on("error", failed);
                },
            );
            req.setTimeout(this.requestTimeoutMs, () => req.destroy(new Error(`no answer for ${Math.round(this.requestTimeoutMs / 1000)}s`)));
            req.on("error", failed);
            req.end(body);
        });
    }
}

export type ProbeResult = "open" | "refused" | "unreachable";

/**
 * Whether something accepts TCP connections at the endpoint. FKAS opens a
 * cluster's port when the first control-plane node is added (/updateNode),
 * so a refused port means FKAS never got that far or lost the cluster.
 */
export function probeEndpoint(endpoint: Endpoint, timeoutMs = 3000): Promise<ProbeResult> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const net = require("net");
    return new Promise((resolve) => {
        const socket = net.connect({ host: endpoint.host, port: endpoint.port });
        const done = (result: ProbeResult) => {
            socket.destroy();
            resolve(result);
        };
        socket.setTimeout(timeoutMs, () => done("unreachable"));
        socket.once("connect", () => done("open"));
        socket.once("error", (err: NodeJS.ErrnoException) => done(err.code === "ECONNREFUSED" ? "refused" : "unreachable"));
    });
}
