// A small Ironic REST client for the batch provider: basic auth, the lab CA,
// the API microversion header, requests spread round-robin over every
// conductor's API (any of them sees every node: they share one database), and
// retries on transient failures. Built inside each provider method: sockets
// cannot be serialized into `__provider`.

import { backoffMs, parseRetryAfter, sleep } from "./bounded";
import { redactText } from "./kubeClient";
import type { ApiRequest } from "./tracker";

export interface IronicConnection {
    readonly endpoints: readonly string[];
    readonly username?: string;
    readonly password?: string;
    /** PEM of the CA that signed the conductors' certificates (https endpoints). */
    readonly caPem?: string;
    readonly apiVersion: string;
    /** Told about every request sent (each attempt): the run record. */
    readonly onRequest?: (r: ApiRequest) => void;
}

export interface IronicNode {
    readonly uuid: string;
    readonly name: string | null;
    /** Carries the batch marker: a list shared by several batches is split by it (nodePoller.ts). */
    readonly description?: string | null;
    readonly provision_state: string;
    readonly target_provision_state: string | null;
    readonly last_error: string | null;
    readonly maintenance: boolean;
    /** Why the node is in maintenance (set by whoever put it there). */
    readonly maintenance_reason: string | null;
    /** Set when Ironic itself put the node in maintenance, e.g. "clean failure". */
    readonly fault: string | null;
    readonly inspection_finished_at: string | null;
    /** The conductor holding the node's lock right now (null: none): a lock that never ends is stale (stuckNodes.ts). */
    readonly reservation?: string | null;
    /** When provision_state last changed. */
    readonly provision_updated_at?: string | null;
    /** The conductor holding the node: in Ironic's answer to a create or update, not in a node list (see conductors()). */
    readonly conductor?: string | null;
}

export interface IronicApiError extends Error {
    readonly status: number;
    /** Ironic's own message (the faultstring), without our request line. */
    readonly fault: string;
}

/**
 * A plain Error with the answer's status: classes extending Error do not survive
 * serialization into `__provider` (their `super` call is lost), plain Errors do.
 */
export function ironicApiError(status: number, method: string, path: string, body: string, secrets: readonly string[] = []): IronicApiError {
    // An Ironic (or a proxy) that quotes the request would show the credentials: never pass them on.
    const fault = redactText(faultOf(body), secrets);
    return Object.assign(new Error(`Ironic ${method} ${path.split("?")[0]} answered ${status}: ${fault}`), { name: "IronicApiError", status, fault });
}

export function isIronicApiError(err: unknown): err is IronicApiError {
    return err instanceof Error && err.name === "IronicApiError";
}

/** Ironic wraps messages as {"error_message": "{\"faultstring\": ...}"}. */
export function faultOf(body: string): string {
    try {
        const outer = JSON.parse(body);
        const inner = typeof outer.error_message === "string" ? JSON.parse(outer.error_message) : outer.error_message;
        return String(inner?.faultstring ?? outer?.error?.message ?? body).slice(0, 500);
    } catch {
        return body.slice(0, 500);
    }
}

/** Which Ironic, as whom: batches share a poller or request slots only when every byte of this matches (a hash: the key holds no password). */
export function connectionKey(conn: IronicConnection): string {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createHash } = require("crypto");
    const what = JSON.stringify([conn.endpoints, conn.username ?? "", conn.password ?? "", conn.caPem ?? "", conn.apiVersion]);
    return createHash("sha256").update(what).digest("hex");
}

const TRANSIENT_STATUS: readonly number[] = [429, 502, 503, 504];
const NODE_FIELDS = "uuid,name,description,provision_state,target_provision_state,last_error,maintenance,maintenance_reason,fault,inspection_finished_at,reservation,provision_updated_at";

export class IronicClient {
    // Assigned in the constructor: the `__provider` serializer drops field initializers.
    private next: number;
    private readonly agents: Map<string, unknown>;
    /** Requests sent per endpoint, for tests and progress. */
    readonly requestsPerEndpoint: Record<string, number>;

    constructor(private readonly conn: IronicConnection, private readonly maxAttempts = 6) {
        if (conn.endpoints.length === 0) throw new Error("IronicClient needs at least one endpoint");
        this.next = 0;
        this.agents = new Map();
        this.requestsPerEndpoint = {};
    }

    /** Sends one request, moving to the next endpoint on connection errors and retrying transient answers. */
    async request<T = unknown>(method: string, path: string, body?: unknown, okStatuses: readonly number[] = []): Promise<{ status: number; data: T }> {
        let lastError: unknown;
        for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
            const endpoint = this.conn.endpoints[this.next++ % this.conn.endpoints.length];
            try {
                const res = await this.send(endpoint, method, path, body);
                if (res.status < 300 || okStatuses.includes(res.status)) {
                    return { status: res.status, data: (res.text ? JSON.parse(res.text) : undefined) as T };
                }
                if (!TRANSIENT_STATUS.includes(res.status)) throw ironicApiError(res.status, method, path, res.text, this.secrets());
                lastError = ironicApiError(res.status, method, path, res.text, this.secrets());
                await sleep(res.retryAfterMs ?? backoffMs(attempt + 1));
            } catch (err) {
                if (isIronicApiError(err) && !TRANSIENT_STATUS.includes(err.status)) throw err;
                lastError = err;
                await sleep(backoffMs(attempt + 1));
            }
        }
        throw lastError;
    }

    /** ONE paged list of the nodes whose description carries `marker` (a batch marker, or a prefix of several), with only the fields the provider reads. */
    async listNodes(marker: string): Promise<IronicNode[]> {
        const nodes: IronicNode[] = [];
        let path: string | undefined = `/v1/nodes?fields=${NODE_FIELDS}&description_contains=${encodeURIComponent(marker)}&limit=1000`;
        while (path) {
            const { data }: { data: { nodes: IronicNode[]; next?: string } } = await this.request("GET", path);
            nodes.push(...data.nodes);
            path = data.next ? data.next.slice(data.next.indexOf("/v1/")) : undefined;
        }
        return nodes;
    }

    /**
     * The conductor holding each node whose description carries `marker` (uuid -> hostname, null when
     * none serves it), from ONE paged detail list: Ironic 21.4 answers 500 to `fields=...,conductor`
     * (node.py get_nodes passes the API-only field `conductor` to the database query).
     */
    async conductors(marker: string): Promise<Record<string, string | null>> {
        const out: Record<string, string | null> = {};
        let path: string | undefined = `/v1/nodes/detail?description_contains=${encodeURIComponent(marker)}&limit=1000`;
        while (path) {
            const { data }: { data: { nodes: { uuid: string; conductor?: string | null }[]; next?: string } } = await this.request("GET", path);
            for (const n of data.nodes) out[n.uuid] = n.conductor ?? null;
            path = data.next ? data.next.slice(data.next.indexOf("/v1/")) : undefined;
        }
        return out;
    }

    /** One node with the same fields as listNodes; undefined when it is gone. */
    async getNode(uuid: string): Promise<IronicNode | undefined> {
        const { status, data } = await this.request<IronicNode>("GET", `/v1/nodes/${encodeURIComponent(uuid)}?fields=${NODE_FIELDS}`, undefined, [404]);
        return status === 404 ? undefined : data;
    }

    /** What an error message must never show: the password, and the Basic credentials built from it. */
    private secrets(): string[] {
        const password = this.conn.password ?? "";
        if (password === "") return [];
        const basic = Buffer.from(`${this.conn.username}:${password}`).toString("base64");
        return [password, basic];
    }

    close(): void {
        for (const agent of this.agents.values()) (agent as { destroy(): void }).destroy();
        this.agents.clear();
    }

    private send(endpoint: string, method: string, path: string, body?: unknown): Promise<{ status: number; text: string; retryAfterMs?: number }> {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const http = require("http");
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const https = require("https");
        const url = new URL(path, endpoint.endsWith("/") ? endpoint : `${endpoint}/`);
        const secure = url.protocol === "https:";
        let agent = this.agents.get(endpoint);
        if (!agent) {
            agent = secure ? new https.Agent({ keepAlive: true, ca: this.conn.caPem || undefined }) : new http.Agent({ keepAlive: true });
            this.agents.set(endpoint, agent);
        }
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const headers: Record<string, string> = {
            Accept: "application/json",
            "X-OpenStack-Ironic-API-Version": this.conn.apiVersion,
        };
        if (payload !== undefined) headers["Content-Type"] = "application/json";
        if (this.conn.username) headers.Authorization = `Basic ${Buffer.from(`${this.conn.username}:${this.conn.password ?? ""}`).toString("base64")}`;
        this.requestsPerEndpoint[endpoint] = (this.requestsPerEndpoint[endpoint] ?? 0) + 1;
        const started = performance.now();
        let reported = false;
        const told = (status: number) => {
            if (reported) return;
            reported = true;
            this.conn.onRequest?.({ api: "ironic", method, path, status, ms: performance.now() - started, at: Date.now() });
        };
        return new Promise((resolve, reject) => {
            const req = (secure ? https : http).request(url, { method, headers, agent, timeout: 60_000 }, (res: any) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => {
                    told(res.statusCode);
                    resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString("utf8"), retryAfterMs: parseRetryAfter(res.headers["retry-after"]) });
                });
                res.on("error", (err: Error) => {
                    told(0);
                    reject(err);
                });
            });
            req.on("timeout", () => req.destroy(new Error(`Ironic ${method} ${url.host}${path} timed out`)));
            req.on("error", (err: Error) => {
                told(0);
                reject(err);
            });
            req.end(payload);
        });
    }
}
