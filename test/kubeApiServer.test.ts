/**
 * Tests for the Kubernetes API test server and the simulated BMO, driven
 * through @kubernetes/client-node 1.4 exactly as production code would.
 *
 * Server-side apply with client-node 1.4: the generated `patch*` methods pick
 * `application/json-patch+json` as Content-Type on their own; pass
 * `setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply)` as the
 * second (options) argument to turn the call into an apply (the body is still
 * JSON, which is valid YAML). `KubernetesObjectApi.patch(spec, pretty, dryRun,
 * fieldManager, force, PatchStrategy.ServerSideApply)` takes the strategy as
 * an argument instead.
 */
import { strict as assert } from 'node:assert';
import {
    ApiException,
    CoreV1Api,
    CustomObjectsApi,
    KubeConfig,
    KubernetesObjectApi,
    PatchStrategy,
    VersionApi,
    Watch,
    setHeaderOptions,
} from '@kubernetes/client-node';
import { KubeApiTestServer, KObj } from './support/kubeApiServer';
import { SimulatedBmo, BMH_FINALIZER, SECRET_FINALIZER } from './support/simulatedBmo';
import { until } from './support/until';

const G = 'metal3.io';
const V = 'v1alpha1';
const P = 'baremetalhosts';
const NS = 'lab';

const SSA = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const JSONPATCH = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);

interface Status {
    kind: string;
    code: number;
    reason: string;
    message: string;
    details?: { causes?: { reason: string; field?: string; message: string }[]; retryAfterSeconds?: number };
}

async function apiError(p: Promise<unknown>): Promise<{ code: number; status: Status; headers: Record<string, string> }> {
    try {
        await p;
    } catch (e) {
        assert.ok(e instanceof ApiException, `expected ApiException, got ${e}`);
        const body = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
        return { code: e.code, status: body as Status, headers: e.headers as Record<string, string> };
    }
    assert.fail('expected the call to fail');
}

/** Records the events of one client-node Watch. */
class WatchRecorder {
    events: { type: string; object: any }[] = [];
    ended = false;
    error: unknown = null;
    private controller?: AbortController;

    static async start(kc: KubeConfig, path: string, params: Record<string, string | number | boolean | undefined>): Promise<WatchRecorder> {
        const w = new WatchRecorder();
        w.controller = await new Watch(kc).watch(
            path,
            params,
            (type, object) => w.events.push({ type, object }),
            (err) => {
                w.ended = true;
                w.error = err;
            },
        );
        return w;
    }

    of(...types: string[]) {
        return this.events.filter((e) => types.includes(e.type));
    }

    async waitFor(pred: (w: WatchRecorder) => boolean, timeoutMs = 5000): Promise<void> {
        await until('watch events', () => pred(this), timeoutMs, 5);
    }

    stop(): void {
        this.controller?.abort();
    }
}

function secret(name: string, data: Record<string, string>, labels?: Record<string, string>): KObj {
    return {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace: NS, ...(labels ? { labels } : {}) },
        type: 'Opaque',
        data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    };
}

function bmh(name: string, opts: { labels?: Record<string, string>; credentialsName?: string; online?: boolean; finalizers?: string[]; extra?: Record<string, unknown> } = {}): KObj {
    return {
        apiVersion: `${G}/${V}`,
        kind: 'BareMetalHost',
        metadata: { name, namespace: NS, ...(opts.labels ? { labels: opts.labels } : {}), ...(opts.finalizers ? { finalizers: opts.finalizers } : {}) },
        spec: {
            online: opts.online ?? true,
            bootMACAddress: '00:5c:52:31:3a:9c',
            bootMode: 'legacy',
            bmc: { address: `redfish+http://192.168.111.1:8000/redfish/v1/Systems/${name}`, credentialsName: opts.credentialsName ?? `${name}-bmc-secret` },
            ...(opts.extra ?? {}),
        },
    };
}

describe('KubeApiTestServer (via @kubernetes/client-node 1.4)', function () {
    this.timeout(20_000);
    let server: KubeApiTestServer;
    let kc: KubeConfig;
    let core: CoreV1Api;
    let crd: CustomObjectsApi;

    const applyHost = (body: KObj, fieldManager = 'pulumi', force = true) =>
        crd.patchNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, name: body.metadata.name, body, fieldManager, force }, SSA);
    const getHost = (name: string) => crd.getNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, name });

    before(async () => {
        server = new KubeApiTestServer({ namespaces: [NS], bookmarkIntervalMs: 50 });
        await server.start();
        kc = server.kubeConfig();
        core = kc.makeApiClient(CoreV1Api);
        crd = kc.makeApiClient(CustomObjectsApi);
    });

    after(async () => {
        await server.stop();
    });

    describe('discovery and auth', () => {
        it('serves /version and discovery good enough for KubernetesObjectApi', async () => {
            const v = await kc.makeApiClient(VersionApi).getCode();
            assert.equal(v.major, '1');
            const objects = KubernetesObjectApi.makeApiClient(kc);
            const resources: any = await crd.getAPIResources({ group: G, version: V });
            assert.deepEqual(
                resources.resources.filter((r: any) => r.name.startsWith('baremetalhosts')).map((r: any) => [r.name, r.kind, r.namespaced]),
                [['baremetalhosts', 'BareMetalHost', true], ['baremetalhosts/status', 'BareMetalHost', true]],
            );
            // generic SSA through discovery: PatchStrategy passed as an argument
            const out = await objects.patch(
                { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'via-object-api', namespace: NS }, data: { a: '1' } } as any,
                undefined,
                undefined,
                'objapi',
                true,
                PatchStrategy.ServerSideApply,
            );
            assert.equal((out as any).data.a, '1');
            assert.equal(out.metadata?.managedFields?.[0].operation, 'Apply');
        });

        it('serves Cluster API and CAPM3 kinds at their storage version v1beta2 only (v1beta1 is 404, never re-registered)', async () => {
            // kubernetes-sigs/cluster-api@v1.13.5 and cluster-api-provider-metal3@v1.13.2 CRDs: v1beta2 is the storage version
            for (const [group, plural] of [['cluster.x-k8s.io', 'machines'], ['controlplane.cluster.x-k8s.io', 'kubeadmcontrolplanes'], ['infrastructure.cluster.x-k8s.io', 'metal3machines']]) {
                const res: any = await crd.getAPIResources({ group, version: 'v1beta2' });
                assert.ok(res.resources.some((r: any) => r.name === plural), `${plural}.${group}`);
                assert.equal((await apiError(crd.listNamespacedCustomObject({ group, version: 'v1beta1', namespace: NS, plural }))).code, 404);
            }
            const created: any = await crd.createNamespacedCustomObject({ group: 'cluster.x-k8s.io', version: 'v1beta2', namespace: NS, plural: 'clusters', body: { apiVersion: 'cluster.x-k8s.io/v1beta2', kind: 'Cluster', metadata: { name: 'c1' }, spec: {} } });
            assert.equal(created.apiVersion, 'cluster.x-k8s.io/v1beta2');
            assert.equal(server.store.resource('clusters').version, 'v1beta2');
        });

        it('rejects a wrong bearer token with a 401 Status', async () => {
            const bad = new KubeConfig();
            bad.loadFromString(server.kubeconfigYaml().replace('token: test-token', 'token: nope'));
            const e = await apiError(bad.makeApiClient(CoreV1Api).listNamespace());
            assert.equal(e.code, 401);
        });

        it('serves HTTPS with a generated certificate when asked', async () => {
            const tls = new KubeApiTestServer({ tls: true });
            try {
                const url = await tls.start();
                assert.match(url, /^https:/);
                const list = await tls.kubeConfig().makeApiClient(CoreV1Api).listNamespace();
                assert.ok(list.items.some((n) => n.metadata?.name === 'default'));
            } finally {
                await tls.stop();
            }
        });
    });

    describe('server-side apply', () => {
        it('creates, updates, removes dropped fields and keeps no-ops free', async () => {
            const created = await core.patchNamespacedSecret(
                { name: 's1', namespace: NS, body: secret('s1', { username: 'admin', password: 'pw' }, { a: '1', b: '2' }), fieldManager: 'pulumi', force: true },
                SSA,
            );
            assert.equal(server.requests.at(-1)?.status, 201);
            assert.equal(server.requests.at(-1)?.verb, 'apply');
            const mf = created.metadata!.managedFields!;
            assert.equal(mf.length, 1);
            assert.equal(mf[0].manager, 'pulumi');
            assert.equal(mf[0].operation, 'Apply');
            assert.deepEqual(Object.keys((mf[0].fieldsV1 as any)['f:data']).sort(), ['f:password', 'f:username']);
            const rv1 = Number(created.metadata!.resourceVersion);

            // update: new value, label b and data.password dropped
            const updated = await core.patchNamespacedSecret(
                { name: 's1', namespace: NS, body: secret('s1', { username: 'root' }, { a: '1' }), fieldManager: 'pulumi', force: true },
                SSA,
            );
            assert.ok(Number(updated.metadata!.resourceVersion) > rv1);
            assert.deepEqual(updated.metadata!.labels, { a: '1' });
            assert.deepEqual(Object.keys(updated.data!), ['username']);
            assert.equal(Buffer.from(updated.data!.username, 'base64').toString(), 'root');

            // the same configuration again changes nothing
            const again = await core.patchNamespacedSecret(
                { name: 's1', namespace: NS, body: secret('s1', { username: 'root' }, { a: '1' }), fieldManager: 'pulumi', force: true },
                SSA,
            );
            assert.equal(again.metadata!.resourceVersion, updated.metadata!.resourceVersion);
        });

        it('reports conflicts with other managers unless forced, then transfers ownership', async () => {
            await core.patchNamespacedSecret({ name: 's2', namespace: NS, body: secret('s2', { username: 'admin', password: 'pw' }), fieldManager: 'pulumi', force: true }, SSA);
            // same value: shared ownership, no conflict
            await core.patchNamespacedSecret({ name: 's2', namespace: NS, body: secret('s2', { username: 'admin' }), fieldManager: 'kubectl', force: false }, SSA);
            // different value: conflict
            const e = await apiError(core.patchNamespacedSecret({ name: 's2', namespace: NS, body: secret('s2', { password: 'other' }), fieldManager: 'kubectl', force: false }, SSA));
            assert.equal(e.code, 409);
            assert.equal(e.status.reason, 'Conflict');
            assert.match(e.status.message, /Apply failed with 1 conflict: conflict with "pulumi" using v1: \.data\.password/);
            assert.deepEqual(e.status.details?.causes?.map((c) => [c.reason, c.field]), [['FieldManagerConflict', '.data.password']]);

            // force: kubectl takes data.password
            const forced = await core.patchNamespacedSecret({ name: 's2', namespace: NS, body: secret('s2', { username: 'admin', password: 'other' }), fieldManager: 'kubectl', force: true }, SSA);
            const pulumi = forced.metadata!.managedFields!.find((m) => m.manager === 'pulumi')!;
            assert.deepEqual(Object.keys((pulumi.fieldsV1 as any)['f:data']), ['f:username']);
            // pulumi drops password: it no longer owns it, so it stays
            const after = await core.patchNamespacedSecret({ name: 's2', namespace: NS, body: secret('s2', { username: 'admin' }), fieldManager: 'pulumi', force: true }, SSA);
            assert.equal(Buffer.from(after.data!.password, 'base64').toString(), 'other');
        });

        it('never changes .status through the main resource, and /status changes only status', async () => {
            const created: any = await applyHost({ ...bmh('st-1'), status: { operationalStatus: 'OK' } });
            assert.equal(created.status, undefined, 'status is dropped on apply/create');
            assert.equal(created.metadata.generation, 1);

            const withStatus: any = await crd.patchNamespacedCustomObjectStatus(
                { group: G, version: V, namespace: NS, plural: P, name: 'st-1', body: { status: { provisioning: { ID: '', state: 'registering' }, errorMessage: '', operationalStatus: '', poweredOn: false }, spec: { online: false } } },
                MERGE,
            );
            assert.equal(withStatus.status.provisioning.state, 'registering');
            assert.equal(withStatus.spec.online, true, '/status ignores spec');
            assert.equal(withStatus.metadata.generation, 1, 'status writes do not bump generation');
            assert.ok(withStatus.metadata.managedFields.some((m: any) => m.subresource === 'status'));

            const changed: any = await applyHost({ ...bmh('st-1', { online: false }), status: { provisioning: { state: 'bogus' } } });
            assert.equal(changed.spec.online, false);
            assert.equal(changed.status.provisioning.state, 'registering', 'status survives apply of the main resource');
            assert.equal(changed.metadata.generation, 2, 'spec change bumps generation');
        });

        it('needs the apply content type: the default json-patch content type rejects an object body', async () => {
            const e = await apiError(core.patchNamespacedSecret({ name: 's1', namespace: NS, body: secret('s1', {}), fieldManager: 'pulumi' }));
            assert.equal(e.code, 400);
            assert.match(e.status.message, /cannot unmarshal object/);
            // strategic merge patch is not available for custom resources
            const e2 = await apiError(
                crd.patchNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, name: 'st-1', body: { spec: {} } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch)),
            );
            assert.equal(e2.code, 415);
        });

        it('reads an apply body as JSON when it is JSON and as YAML otherwise (flow or block style)', async () => {
            const apply = (name: string, body: string) =>
                fetch(`${server.url}/api/v1/namespaces/${NS}/configmaps/${name}?fieldManager=raw`, {
                    method: 'PATCH',
                    headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/apply-patch+yaml' },
                    body,
                });
            const bodies: [string, string][] = [
                ['as-json', JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'as-json' }, data: { k: 'json' } })],
                ['as-flow', '{apiVersion: v1, kind: ConfigMap, metadata: {name: as-flow}, data: {k: flow}}'],
                ['as-block', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: as-block\ndata:\n  k: block\n'],
            ];
            for (const [name, body] of bodies) {
                const res = await apply(name, body);
                assert.equal(res.status, 201, `${name}: ${await res.text()}`);
                assert.equal(server.store.get('configmaps', NS, name)?.data?.k, name.slice(3));
            }
            assert.equal((await apply('bad', '{"apiVersion": "v1", kind')).status, 400);
        });
    });

    describe('errors as Status objects', () => {
        it('404, 409 AlreadyExists/Conflict, 422 Invalid, 400 BadRequest', async () => {
            const nf = await apiError(getHost('nope'));
            assert.equal(nf.code, 404);
            assert.equal(nf.status.message, 'baremetalhosts.metal3.io "nope" not found');

            await crd.createNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, body: bmh('dup') });
            const ae = await apiError(crd.createNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, body: bmh('dup') }));
            assert.equal(ae.code, 409);
            assert.equal(ae.status.reason, 'AlreadyExists');

            const stale: any = await getHost('dup');
            await crd.patchNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, name: 'dup', body: { metadata: { labels: { x: 'y' } } } }, MERGE);
            const cf = await apiError(crd.replaceNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, name: 'dup', body: stale }));
            assert.equal(cf.code, 409);
            assert.equal(cf.status.reason, 'Conflict');
            assert.match(cf.status.message, /the object has been modified/);

            const bad = await apiError(crd.createNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, body: bmh('Bad_Name') }));
            assert.equal(bad.code, 422);
            assert.equal(bad.status.reason, 'Invalid');
            assert.equal(bad.status.details?.causes?.[0].field, 'metadata.name');

            const noName = await apiError(crd.createNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, body: { ...bmh('x'), metadata: { namespace: NS } } }));
            assert.equal(noName.code, 422);
            assert.match(noName.status.message, /name or generateName is required/);

            const wrongVersion = await apiError(crd.createNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, body: { ...bmh('x'), apiVersion: 'metal3.io/v1' } }));
            assert.equal(wrongVersion.code, 400);
            assert.match(wrongVersion.status.message, /does not match the expected API version/);

            const noNs = await apiError(core.createNamespacedSecret({ namespace: 'missing', body: { metadata: { name: 'a' } } }));
            assert.equal(noNs.code, 404);
            assert.equal(noNs.status.message, 'namespaces "missing" not found');
        });

        it('429 TooManyRequests with Retry-After, and injected 5xx', async () => {
            server.faults.throttle(2, 3, { verb: 'get', resource: 'secrets' });
            for (let i = 0; i < 2; i++) {
                const e = await apiError(core.readNamespacedSecret({ name: 's1', namespace: NS }));
                assert.equal(e.code, 429);
                assert.equal(e.headers['retry-after'], '3');
                assert.equal(e.status.reason, 'TooManyRequests');
                assert.equal(e.status.details?.retryAfterSeconds, 3);
            }
            assert.equal((await core.readNamespacedSecret({ name: 's1', namespace: NS })).metadata?.name, 's1');
            server.faults.fail(1, 503);
            const e = await apiError(core.listNamespacedSecret({ namespace: NS }));
            assert.equal(e.code, 503);
            assert.equal(e.status.reason, 'ServiceUnavailable');
            assert.equal(server.countRequests({ verb: 'get', resource: 'secrets', name: 's1', status: 429 }), 2);
            assert.ok(server.countsByVerb({ resource: 'secrets' }).apply! >= 5);
        });
    });

    describe('list and watch', () => {
        it('filters lists with equality and set-based label selectors', async () => {
            const mk = (name: string, labels: Record<string, string>) => applyHost(bmh(name, { labels }));
            await mk('sel-a', { rack: 'r1', role: 'worker' });
            await mk('sel-b', { rack: 'r2', role: 'worker' });
            await mk('sel-c', { rack: 'r3', role: 'control-plane', gpu: 'yes' });
            const names = async (labelSelector: string) =>
                ((await crd.listNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, labelSelector })) as any).items.map((i: any) => i.metadata.name);
            assert.deepEqual(await names('role=worker'), ['sel-a', 'sel-b']);
            assert.deepEqual(await names('role==worker,rack!=r1'), ['sel-b']);
            assert.deepEqual(await names('rack in (r1, r3)'), ['sel-a', 'sel-c']);
            assert.deepEqual(await names('rack notin (r1,r3),rack'), ['sel-b']);
            assert.deepEqual(await names('gpu'), ['sel-c']);
            assert.deepEqual(await names('rack,!gpu'), ['sel-a', 'sel-b']);
            const e = await apiError(crd.listNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, labelSelector: 'a in (' }));
            assert.equal(e.code, 400);
        });

        it('list then watch from its resourceVersion sees every later event, in order', async () => {
            const sel = 'pool=w1';
            await applyHost(bmh('w-1', { labels: { pool: 'w1' } }));
            await applyHost(bmh('w-2', { labels: { pool: 'w1' } }));
            const list: any = await crd.listNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, labelSelector: sel });
            assert.equal(list.items.length, 2);
            const rv = list.metadata.resourceVersion;
            // changes between the list and the watch are not lost
            await applyHost(bmh('w-3', { labels: { pool: 'w1' } }));
            const w = await WatchRecorder.start(kc, `/apis/${G}/${V}/namespaces/${NS}/${P}`, { resourceVersion: rv, allowWatchBookmarks: false, labelSelector: sel });
            await applyHost(bmh('w-1', { labels: { pool: 'w1' }, online: false }));
            await applyHost(bmh('other', { labels: { pool: 'w2' } }));
            await crd.deleteNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, name: 'w-2' });
            // leaving the selector is seen as DELETED, entering it as ADDED
            await applyHost(bmh('w-3', { labels: { pool: 'w2' } }));
            await applyHost(bmh('other', { labels: { pool: 'w1' } }));
            await w.waitFor((x) => x.events.length >= 5);
            await new Promise((r) => setTimeout(r, 30));
            w.stop();
            assert.deepEqual(
                w.events.map((e) => `${e.type} ${e.object.metadata.name}`),
                ['ADDED w-3', 'MODIFIED w-1', 'DELETED w-2', 'DELETED w-3', 'ADDED other'],
            );
            const rvs = w.events.map((e) => Number(e.object.metadata.resourceVersion));
            assert.deepEqual([...rvs].sort((a, b) => a - b), rvs, 'resourceVersions increase');
            assert.ok(rvs[0] > Number(rv));
        });

        it('sends bookmarks carrying the current resourceVersion', async () => {
            const w = await WatchRecorder.start(kc, `/api/v1/namespaces/${NS}/secrets`, { allowWatchBookmarks: true, resourceVersion: '0' });
            await w.waitFor((x) => x.of('BOOKMARK').length >= 2, 3000);
            w.stop();
            const bm = w.of('BOOKMARK').at(-1)!.object;
            assert.equal(bm.kind, 'Secret');
            assert.equal(bm.metadata.resourceVersion, (await core.listNamespacedSecret({ namespace: NS })).metadata?.resourceVersion);
            assert.ok(w.of('ADDED').length >= 2, 'resourceVersion=0 starts with the current state');
        });

        it('a dropped watch resumes from the last seen resourceVersion without missing events', async () => {
            const path = `/api/v1/namespaces/${NS}/configmaps`;
            const start = (await core.listNamespacedConfigMap({ namespace: NS })).metadata!.resourceVersion!;
            const seen: string[] = [];
            let lastRv = start;
            let w = await WatchRecorder.start(kc, path, { resourceVersion: lastRv, allowWatchBookmarks: true });
            const batch = Array.from({ length: 30 }, (_, i) => `cm-${i}`);
            const names = [...batch];
            const drain = () => {
                for (const e of w.events.splice(0)) {
                    lastRv = e.object.metadata.resourceVersion;
                    if (e.type !== 'BOOKMARK') seen.push(`${e.type} ${e.object.metadata.name}`);
                }
            };
            let reconnects = 0;
            for (const [i, name] of batch.entries()) {
                await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name }, data: { i: String(i) } } });
                if (i % 10 === 5) {
                    await until('an event', () => w.events.length > 0 || seen.length > 0, 5000, 5);
                    drain();
                    assert.ok(server.dropWatches() >= 1);
                    await until('the watch to end', () => w.ended, 5000, 5);
                    // a few writes happen while nobody is watching
                    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: `gap-${i}` } } });
                    names.push(`gap-${i}`);
                    w = await WatchRecorder.start(kc, path, { resourceVersion: lastRv, allowWatchBookmarks: true });
                    reconnects++;
                }
            }
            await until('every write seen', () => {
                drain();
                return seen.length >= names.length;
            }, 5000, 5);
            w.stop();
            assert.equal(reconnects, 3);
            assert.equal(seen.length, names.length, 'no duplicates');
            assert.deepEqual(new Set(seen), new Set(names.map((n) => `ADDED ${n}`)));
        });

        it('finalizers delay deletion until they are removed', async () => {
            await applyHost(bmh('fin-1', { finalizers: ['example.com/hold'] }));
            const w = await WatchRecorder.start(kc, `/apis/${G}/${V}/namespaces/${NS}/${P}`, { resourceVersion: server.store.resourceVersion, fieldSelector: 'metadata.name=fin-1' });
            const del: any = await crd.deleteNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, name: 'fin-1' });
            assert.ok(del.metadata.deletionTimestamp, 'DELETE returns the terminating object');
            const lingering: any = await getHost('fin-1');
            assert.ok(lingering.metadata.deletionTimestamp);
            const forbidden = await apiError(
                crd.patchNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, name: 'fin-1', body: { metadata: { finalizers: ['example.com/hold', 'example.com/more'] } } }, MERGE),
            );
            assert.equal(forbidden.code, 422);
            await crd.patchNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, name: 'fin-1', body: [{ op: 'remove', path: '/metadata/finalizers' }] }, JSONPATCH);
            assert.equal((await apiError(getHost('fin-1'))).code, 404);
            await w.waitFor((x) => x.of('DELETED').length === 1);
            w.stop();
            assert.deepEqual(w.events.map((e) => e.type), ['MODIFIED', 'DELETED']);
            // immediate deletion answers with a Status
            await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'gone' } } });
            const st: any = await core.deleteNamespacedConfigMap({ name: 'gone', namespace: NS });
            assert.equal(st.status, 'Success');
        });

        it('paginates from a consistent snapshot', async () => {
            const first: any = await crd.listNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, limit: 2 });
            assert.equal(first.items.length, 2);
            assert.ok(first.metadata.continue);
            await applyHost(bmh('aaa-added-later'));
            const rest: any = await crd.listNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, _continue: first.metadata.continue });
            const all = [...first.items, ...rest.items].map((i: any) => i.metadata.name);
            assert.ok(!all.includes('aaa-added-later'), 'pages come from the snapshot of the first page');
            assert.equal(rest.metadata.resourceVersion, first.metadata.resourceVersion);
        });
    });

    describe('expired resourceVersions', () => {
        let s2: KubeApiTestServer;
        let kc2: KubeConfig;
        before(async () => {
            s2 = new KubeApiTestServer({ namespaces: [NS], historySize: 50 });
            await s2.start();
            kc2 = s2.kubeConfig();
        });
        after(() => s2.stop());

        it('a watch from a compacted resourceVersion gets an ERROR event with 410 Expired', async () => {
            const c = kc2.makeApiClient(CoreV1Api);
            await c.createNamespacedSecret({ namespace: NS, body: secret('old', { a: 'b' }) });
            const list = await c.listNamespacedSecret({ namespace: NS });
            const rv = list.metadata!.resourceVersion!;
            await c.createNamespacedSecret({ namespace: NS, body: secret('newer', { a: 'b' }) });
            s2.compact();
            const w = await WatchRecorder.start(kc2, `/api/v1/namespaces/${NS}/secrets`, { resourceVersion: rv, allowWatchBookmarks: true });
            await w.waitFor((x) => x.ended);
            assert.equal(w.events.length, 1);
            assert.equal(w.events[0].type, 'ERROR');
            assert.equal(w.events[0].object.kind, 'Status');
            assert.equal(w.events[0].object.code, 410);
            assert.equal(w.events[0].object.reason, 'Expired');
            assert.match(w.events[0].object.message, /too old resource version/);
            // exact lists and continue tokens from before the window are gone too
            const e = await apiError(c.listNamespacedSecret({ namespace: NS, resourceVersion: rv, resourceVersionMatch: 'Exact' }));
            assert.equal(e.code, 410);
            // a plain (NotOlderThan) list is served from the current state, as a real server does
            assert.equal((await c.listNamespacedSecret({ namespace: NS, resourceVersion: rv })).items.length, 2);
        });

        it('the bounded history expires old resourceVersions on its own', async () => {
            const c = kc2.makeApiClient(CoreV1Api);
            const rv = (await c.listNamespacedConfigMap({ namespace: NS })).metadata!.resourceVersion!;
            for (let i = 0; i < 60; i++) s2.store.create('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `h-${i}`, namespace: NS } });
            const w = await WatchRecorder.start(kc2, `/api/v1/namespaces/${NS}/configmaps`, { resourceVersion: rv });
            await w.waitFor((x) => x.ended);
            assert.equal(w.events[0].object.code, 410);
        });
    });
});

describe('SimulatedBmo', function () {
    this.timeout(20_000);
    let server: KubeApiTestServer;
    let kc: KubeConfig;
    let core: CoreV1Api;
    let crd: CustomObjectsApi;
    let bmo: SimulatedBmo;

    const apply = (body: KObj) =>
        body.kind === 'Secret'
            ? core.patchNamespacedSecret({ name: body.metadata.name, namespace: NS, body, fieldManager: 'pulumi', force: true }, SSA)
            : crd.patchNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, name: body.metadata.name, body, fieldManager: 'pulumi', force: true }, SSA);
    const host = async (name: string) => (await crd.getNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, name })) as any;

    beforeEach(async () => {
        server = new KubeApiTestServer({ namespaces: [NS], bookmarkIntervalMs: 200 });
        await server.start();
        kc = server.kubeConfig();
        core = kc.makeApiClient(CoreV1Api);
        crd = kc.makeApiClient(CustomObjectsApi);
        bmo = new SimulatedBmo(server, { concurrency: 8, provisioningLimit: 20, seed: 7 });
    });

    afterEach(async () => {
        bmo.stop();
        await server.stop();
    });

    it('walks 50 hosts to available, observed through a watch', async () => {
        const names = Array.from({ length: 50 }, (_, i) => `node-${i}`);
        const start = (await crd.listNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P }) as any).metadata.resourceVersion;
        const w = await WatchRecorder.start(kc, `/apis/${G}/${V}/namespaces/${NS}/${P}`, { resourceVersion: start, allowWatchBookmarks: true });
        await Promise.all(names.map(async (n) => {
            await apply(secret(`${n}-bmc-secret`, { username: 'admin', password: 'password' }, { 'environment.metal3.io': 'baremetal' }));
            await apply(bmh(n));
        }));
        const available = new Set<string>();
        await w.waitFor((x) => {
            for (const e of x.events) if (e.object.status?.provisioning?.state === 'available') available.add(e.object.metadata.name);
            return available.size === 50;
        }, 15_000);
        w.stop();
        // every host went through the states in order
        const states = new Map<string, string[]>();
        for (const e of w.events) {
            if (e.type === 'BOOKMARK') continue;
            const s = e.object.status?.provisioning?.state;
            const list = states.get(e.object.metadata.name) ?? [];
            if (s !== undefined && list.at(-1) !== s) list.push(s);
            states.set(e.object.metadata.name, list);
        }
        for (const n of names) assert.deepEqual(states.get(n), ['registering', 'inspecting', 'preparing', 'available'], n);
        const h = await host('node-7');
        assert.ok(h.metadata.finalizers.includes(BMH_FINALIZER));
        assert.equal(h.status.operationalStatus, 'OK');
        assert.equal(h.status.poweredOn, true);
        assert.equal(h.status.errorCount, 0);
        assert.deepEqual(h.status.goodCredentials.credentials, { name: 'node-7-bmc-secret', namespace: NS });
        assert.ok(h.status.provisioning.ID);
        assert.ok(h.status.operationHistory.inspect.end);
        assert.ok(h.metadata.managedFields.some((m: any) => m.manager === 'baremetal-operator' && m.subresource === 'status'));
        const s = await core.readNamespacedSecret({ name: 'node-7-bmc-secret', namespace: NS });
        assert.ok(s.metadata!.finalizers!.includes(SECRET_FINALIZER));
        assert.equal(s.metadata!.ownerReferences![0].uid, h.metadata.uid);
        assert.ok(bmo.stats.maxConcurrentTransitions <= 8);
        assert.ok(bmo.stats.maxInspecting <= 20);
    });

    it('fails an injected host with its message in its state, retried with errorCount growing until cleared', async () => {
        bmo.failHost('bad-0', { state: 'inspecting', errorType: 'inspection error', errorMessage: 'timeout waiting for IPA ramdisk' });
        for (const n of ['ok-0', 'bad-0']) {
            await apply(secret(`${n}-bmc-secret`, { username: 'admin', password: 'pw' }));
            await apply(bmh(n));
        }
        await bmo.waitForState(NS, ['ok-0'], 'available');
        await bmo.waitFor((hs) => hs.some((h) => h.metadata.name === 'bad-0' && h.status?.operationalStatus === 'error' && h.status.errorCount >= 3));
        const h = await host('bad-0');
        assert.equal(h.status.provisioning.state, 'inspecting');
        assert.equal(h.status.operationalStatus, 'error');
        assert.equal(h.status.errorType, 'inspection error');
        assert.equal(h.status.errorMessage, 'timeout waiting for IPA ramdisk');
        bmo.clearFailure('bad-0');
        await bmo.waitForState(NS, ['bad-0'], 'available');
        assert.equal((await host('bad-0')).status.errorCount, 0);
    });

    it('holds a host without usable credentials in registering/error until the secret is fixed', async () => {
        await apply(bmh('nocreds'));
        await bmo.waitFor((hs) => hs[0]?.status?.operationalStatus === 'error');
        let h = await host('nocreds');
        assert.equal(h.status.provisioning.state, 'registering');
        assert.equal(h.status.errorType, 'registration error');
        assert.equal(h.status.errorMessage, `The BMC secret ${NS}/nocreds-bmc-secret does not exist`);
        await apply(secret('nocreds-bmc-secret', { username: 'admin' }));
        await bmo.waitFor((hs) => /password/.test(hs[0]?.status?.errorMessage ?? ''));
        h = await host('nocreds');
        assert.equal(h.status.provisioning.state, 'registering');
        assert.equal(h.status.errorMessage, "Missing BMC connection details 'password' in credentials");
        await apply(secret('nocreds-bmc-secret', { username: 'admin', password: 'pw' }));
        await bmo.waitForState(NS, ['nocreds'], 'available');
        h = await host('nocreds');
        assert.equal(h.status.operationalStatus, 'OK');
        assert.equal(h.status.errorMessage, '');
    });

    it('releases finalizers on delete; the object lingers meanwhile', async () => {
        for (const n of ['d-0', 'd-1']) {
            await apply(secret(`${n}-bmc-secret`, { username: 'admin', password: 'pw' }));
            await apply(bmh(n));
        }
        await bmo.waitForState(NS, 2, 'available');
        const w = await WatchRecorder.start(kc, `/apis/${G}/${V}/namespaces/${NS}/${P}`, { resourceVersion: server.store.resourceVersion, fieldSelector: 'metadata.name=d-0' });
        await crd.deleteNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, name: 'd-0' });
        const lingering = await host('d-0');
        assert.ok(lingering.metadata.deletionTimestamp);
        await w.waitFor((x) => x.of('DELETED').length === 1);
        w.stop();
        const states = w.events.map((e) => e.object.status.provisioning.state);
        assert.ok(states.includes('powering off before delete'));
        assert.ok(states.includes('deleting'));
        assert.equal((await apiError(host('d-0'))).code, 404);
        // BMO released its secret finalizer; the garbage collector removes the secret it owned
        await until('the secret collected', () => server.store.get('secrets', NS, 'd-0-bmc-secret') === undefined, 5000, 5);
        assert.ok(server.store.get('secrets', NS, 'd-1-bmc-secret'));
        assert.ok(bmo.stats.finalizersRemoved >= 1);
    });

    it('provisions an available host given an image and online, and deprovisions it when the image goes (BMO v0.13.2)', async () => {
        await apply(secret('p-0-bmc-secret', { username: 'admin', password: 'pw' }));
        await apply(bmh('p-0'));
        await bmo.waitForState(NS, ['p-0'], 'available');
        const w = await WatchRecorder.start(kc, `/apis/${G}/${V}/namespaces/${NS}/${P}`, { resourceVersion: server.store.resourceVersion, fieldSelector: 'metadata.name=p-0' });
        const image = { url: 'http://192.168.111.1:6280/images/node.qcow2', checksum: 'http://192.168.111.1:6280/images/node.qcow2.sha256sum', checksumType: 'sha256', format: 'qcow2' };
        await crd.patchNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, name: 'p-0', body: { spec: { image, online: true } } }, MERGE);
        await bmo.waitForState(NS, ['p-0'], 'provisioned');
        let h = await host('p-0');
        assert.deepEqual(h.status.provisioning.image, image);
        assert.equal(h.status.poweredOn, true);
        assert.ok(h.status.operationHistory.provision.end);
        await crd.patchNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, name: 'p-0', body: { spec: { image: null, online: false } } }, MERGE);
        await until('deprovisioning', () => w.events.some((e) => e.object.status.provisioning.state === 'deprovisioning'), 5000, 5);
        await bmo.waitForState(NS, ['p-0'], 'available');
        w.stop();
        h = await host('p-0');
        assert.equal(h.status.provisioning.image.url, '');
        assert.equal(h.status.poweredOn, false);
        const states = w.events.map((e) => e.object.status.provisioning.state).filter((x, i, a) => x !== a[i - 1]);
        assert.deepEqual(states, ['available', 'provisioning', 'provisioned', 'deprovisioning', 'available']);
        // no checksum: a provisioning error (Image.GetChecksum), the host goes back to available and stays there
        const w2 = await WatchRecorder.start(kc, `/apis/${G}/${V}/namespaces/${NS}/${P}`, { resourceVersion: server.store.resourceVersion, fieldSelector: 'metadata.name=p-0' });
        await crd.patchNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P, name: 'p-0', body: { spec: { image: { url: image.url }, online: true } } }, MERGE);
        await until('failed provisioning undone', () => w2.events.some((e) => e.object.status.errorType === 'provisioning error') && server.store.get(P, NS, 'p-0')!.status.provisioning.state === 'available', 5000, 5);
        await new Promise((r) => setTimeout(r, 300));
        w2.stop();
        assert.equal(w2.events.find((e) => e.object.status.errorType)!.object.status.errorMessage, 'checksum is required for normal images');
        assert.equal((await host('p-0')).status.provisioning.state, 'available');
        assert.ok(!w2.events.some((e) => e.object.status.provisioning.state === 'provisioned'));
    });

    it('limits hosts inspecting at once (PROVISIONING_LIMIT) and delays the others', async () => {
        bmo.stop();
        bmo = new SimulatedBmo(server, { provisioningLimit: 2, delays: { inspecting: 30 } });
        const delayed = new Set<string>();
        const unsubscribe = server.store.subscribe(P, (ev) => {
            if (ev.object.status?.operationalStatus === 'delayed') delayed.add(ev.name);
        });
        for (let i = 0; i < 6; i++) {
            server.store.apply('secrets', secret(`lim-${i}-bmc-secret`, { username: 'admin', password: 'pw' }), { fieldManager: 'pulumi' });
            server.store.apply(P, bmh(`lim-${i}`), { fieldManager: 'pulumi' });
        }
        await bmo.waitForState(NS, 6, 'available');
        unsubscribe();
        assert.equal(bmo.stats.maxInspecting, 2);
        assert.ok(delayed.size >= 1, 'some hosts waited with operationalStatus delayed');
    });

    it('deleting the namespace walks its hosts through deletion and then removes it', async () => {
        for (const n of ['ns-0', 'ns-1']) {
            await apply(secret(`${n}-bmc-secret`, { username: 'admin', password: 'pw' }));
            await apply(bmh(n));
        }
        await bmo.waitForState(NS, 2, 'available');
        await core.deleteNamespace({ name: NS });
        const ns = await core.readNamespace({ name: NS });
        assert.equal(ns.status?.phase, 'Terminating');
        const e = await apiError(core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'late' } } }));
        assert.equal(e.code, 403);
        await until('the namespace gone', () => server.store.get('namespaces', '', NS) === undefined, 5000, 5);
        assert.equal(server.store.count(P), 0);
        assert.equal(server.store.count('secrets'), 0);
        assert.equal(bmo.stats.finalizersRemoved, 2);
    });

    it('drives 500 hosts to available, every transition watched and listed', async () => {
        bmo.stop();
        bmo = new SimulatedBmo(server, { concurrency: 64, delays: { registering: 5, inspecting: 10, preparing: 5 } });
        for (let i = 0; i < 500; i++) {
            server.store.apply('secrets', secret(`big-${i}-bmc-secret`, { username: 'admin', password: 'pw' }), { fieldManager: 'pulumi' });
            server.store.apply(P, bmh(`big-${i}`), { fieldManager: 'pulumi' });
        }
        const w = await WatchRecorder.start(kc, `/apis/${G}/${V}/namespaces/${NS}/${P}`, { resourceVersion: '0', allowWatchBookmarks: true });
        await bmo.waitForState(NS, 500, 'available', 15_000);
        const listed: any = await crd.listNamespacedCustomObject({ group: G, version: V, namespace: NS, plural: P });
        assert.equal(listed.items.filter((h: any) => h.status.provisioning.state === 'available').length, 500);
        await w.waitFor((x) => x.events.filter((e) => e.object.status?.provisioning?.state === 'available').length >= 500);
        w.stop();
    });
});
