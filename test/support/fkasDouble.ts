/**
 * FkasDouble: Metal3's fake Kubernetes API server (FKAS) on 127.0.0.1, as its HTTP API behaves in
 * metal3-io/cluster-api-provider-metal3@ac63ce02c5ea5d70624cd664293eedf498032da9:
 * - hack/fake-apiserver/cmd/metal3-fkas/main.go `register`: POST only (else 405 "Method not allowed");
 *   body {"cluster","namespace"} (Go json: unknown fields ignored, a bad body is 400 "Invalid JSON");
 *   answers 200 application/json {"ResourceName":"<ns>/<cluster>","Host":<POD_IP>,"Port":<port>}
 *   (utils.go ResourceData has no json tags). Registering the same cluster again returns the same
 *   listener (cluster-api@v1.14.0 test/infrastructure/inmemory/pkg/server/mux.go
 *   InitWorkloadClusterListener); ports are handed out in order from 20000 (DefaultMinPort).
 * - main.go `updateNode`: PUT only; body {cluster, uuid, nodeName, namespace, providerID, labels,
 *   k8sversion}. Unknown cluster -> 500 "Workload Cluster does not exist". A control-plane node (label
 *   cluster.x-k8s.io/control-plane) needs the Secrets `<cluster>-ca` and `<cluster>-etcd` (tls.crt,
 *   tls.key) in the management cluster: missing -> 500 "Error adding node: <node>"; a CA key that is not
 *   RSA -> 200 with nothing done (main.go returns without writing); an etcd key that is not RSA -> 500.
 *   The first control-plane node starts the workload cluster's TLS listener on its port (mux.go
 *   AddAPIServer: nothing listens on Host:Port before that) and activates the cluster. A worker before
 *   activation -> 500 "Workload Cluster has not been activated". The Node gets labels +
 *   metal3.io/uuid (+ node-role.kubernetes.io/control-plane), spec.providerID and a Ready condition;
 *   an existing Node -> 200 and nothing changes. A body without `labels` makes upstream panic (nil map):
 *   the connection is dropped.
 * - State is in memory only: forget() is an FKAS restart (all clusters and listeners gone, ports from
 *   20000 again).
 *
 * SIMPLIFIED: the workload API server only serves GET /api/v1/nodes[/<name>] (JSON, no auth) over TLS
 * with one shared certificate (upstream: a full in-memory API signed by the cluster CA). No etcd, pods,
 * kubeadm ConfigMaps or heartbeats. Requests are served one at a time like the Go handlers (no lock).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { KubeApiTestServer, KubeStore, KObj, k8sTime } from './kubeApiServer';
import { sharedRsaCa } from './kube/tls';

export interface FkasRegistration {
    cluster: string;
    namespace: string;
    host: string;
    port: number;
}

export interface FkasDoubleOptions {
    /** the address FKAS reports as Host (its POD_IP; hostNetwork: the node's IP). Default 127.0.0.1 */
    podIp?: string;
    /** port of the /register and /updateNode API (upstream: 3333). Default: any free port */
    port?: number;
    /** first workload listener port (upstream DefaultMinPort 20000) */
    minPort?: number;
    /** last workload listener port (upstream DefaultMaxPort 30000) */
    maxPort?: number;
}

export interface FkasRequest {
    method: string;
    path: string;
    status: number;
    body?: any;
    at: number;
}

interface WorkloadCluster {
    namespace: string;
    cluster: string;
    port: number;
    activated: boolean;
    nodes: Map<string, KObj>;
    server?: https.Server;
    sockets: Set<Socket>;
}

type FaultPath = '/register' | '/updateNode';

/** Failure injection on the FKAS API (not on the workload listeners). */
export class FkasFaults {
    /** @internal */ failures: { remaining: number; status: number; path?: FaultPath }[] = [];
    /** @internal */ resets = 0;

    constructor(private readonly fkas: FkasDouble) {}

    /** The next `count` requests (to `path`, default both) answer `status` (default 503). */
    fail(count: number, status = 503, path?: FaultPath): this {
        this.failures.push({ remaining: count, status, path });
        return this;
    }

    /** The next `count` connections are reset before any answer (ECONNRESET). */
    resetConnections(count: number): this {
        this.resets += count;
        return this;
    }

    /** Stops listening: clients get ECONNREFUSED until up(). State is kept (the pod is unreachable, not restarted). */
    down(): Promise<void> {
        return this.fkas.closeApi();
    }

    /** Listens again on the same port. */
    up(): Promise<void> {
        return this.fkas.openApi();
    }

    clear(): void {
        this.failures = [];
        this.resets = 0;
    }
}

export class FkasDouble {
    readonly faults: FkasFaults;
    readonly requests: FkasRequest[] = [];
    private readonly store: KubeStore;
    private readonly opts: Required<Omit<FkasDoubleOptions, 'port'>> & { port: number };
    private api?: http.Server;
    private apiSockets = new Set<Socket>();
    private apiPort = 0;
    private clusters = new Map<string, WorkloadCluster>();
    private portIndex: number;
    private readonly listeners = new Set<(namespace: string, cluster: string) => void>();

    constructor(kube: KubeApiTestServer | KubeStore, opts: FkasDoubleOptions = {}) {
        this.store = kube instanceof KubeApiTestServer ? kube.store : kube;
        this.opts = { podIp: opts.podIp ?? '127.0.0.1', port: opts.port ?? 0, minPort: opts.minPort ?? 20000, maxPort: opts.maxPort ?? 30000 };
        this.portIndex = this.opts.minPort;
        this.faults = new FkasFaults(this);
    }

    async start(): Promise<void> {
        await this.openApi();
    }

    /** Base URL of the FKAS API, e.g. http://127.0.0.1:40123 */
    get url(): string {
        if (!this.apiPort) throw new Error('FkasDouble not started');
        return `http://127.0.0.1:${this.apiPort}`;
    }

    get port(): number {
        return this.apiPort;
    }

    async stop(): Promise<void> {
        await this.closeApi();
        await this.closeWorkloads();
    }

    /** FKAS restarts: every registration, node and workload listener is gone. */
    async forget(): Promise<void> {
        const gone = this.registered();
        await this.closeWorkloads();
        this.portIndex = this.opts.minPort;
        for (const g of gone) this.changed(g.namespace, g.cluster);
    }

    registered(): FkasRegistration[] {
        return [...this.clusters.values()].map((c) => ({ cluster: c.cluster, namespace: c.namespace, host: this.opts.podIp, port: c.port }));
    }

    /** Nodes of a workload cluster (copies); [] when FKAS does not know the cluster. */
    nodes(namespace: string, cluster: string): KObj[] {
        const c = this.clusters.get(`${namespace}/${cluster}`);
        return c ? [...c.nodes.values()].map((n) => JSON.parse(JSON.stringify(n))) : [];
    }

    /**
     * What a management-cluster controller reading the workload cluster sees: the Node with this
     * providerID, or undefined when there is none or the cluster's API server is not serving.
     */
    nodeByProviderID(namespace: string, cluster: string, providerID: string): KObj | undefined {
        const c = this.clusters.get(`${namespace}/${cluster}`);
        if (!c?.server) return undefined;
        for (const n of c.nodes.values()) if (n.spec?.providerID === providerID) return n;
        return undefined;
    }

    /**
     * What CAPM3's workload-cluster client sees (SetProviderIDFromNodeLabel): Nodes with label key=value,
     * or undefined when the cluster's API server is not serving (unknown cluster, not activated, restarted).
     */
    nodesWithLabel(namespace: string, cluster: string, key: string, value: string): KObj[] | undefined {
        const c = this.clusters.get(`${namespace}/${cluster}`);
        if (!c?.server) return undefined;
        return [...c.nodes.values()].filter((n) => n.metadata.labels?.[key] === value);
    }

    /** CAPM3's setNodeProviderID through the workload API: false when the API server is not serving. */
    setNodeProviderID(namespace: string, cluster: string, node: string, providerID: string): boolean {
        const c = this.clusters.get(`${namespace}/${cluster}`);
        const n = c?.server ? c.nodes.get(node) : undefined;
        if (!n) return false;
        n.spec = { ...(n.spec ?? {}), providerID };
        this.changed(namespace, cluster);
        return true;
    }

    /** Called with (namespace, cluster) whenever a workload cluster's nodes change (in-process watch). */
    onChange(listener: (namespace: string, cluster: string) => void): () => void {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }

    private changed(namespace: string, cluster: string): void {
        for (const l of [...this.listeners]) l(namespace, cluster);
    }

    // ---- FKAS API ----------------------------------------------------------------------------

    /** @internal */
    async openApi(): Promise<void> {
        if (this.api) return;
        const srv = http.createServer((req, res) => this.handle(req, res));
        srv.on('connection', (s: Socket) => {
            if (this.faults.resets > 0) {
                this.faults.resets--;
                s.destroy();
                return;
            }
            this.apiSockets.add(s);
            s.on('close', () => this.apiSockets.delete(s));
        });
        await new Promise<void>((resolve, reject) => {
            srv.once('error', reject);
            srv.listen(this.apiPort || this.opts.port, '127.0.0.1', () => resolve());
        });
        this.apiPort = (srv.address() as AddressInfo).port;
        this.api = srv;
    }

    /** @internal */
    async closeApi(): Promise<void> {
        const srv = this.api;
        this.api = undefined;
        if (!srv) return;
        for (const s of this.apiSockets) s.destroy();
        this.apiSockets.clear();
        await new Promise<void>((resolve) => srv.close(() => resolve()));
    }

    private async closeWorkloads(): Promise<void> {
        const cs = [...this.clusters.values()];
        this.clusters.clear();
        await Promise.all(cs.map((c) => closeServer(c.server, c.sockets)));
    }

    private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
            const path = (req.url ?? '/').split('?')[0];
            const method = req.method ?? 'GET';
            const text = Buffer.concat(chunks).toString('utf8');
            const log = (status: number) => this.requests.push({ method, path, status, body: safeJson(text), at: Date.now() });
            const send = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
                log(status);
                const headers: Record<string, string> = { 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)) };
                if (type.startsWith('text/plain')) headers['X-Content-Type-Options'] = 'nosniff';
                res.writeHead(status, headers);
                res.end(body);
            };
            // Go's http.Error appends a newline
            const error = (status: number, msg: string) => send(status, `${msg}\n`);
            if (path !== '/register' && path !== '/updateNode') return error(404, '404 page not found');
            const fault = this.faults.failures.find((f) => f.remaining > 0 && (!f.path || f.path === path));
            if (fault) {
                fault.remaining--;
                this.faults.failures = this.faults.failures.filter((f) => f.remaining > 0);
                return error(fault.status, http.STATUS_CODES[fault.status] ?? 'injected fault');
            }
            if (path === '/register') {
                if (method !== 'POST') return error(405, 'Method not allowed');
                const body = decodeStruct(text, { cluster: 'string', namespace: 'string' });
                if (!body) return error(400, 'Invalid JSON');
                const c = this.registerCluster(body.namespace ?? '', body.cluster ?? '');
                if (!c) return error(500, 'Failed to initialize listener');
                const data = JSON.stringify({ ResourceName: `${c.namespace}/${c.cluster}`, Host: this.opts.podIp, Port: c.port });
                return send(200, data, 'application/json');
            }
            if (method !== 'PUT') return error(405, 'Method not allowed');
            const body = decodeStruct(text, { cluster: 'string', uuid: 'string', nodeName: 'string', namespace: 'string', providerID: 'string', labels: 'map', k8sversion: 'string' });
            if (!body) return error(400, 'Invalid JSON');
            this.updateNode(body)
                .then((r) => {
                    if (r === 'panic') {
                        log(0);
                        req.socket.destroy();
                    } else send(r.status, r.status === 200 ? '' : `${r.message}\n`);
                })
                .catch((e) => error(500, String((e as Error).message)));
        });
    }

    private registerCluster(namespace: string, cluster: string): WorkloadCluster | undefined {
        const key = `${namespace}/${cluster}`;
        const existing = this.clusters.get(key);
        if (existing) return existing;
        if (this.portIndex > this.opts.maxPort) return undefined; // "no more free ports"
        const c: WorkloadCluster = { namespace, cluster, port: this.portIndex++, activated: false, nodes: new Map(), sockets: new Set() };
        this.clusters.set(key, c);
        return c;
    }

    private async updateNode(b: Record<string, any>): Promise<{ status: number; message?: string } | 'panic'> {
        if (!b.labels) return 'panic'; // nodeLabels["metal3.io/uuid"] = ... on a nil map
        const labels: Record<string, string> = { ...b.labels, 'metal3.io/uuid': b.uuid ?? '' };
        const namespace = b.namespace ?? '';
        const cluster = b.cluster ?? '';
        const nodeName = b.nodeName ?? '';
        const c = this.clusters.get(`${namespace}/${cluster}`);
        if (!c) return { status: 500, message: 'Workload Cluster does not exist' };
        const isControlPlane = 'cluster.x-k8s.io/control-plane' in labels;
        if (isControlPlane) {
            labels['node-role.kubernetes.io/control-plane'] = '';
            const ca = this.keyPair(namespace, `${cluster}-ca`);
            if (!ca) return { status: 500, message: `Error adding node: ${nodeName}` };
            if (ca === 'bad-cert') return { status: 500, message: 'Failed to add API server' };
            if (ca === 'bad-key') return { status: 500, message: 'Failed to generate etcdKey' };
            if (ca.keyType !== 'rsa') return { status: 200 }; // "caKey is not *rsa.PrivateKey": logged, nothing written
            if (!c.server) {
                try {
                    await this.listen(c);
                } catch {
                    return { status: 500, message: 'Failed to add API server' };
                }
            }
            c.activated = true;
            const etcd = this.keyPair(namespace, `${cluster}-etcd`);
            if (!etcd) return { status: 500, message: `Error adding node: ${nodeName}` };
            if (etcd === 'bad-cert' || etcd === 'bad-key') return { status: 500, message: '' };
            if (etcd.keyType !== 'rsa') return { status: 500, message: 'etcdKey is not *rsa.PrivateKey' };
        }
        if (!c.activated) return { status: 500, message: 'Workload Cluster has not been activated' };
        if (!nodeName) return { status: 500, message: `Error adding node: ${nodeName} Node "" is invalid: metadata.name: Required value: name is required` };
        if (c.nodes.has(nodeName)) return { status: 200 };
        const now = k8sTime();
        c.nodes.set(nodeName, {
            apiVersion: 'v1',
            kind: 'Node',
            metadata: { name: nodeName, labels, creationTimestamp: now },
            spec: { providerID: b.providerID ?? '', ...(isControlPlane ? { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] } : {}) },
            status: {
                conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }],
                nodeInfo: { kubeletVersion: b.k8sversion ?? '' },
            },
        });
        this.changed(namespace, cluster);
        return { status: 200 };
    }

    /** tls.crt / tls.key of a management-cluster Secret, as getSecretKeyAndCert + certs.Decode* read them. */
    private keyPair(namespace: string, name: string): { keyType: string } | 'bad-cert' | 'bad-key' | undefined {
        const s = this.store.peek('secrets', namespace, name);
        const crt = s?.data?.['tls.crt'];
        const key = s?.data?.['tls.key'];
        if (!s || !crt || !key) return undefined;
        try {
            new X509Certificate(Buffer.from(crt, 'base64'));
        } catch {
            return 'bad-cert';
        }
        try {
            return { keyType: createPrivateKey(Buffer.from(key, 'base64')).asymmetricKeyType ?? '' };
        } catch {
            return 'bad-key';
        }
    }

    /** mux.go AddAPIServer: the workload cluster's TLS listener on Host:Port. */
    private async listen(c: WorkloadCluster): Promise<void> {
        const { key, cert } = sharedRsaCa();
        const srv = https.createServer({ key, cert }, (req, res) => {
            const path = (req.url ?? '/').split('?')[0];
            const m = /^\/api\/v1\/nodes(?:\/([^/]+))?$/.exec(path);
            let status = 404;
            let body: unknown = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404, message: 'the server could not find the requested resource' };
            if (req.method === 'GET' && m && !m[1]) {
                status = 200;
                body = { kind: 'NodeList', apiVersion: 'v1', metadata: {}, items: [...c.nodes.values()] };
            } else if (req.method === 'GET' && m && c.nodes.has(decodeURIComponent(m[1]))) {
                status = 200;
                body = c.nodes.get(decodeURIComponent(m[1]));
            }
            const json = JSON.stringify(body);
            res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(json)) });
            res.end(json);
        });
        srv.on('connection', (s: Socket) => {
            c.sockets.add(s);
            s.on('close', () => c.sockets.delete(s));
        });
        await new Promise<void>((resolve, reject) => {
            srv.once('error', reject);
            srv.listen(c.port, this.opts.podIp, () => resolve());
        });
        c.server = srv;
    }
}

function closeServer(srv: http.Server | https.Server | undefined, sockets: Set<Socket>): Promise<void> {
    if (!srv) return Promise.resolve();
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => srv.close(() => resolve()));
}

function safeJson(text: string): unknown {
    try {
        return text ? JSON.parse(text) : undefined;
    } catch {
        return text;
    }
}

/**
 * json.NewDecoder(r.Body).Decode(&struct): the first JSON value; null or an object; unknown fields
 * ignored; a field of the wrong type (or a non-string map value) is an error. undefined = 400.
 */
function decodeStruct(text: string, fields: Record<string, 'string' | 'map'>): Record<string, any> | undefined {
    let v: unknown;
    try {
        v = JSON.parse(text);
    } catch {
        return undefined;
    }
    if (v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) return undefined;
    const out: Record<string, any> = {};
    for (const [k, t] of Object.entries(fields)) {
        // Go matches field names case-insensitively
        const key = Object.keys(v as object).find((x) => x.toLowerCase() === k.toLowerCase());
        const x = key === undefined ? undefined : (v as any)[key];
        if (x === undefined || x === null) continue;
        if (t === 'string' && typeof x !== 'string') return undefined;
        if (t === 'map' && (typeof x !== 'object' || Array.isArray(x) || Object.values(x).some((y) => typeof y !== 'string'))) return undefined;
        out[k] = x;
    }
    return out;
}
