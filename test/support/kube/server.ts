/** KubeApiTestServer: the HTTP front of the store (routing, discovery, list, watch, auth). See ../kubeApiServer.ts. */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import * as YAML from 'yaml';
import { KubeConfig } from '@kubernetes/client-node';
import { KObj, KubeStatus, KubeApiError, apiError, isPlainObject, clone } from './objects';
import { ResourceInfo } from './registry';
import { LabelSelector, FieldSelector } from './selectors';
import { KubeStore, KubeStoreOptions, Rec } from './store';
import { FaultInjector, RequestInfo, RequestLogEntry, RequestMatcher, matches } from './faults';
import { objJson, listItemJson, pathNotFound, unsupportedMediaType, parseJson, readBody } from './http';
import { makeSelfSignedCert } from './tls';
import { ActiveWatch, WatchContext, serveWatch, watchDurationMs } from './watch';
import { parseFieldValidation } from './schema';

export interface KubeApiTestServerOptions extends KubeStoreOptions {
    /** serve HTTPS with a throw-away self-signed certificate made by openssl (default false) */
    tls?: boolean;
    /** bearer token required from clients; null disables authentication (default "test-token") */
    token?: string | null;
    host?: string;
    port?: number;
    /** interval of BOOKMARK events on watches that allow them (default 1000 ms; real servers: ~1 min) */
    bookmarkIntervalMs?: number;
    /**
     * --min-request-timeout: a watch without timeoutSeconds ends after a random duration in [T, 2T), as the
     * apiserver's (real default 1800 s). Default 30 s: 1800 s scaled by 1/60, on but beyond any test's watch.
     */
    minRequestTimeoutSeconds?: number;
    /** multiplies the timeoutSeconds clients send (default 1; e.g. 0.002 ends a provider's 300 s watch after 0.6 s) */
    watchTimeoutScale?: number;
    /** answer 410 to lists whose resourceVersion is older than the retained window (default false = real behaviour) */
    strictListResourceVersion?: boolean;
    /** register unknown plurals of non-core groups on first use (default false: an unknown resource is 404, as on a real cluster) */
    autoRegisterResources?: boolean;
    /** keep the request log (default true) */
    logRequests?: boolean;
    /** reported by /version */
    kubernetesVersion?: string;
}

/** The apiserver's answer to a continue token older than the compaction (storage/etcd3 handleCompactedErrorForPaging). */
export const INCONSISTENT_CONTINUE =
    'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

/** A continue token as the apiserver encodes it (rv -1: continue at the latest state, "inconsistent"). */
export function encodeContinue(rv: number, start: string): string {
    return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start })).toString('base64');
}

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/** A JSON object body as an object; undefined when the text is not one (then it is read as YAML). */
function jsonOrUndefined(text: string): unknown {
    if (!text.trimStart().startsWith('{')) return undefined;
    try {
        const v = JSON.parse(text);
        return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
    } catch {
        return undefined;
    }
}

export class KubeApiTestServer {
    readonly store: KubeStore;
    readonly faults: FaultInjector;
    readonly requests: RequestLogEntry[] = [];
    readonly token: string | null;
    readonly options: KubeApiTestServerOptions;
    private server?: http.Server | https.Server;
    private baseUrl?: string;
    private caPem?: string;
    private readonly watches = new Set<ActiveWatch>();
    private readonly sockets = new Set<Duplex>();
    bookmarkIntervalMs: number;

    constructor(opts: KubeApiTestServerOptions = {}) {
        this.options = opts;
        this.store = new KubeStore(opts);
        this.faults = new FaultInjector(this);
        this.token = opts.token === undefined ? 'test-token' : opts.token;
        this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 1000;
    }

    /** Starts listening; resolves to the base URL. */
    async start(): Promise<string> {
        if (this.baseUrl) return this.baseUrl;
        const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
            this.handle(req, res).catch((e) => {
                if (!res.headersSent) this.sendStatus(res, apiError(500, 'InternalError', `Internal error occurred: ${(e as Error).message}`).status);
                else res.destroy();
            });
        };
        if (this.options.tls) {
            const { key, cert } = makeSelfSignedCert();
            this.caPem = cert;
            this.server = https.createServer({ key, cert }, handler);
        } else {
            this.server = http.createServer(handler);
        }
        this.server.keepAliveTimeout = 60_000;
        (this.server as http.Server).on('connection', (s: Duplex) => {
            this.sockets.add(s);
            s.on('close', () => this.sockets.delete(s));
        });
        const host = this.options.host ?? '127.0.0.1';
        await new Promise<void>((resolve, reject) => {
            this.server!.once('error', reject);
            this.server!.listen(this.options.port ?? 0, host, () => resolve());
        });
        const port = (this.server.address() as AddressInfo).port;
        this.baseUrl = `${this.options.tls ? 'https' : 'http'}://${host}:${port}`;
        return this.baseUrl;
    }

    /** Closes all connections and stops background work. */
    async stop(): Promise<void> {
        this.store.close();
        for (const w of [...this.watches]) w.close();
        const srv = this.server;
        this.server = undefined;
        this.baseUrl = undefined;
        if (!srv) return;
        for (const s of this.sockets) s.destroy();
        await new Promise<void>((resolve) => srv.close(() => resolve()));
    }

    get url(): string {
        if (!this.baseUrl) throw new Error('KubeApiTestServer not started');
        return this.baseUrl;
    }

    /** PEM of the serving certificate (TLS only). */
    get caCertificate(): string | undefined {
        return this.caPem;
    }

    /**
     * A kubeconfig for this server. Plain HTTP needs
     * `insecure-skip-tls-verify: true`: client-node 1.4 refuses http:// otherwise.
     */
    kubeconfigYaml(opts: { namespace?: string; context?: string } = {}): string {
        const ctx = opts.context ?? 'metal3-test';
        const cluster: Record<string, unknown> = { server: this.url };
        if (this.caPem) cluster['certificate-authority-data'] = Buffer.from(this.caPem).toString('base64');
        else cluster['insecure-skip-tls-verify'] = true;
        const user: Record<string, unknown> = this.token ? { token: this.token } : {};
        return YAML.stringify({
            apiVersion: 'v1',
            kind: 'Config',
            clusters: [{ name: ctx, cluster }],
            users: [{ name: ctx, user }],
            contexts: [{ name: ctx, context: { cluster: ctx, user: ctx, namespace: opts.namespace ?? 'default' } }],
            'current-context': ctx,
            preferences: {},
        });
    }

    kubeConfig(opts: { namespace?: string } = {}): KubeConfig {
        const kc = new KubeConfig();
        kc.loadFromString(this.kubeconfigYaml(opts));
        return kc;
    }

    /** Abruptly closes every open watch (socket destroyed mid-stream). */
    dropWatches(): number {
        const ws = [...this.watches];
        for (const w of ws) {
            this.watches.delete(w);
            w.close();
            (w.socket ?? w.res.socket)?.destroy();
        }
        return ws.length;
    }

    /** Ends every open watch cleanly (as when timeoutSeconds expires). */
    endWatches(): number {
        const ws = [...this.watches];
        for (const w of ws) {
            w.close();
            if (!w.res.writableEnded) w.res.end();
        }
        return ws.length;
    }

    get activeWatches(): number {
        return this.watches.size;
    }

    compact(): void {
        this.store.compact();
    }

    ensureNamespace(name: string): KObj {
        return this.store.ensureNamespace(name);
    }

    // ---- request log helpers ------------------------------------------------------

    /** Requests matching a filter (same matcher type as fault injection; extra: status). */
    requestsMatching(filter?: RequestMatcher & { status?: number }): RequestLogEntry[] {
        return this.requests.filter((r) => matches(filter, r) && (typeof filter === 'function' || filter?.status === undefined || filter.status === r.status));
    }

    countRequests(filter?: RequestMatcher & { status?: number }): number {
        return this.requestsMatching(filter).length;
    }

    /** e.g. { apply: 100, get: 3, watch: 2 } */
    countsByVerb(filter?: RequestMatcher): Record<string, number> {
        const out: Record<string, number> = {};
        for (const r of this.requestsMatching(filter)) out[r.verb] = (out[r.verb] ?? 0) + 1;
        return out;
    }

    /** e.g. { GET: 10, PATCH: 100 } */
    countsByMethod(filter?: RequestMatcher): Record<string, number> {
        const out: Record<string, number> = {};
        for (const r of this.requestsMatching(filter)) out[r.method] = (out[r.method] ?? 0) + 1;
        return out;
    }

    /** Requests that addressed one object by name (e.g. per-host request counts). */
    requestsFor(name: string, filter?: RequestMatcher): RequestLogEntry[] {
        return this.requestsMatching(filter).filter((r) => r.name === name);
    }

    /** name → number of requests addressed to it (optionally filtered). */
    countsByName(filter?: RequestMatcher): Map<string, number> {
        const out = new Map<string, number>();
        for (const r of this.requestsMatching(filter)) if (r.name) out.set(r.name, (out.get(r.name) ?? 0) + 1);
        return out;
    }

    clearRequests(): void {
        this.requests.length = 0;
    }

    // ---- request handling --------------------------------------------------------

    private parse(req: http.IncomingMessage, url: URL): RequestInfo & { isWatchPath?: boolean; discovery?: string; segments?: string[] } {
        const method = (req.method ?? 'GET').toUpperCase();
        const query: Record<string, string> = {};
        for (const [k, v] of url.searchParams) query[k] = v;
        const ua = req.headers['user-agent'];
        const info: RequestInfo & { isWatchPath?: boolean; discovery?: string } = {
            method,
            path: url.pathname,
            query,
            verb: 'other',
            userAgent: Array.isArray(ua) ? ua[0] : ua,
            fieldManager: query.fieldManager,
        };
        let segs: string[];
        try {
            segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
        } catch {
            return info;
        }
        let rest: string[];
        if (segs[0] === 'api') {
            if (segs.length === 1) return { ...info, verb: 'discovery', discovery: 'api' };
            info.group = '';
            info.version = segs[1];
            rest = segs.slice(2);
        } else if (segs[0] === 'apis') {
            if (segs.length === 1) return { ...info, verb: 'discovery', discovery: 'apis' };
            if (segs.length === 2) return { ...info, verb: 'discovery', discovery: 'group', group: segs[1] };
            info.group = segs[1];
            info.version = segs[2];
            rest = segs.slice(3);
        } else {
            return info;
        }
        if (rest.length === 0) return { ...info, verb: 'discovery', discovery: 'resources' };
        if (rest[0] === 'watch') {
            info.isWatchPath = true;
            rest = rest.slice(1);
        }
        if (rest[0] === 'namespaces' && rest.length >= 3 && !(rest.length === 3 && NAMESPACE_SUBRESOURCES.has(rest[2]))) {
            info.namespace = rest[1];
            rest = rest.slice(2);
        }
        if (rest.length === 0 || rest.length > 3) return info;
        info.resource = rest[0];
        info.name = rest[1];
        info.subresource = rest[2];
        const isWatch = info.isWatchPath || query.watch === 'true' || query.watch === '1';
        switch (method) {
            case 'GET':
                info.verb = info.name ? (isWatch ? 'watch' : 'get') : isWatch ? 'watch' : 'list';
                break;
            case 'POST':
                info.verb = 'create';
                break;
            case 'PUT':
                info.verb = 'update';
                break;
            case 'PATCH': {
                const ct = String(req.headers['content-type'] ?? '');
                info.verb = ct.startsWith('application/apply-patch') ? 'apply' : 'patch';
                break;
            }
            case 'DELETE':
                info.verb = info.name ? 'delete' : 'deletecollection';
                break;
            default:
                info.verb = 'other';
        }
        return info;
    }

    private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const at = Date.now();
        const url = new URL(req.url ?? '/', 'http://localhost');
        const info = this.parse(req, url);
        const { isWatchPath: _w, discovery: _d, ...logged } = info;
        const log = (status: number) => {
            if (this.options.logRequests === false) return;
            const entry = { ...logged, status, at, durationMs: Date.now() - at } as RequestLogEntry;
            for (const k of Object.keys(entry) as (keyof RequestLogEntry)[]) if (entry[k] === undefined) delete entry[k];
            this.requests.push(entry);
        };
        const send = (status: number, body: unknown, headers: Record<string, string | string[]> = {}) => {
            log(status);
            this.sendJson(res, status, body, headers);
        };
        try {
            if (this.token) {
                const auth = req.headers.authorization ?? '';
                if (auth !== `Bearer ${this.token}` && !['/healthz', '/readyz', '/livez'].includes(url.pathname)) {
                    throw apiError(401, 'Unauthorized', 'Unauthorized');
                }
            }
            const body = await readBody(req);
            const fault = this.faults.take(info);
            if (fault.delayMs > 0) await new Promise((r) => setTimeout(r, fault.delayMs));
            if (fault.error) throw fault.error;
            if (['/healthz', '/readyz', '/livez'].includes(url.pathname)) {
                log(200);
                res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
                res.end('ok');
                return;
            }
            if (url.pathname === '/version') {
                const v = this.options.kubernetesVersion ?? 'v1.31.0';
                const [maj, min] = v.replace(/^v/, '').split('.');
                return send(200, {
                    major: maj,
                    minor: min,
                    gitVersion: v,
                    gitCommit: '0000000000000000000000000000000000000000',
                    gitTreeState: 'clean',
                    buildDate: '2024-08-13T07:28:49Z',
                    goVersion: 'go1.22.5',
                    compiler: 'gc',
                    platform: 'linux/amd64',
                });
            }
            if (info.discovery) return send(200, this.discovery(info, req));
            if (!info.resource || info.version === undefined || info.group === undefined) throw pathNotFound();
            let res0 = this.store.registry.lookup(info.group, info.version, info.resource);
            // a known resource asked for at a version it is not served at is 404 (as with a CRD), never re-registered
            if (!res0 && info.group !== '' && !this.store.registry.has(info.group, info.resource) && this.options.autoRegisterResources === true) {
                let kind: string | undefined;
                try {
                    kind = JSON.parse(body.toString('utf8') || '{}')?.kind;
                } catch {
                    kind = undefined;
                }
                const sing = info.resource.endsWith('ies') ? `${info.resource.slice(0, -3)}y` : info.resource.replace(/e?s$/, '');
                res0 = this.store.registry.register({
                    group: info.group,
                    version: info.version,
                    plural: info.resource,
                    kind: kind ?? sing.charAt(0).toUpperCase() + sing.slice(1),
                    namespaced: info.namespace !== undefined,
                });
            }
            if (!res0) throw pathNotFound();
            const resInfo = res0;
            if (info.namespace !== undefined && !resInfo.namespaced) throw pathNotFound();
            if (resInfo.namespaced && info.namespace === undefined && info.name !== undefined) throw pathNotFound();
            if (info.subresource && !(info.subresource === 'status' && resInfo.statusSubresource) && !(info.subresource === 'finalize' && resInfo.key === '/namespaces')) {
                throw pathNotFound();
            }
            const ns = info.namespace ?? '';
            const q = info.query;
            const dryRun = q.dryRun === 'All';
            if (q.dryRun !== undefined && q.dryRun !== 'All') throw apiError(400, 'BadRequest', `dryRun: Unsupported value: "${q.dryRun}": supported values: "All"`);
            const sub = info.subresource === 'status' ? 'status' : '';
            // Writes: the schema's verdict on unknown fields (fieldValidation, default Warn), warnings as `Warning: 299` headers.
            const warnings: string[] = [];
            const validation = () => ({ fieldValidation: parseFieldValidation(q.fieldValidation), warnings });
            const warned = (): Record<string, string[]> => (warnings.length > 0 ? { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`) } : {});
            switch (info.verb) {
                case 'get': {
                    const r = this.store.rec(resInfo, resInfo.namespaced ? ns : '', info.name!);
                    if (!r) throw this.store.notFound(resInfo, info.name!);
                    log(200);
                    return this.sendRaw(res, 200, objJson(r));
                }
                case 'list':
                    return this.serveList(resInfo, info, res, log);
                case 'watch':
                    return serveWatch(this.watchContext(), resInfo, info, req, res, log);
                case 'create': {
                    if (info.name) throw apiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
                    const obj = parseJson(body);
                    if (!isPlainObject(obj)) throw apiError(400, 'BadRequest', 'the body of the request was in an unknown format');
                    obj.metadata = isPlainObject(obj.metadata) ? obj.metadata : {};
                    if (resInfo.namespaced) {
                        if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== ns) {
                            throw apiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
                        }
                        obj.metadata.namespace = ns;
                    }
                    const r = this.store.createInternal(resInfo, obj, { fieldManager: this.managerFor(info), dryRun, ...validation() });
                    return send(201, r.obj, warned());
                }
                case 'update': {
                    const obj = parseJson(body);
                    if (!isPlainObject(obj)) throw apiError(400, 'BadRequest', 'the body of the request was in an unknown format');
                    obj.metadata = isPlainObject(obj.metadata) ? obj.metadata : {};
                    if (obj.metadata.name !== undefined && obj.metadata.name !== info.name) {
                        throw apiError(400, 'BadRequest', `the name of the object (${obj.metadata.name}) does not match the name on the URL (${info.name})`);
                    }
                    if (resInfo.namespaced && obj.metadata.namespace !== undefined && obj.metadata.namespace !== ns) {
                        throw apiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
                    }
                    obj.metadata.name = info.name;
                    if (resInfo.namespaced) obj.metadata.namespace = ns;
                    if (info.subresource === 'finalize') {
                        // namespace finalize: only spec.finalizers changes
                        const prev = this.store.rec(resInfo, '', info.name!);
                        if (!prev) throw this.store.notFound(resInfo, info.name!);
                        const draft = clone(prev.obj);
                        draft.spec = { ...(draft.spec ?? {}), finalizers: obj.spec?.finalizers ?? [] };
                        const out = this.store.replaceFrom(resInfo, prev, draft, { fieldManager: this.managerFor(info), dryRun });
                        return send(200, out.obj);
                    }
                    const out = this.store.update(resInfo, obj, { fieldManager: this.managerFor(info), dryRun, subresource: sub, ...validation() });
                    return send(200, out, warned());
                }
                case 'apply':
                case 'patch': {
                    if (q.force !== undefined && info.verb !== 'apply') throw apiError(400, 'BadRequest', 'force: Forbidden: may not be specified for non-apply patch');
                    const ct = String(req.headers['content-type'] ?? '').split(';')[0].trim();
                    if (info.verb === 'apply') {
                        if (ct !== 'application/apply-patch+yaml') throw unsupportedMediaType(ct);
                        let cfg: unknown;
                        try {
                            // JSON is YAML: a JSON body is read as JSON first (the YAML parser costs ~10x as much per apply).
                            const text = body.toString('utf8');
                            cfg = jsonOrUndefined(text) ?? YAML.parse(text);
                        } catch (e) {
                            throw apiError(400, 'BadRequest', `error decoding YAML: ${(e as Error).message}`);
                        }
                        const r = this.store.applyInternal(resInfo, ns, info.name!, cfg, {
                            fieldManager: q.fieldManager,
                            force: q.force === 'true' || q.force === '1',
                            dryRun,
                            subresource: sub,
                            ...validation(),
                        });
                        return send(r.created ? 201 : 200, r.obj, warned());
                    }
                    let type: 'merge' | 'json' | 'strategic';
                    if (ct === 'application/merge-patch+json') type = 'merge';
                    else if (ct === 'application/json-patch+json') type = 'json';
                    else if (ct === 'application/strategic-merge-patch+json' && resInfo.builtin) type = 'strategic';
                    else throw unsupportedMediaType(ct);
                    const patch = parseJson(body);
                    const r = this.store.patchInternal(resInfo, ns, info.name!, type, patch, { fieldManager: this.managerFor(info), dryRun, subresource: sub, ...validation() });
                    return send(200, r.obj, warned());
                }
                case 'delete': {
                    let opts: any = {};
                    if (body.length > 0) opts = parseJson(body) ?? {};
                    const propagationPolicy = opts?.propagationPolicy ?? q.propagationPolicy;
                    const r = this.store.delete(resInfo, ns, info.name!, { dryRun, preconditions: opts?.preconditions, fieldManager: this.managerFor(info), propagationPolicy });
                    if (r.pending) return send(200, r.object);
                    return send(200, {
                        kind: 'Status',
                        apiVersion: 'v1',
                        metadata: {},
                        status: 'Success',
                        details: { name: info.name, group: resInfo.group || undefined, kind: resInfo.plural, uid: r.object.metadata.uid },
                    });
                }
                case 'deletecollection': {
                    const labels = LabelSelector.parse(q.labelSelector);
                    const fields = FieldSelector.parse(q.fieldSelector, resInfo);
                    const items: KObj[] = [];
                    const delOpts: any = body.length > 0 ? (parseJson(body) ?? {}) : {};
                    const propagationPolicy = delOpts.propagationPolicy ?? q.propagationPolicy;
                    for (const r of this.store.select(resInfo, info.namespace, labels, fields)) {
                        items.push(this.store.delete(resInfo, r.ns, r.name, { dryRun, propagationPolicy }).object);
                    }
                    return send(200, { kind: resInfo.listKind, apiVersion: resInfo.apiVersion, metadata: { resourceVersion: this.store.resourceVersion }, items });
                }
                default:
                    throw apiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
            }
        } catch (e) {
            const err = e instanceof KubeApiError ? e : apiError(500, 'InternalError', `Internal error occurred: ${(e as Error)?.message ?? String(e)}`);
            log(err.status.code);
            if (res.headersSent) {
                res.destroy();
                return;
            }
            this.sendStatus(res, err.status, err.headers);
        }
    }

    private managerFor(info: RequestInfo): string {
        if (info.fieldManager) return info.fieldManager;
        const ua = info.userAgent ?? 'unknown';
        return ua.split('/')[0] || 'unknown';
    }

    private sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
        this.sendRaw(res, status, JSON.stringify(body), headers);
    }

    private sendRaw(res: http.ServerResponse, status: number, json: string, headers: Record<string, string | string[]> = {}): void {
        if (res.destroyed) return;
        res.writeHead(status, {
            'Content-Type': 'application/json',
            'Cache-Control': 'no-cache, private',
            'Content-Length': String(Buffer.byteLength(json)),
            ...headers,
        });
        res.end(json);
    }

    private sendStatus(res: http.ServerResponse, status: KubeStatus, headers: Record<string, string> = {}): void {
        this.sendJson(res, status.code, status, headers);
    }

    private discovery(info: RequestInfo & { discovery?: string }, req: http.IncomingMessage): unknown {
        const reg = this.store.registry;
        const groups = reg.groups();
        switch (info.discovery) {
            case 'api':
                return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: req.headers.host ?? '' }] };
            case 'apis':
                return {
                    kind: 'APIGroupList',
                    apiVersion: 'v1',
                    groups: [...groups.keys()].map((gv) => {
                        const [g, v] = gv.split('/');
                        return { name: g, versions: [{ groupVersion: gv, version: v }], preferredVersion: { groupVersion: gv, version: v } };
                    }),
                };
            case 'group': {
                const gv = [...groups.keys()].find((k) => k.split('/')[0] === info.group);
                if (!gv) throw pathNotFound();
                const v = gv.split('/')[1];
                return { kind: 'APIGroup', apiVersion: 'v1', name: info.group, versions: [{ groupVersion: gv, version: v }], preferredVersion: { groupVersion: gv, version: v } };
            }
            default: {
                const list = reg.all().filter((r) => r.group === info.group && r.version === info.version);
                if (list.length === 0) throw pathNotFound();
                const resources: unknown[] = [];
                for (const r of list) {
                    resources.push({
                        name: r.plural,
                        singularName: r.singular,
                        namespaced: r.namespaced,
                        kind: r.kind,
                        verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
                        ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
                        storageVersionHash: Buffer.from(r.key).toString('base64').slice(0, 11),
                    });
                    if (r.statusSubresource) {
                        resources.push({ name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] });
                    }
                }
                return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: list[0].apiVersion, resources };
            }
        }
    }

    private serveList(res: ResourceInfo, info: RequestInfo, out: http.ServerResponse, log: (s: number) => void): void {
        const q = info.query;
        const labels = LabelSelector.parse(q.labelSelector);
        const fields = FieldSelector.parse(q.fieldSelector, res);
        const limit = q.limit ? parseInt(q.limit, 10) : 0;
        if (q.limit !== undefined && (!Number.isFinite(limit) || limit < 0)) throw apiError(400, 'BadRequest', `invalid limit ${q.limit}`);
        let snapshotRv = this.store.resourceVersion;
        let startAfter: string | undefined;
        let recs: Rec[];
        const current = Number(this.store.resourceVersion);
        const oldest = Number(this.store.oldestResourceVersion);
        const parseRv = (s: string) => {
            const n = Number(s);
            if (!/^\d+$/.test(s)) throw apiError(400, 'BadRequest', `resourceVersion: Invalid value: ${JSON.stringify(s)}: must be a non-negative integer`);
            return n;
        };
        if (q.continue) {
            let token: { rv: number; start: string };
            try {
                token = JSON.parse(Buffer.from(q.continue, 'base64').toString('utf8'));
                if (typeof token.rv !== 'number' || typeof token.start !== 'string' || (token.rv < 0 && token.rv !== -1)) throw new Error('bad');
            } catch {
                throw apiError(400, 'BadRequest', 'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
            }
            if (token.rv === -1) {
                // the inconsistent token handed out with a 410: the rest of the list at the latest state
                recs = this.store.select(res, info.namespace, labels, fields);
            } else if (token.rv < oldest || token.rv < this.store.oldestResourceVersionOf(res)) {
                // etcd compacted the page's revision: 410 carrying a token to go on inconsistently
                const expired = apiError(410, 'Expired', INCONSISTENT_CONTINUE);
                expired.status.metadata = { continue: encodeContinue(-1, token.start) };
                throw expired;
            } else {
                recs = this.snapshotRecs(res, token.rv, info.namespace, labels, fields);
                snapshotRv = String(token.rv);
            }
            startAfter = token.start;
        } else if (q.resourceVersion && q.resourceVersion !== '0') {
            const rv = parseRv(q.resourceVersion);
            if (rv > current) {
                throw apiError(504, 'Timeout', `Too large resource version: ${rv}, current: ${current}`, { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 });
            }
            if (q.resourceVersionMatch === 'Exact') {
                if (rv < oldest) throw apiError(410, 'Expired', `too old resource version: ${rv} (${oldest})`);
                recs = this.snapshotRecs(res, rv, info.namespace, labels, fields);
                snapshotRv = String(rv);
            } else {
                if (this.options.strictListResourceVersion && rv < oldest) throw apiError(410, 'Expired', `too old resource version: ${rv} (${oldest})`);
                recs = this.store.select(res, info.namespace, labels, fields);
            }
        } else {
            recs = this.store.select(res, info.namespace, labels, fields);
        }
        if (startAfter !== undefined) {
            const sa = startAfter;
            recs = recs.filter((r) => `${r.ns}/${r.name}` > sa);
        }
        let cont: string | undefined;
        let remaining: number | undefined;
        if (limit > 0 && recs.length > limit) {
            remaining = recs.length - limit;
            recs = recs.slice(0, limit);
            const last = recs[recs.length - 1];
            cont = encodeContinue(Number(snapshotRv), `${last.ns}/${last.name}`);
        }
        const meta: Record<string, unknown> = { resourceVersion: snapshotRv };
        if (cont) {
            meta.continue = cont;
            meta.remainingItemCount = remaining;
        }
        const items = recs.map((r) => (res.builtin ? listItemJson(r) : objJson(r))).join(',');
        log(200);
        this.sendRaw(out, 200, `{"kind":${JSON.stringify(res.listKind)},"apiVersion":${JSON.stringify(res.apiVersion)},"metadata":${JSON.stringify(meta)},"items":[${items}]}`);
    }

    private snapshotRecs(res: ResourceInfo, rv: number, namespace: string | undefined, labels: LabelSelector, fields: FieldSelector): Rec[] {
        const snap = this.store.snapshotAt(res, rv);
        if (!snap) throw apiError(410, 'Expired', `too old resource version: ${rv} (${this.store.oldestResourceVersion})`);
        const out = [...snap.values()].filter(
            (r) => (namespace === undefined || !res.namespaced || r.ns === namespace) && (labels.empty || labels.matches(r.obj.metadata?.labels)) && (fields.empty || fields.matches(r.obj)),
        );
        out.sort((a, b) => (a.ns === b.ns ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.ns < b.ns ? -1 : 1));
        return out;
    }

    private watchContext(): WatchContext {
        const min = this.options.minRequestTimeoutSeconds ?? 30;
        const scale = this.options.watchTimeoutScale ?? 1;
        return { store: this.store, faults: this.faults, bookmarkIntervalMs: this.bookmarkIntervalMs, watches: this.watches, watchDurationMs: (t) => watchDurationMs(t, min, scale) };
    }
}
