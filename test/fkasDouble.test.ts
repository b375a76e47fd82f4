/**
 * The FKAS double against the behaviour of metal3-io/cluster-api-provider-metal3@ac63ce02c5ea5d70624cd664293eedf498032da9
 * hack/fake-apiserver/cmd/metal3-fkas/{main.go,utils.go} (see test/support/fkasDouble.ts).
 */
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as https from 'node:https';
import { KubeApiTestServer } from './support/kubeApiServer';
import { FkasDouble } from './support/fkasDouble';
import { sharedRsaCa, makeSelfSignedCert } from './support/kube/tls';

const NS = 'metal3';

function call(url: string, path: string, method: string, body?: string): Promise<{ status: number; text: string; type?: string }> {
    return new Promise((resolve, reject) => {
        const req = http.request(new URL(path, url), { method, agent: false }, (res) => {
            let text = '';
            res.on('data', (c) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text, type: res.headers['content-type'] }));
        });
        req.on('error', reject);
        req.end(body);
    });
}

describe('FkasDouble', function () {
    this.timeout(20_000);
    let server: KubeApiTestServer;
    let fkas: FkasDouble;
    const minPort = 20000 + Math.floor(Math.random() * 9000);

    beforeEach(async () => {
        server = new KubeApiTestServer({ namespaces: [NS] });
        fkas = new FkasDouble(server, { minPort });
        await fkas.start();
    });
    afterEach(async () => {
        await fkas.stop();
        await server.stop();
    });

    const secret = (name: string, pair: { key: string; cert: string }) =>
        server.store.create('secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, type: 'cluster.x-k8s.io/secret', stringData: { 'tls.crt': pair.cert, 'tls.key': pair.key } });
    const cpNode = (cluster: string, nodeName: string, extra: Record<string, unknown> = {}) =>
        JSON.stringify({ cluster, namespace: NS, nodeName, uuid: 'u-1', providerID: '', k8sversion: 'v1.34.1', labels: { 'cluster.x-k8s.io/cluster-name': cluster, 'cluster.x-k8s.io/control-plane': '' }, ...extra });

    it('/register answers {ResourceName, Host, Port}, ports in order, the same listener for the same cluster', async () => {
        const a = await call(fkas.url, '/register', 'POST', JSON.stringify({ cluster: 'a', namespace: NS, extra: 1 }));
        assert.equal(a.status, 200);
        assert.equal(a.type, 'application/json');
        assert.deepEqual(JSON.parse(a.text), { ResourceName: `${NS}/a`, Host: '127.0.0.1', Port: minPort });
        const b = JSON.parse((await call(fkas.url, '/register', 'POST', JSON.stringify({ cluster: 'b', namespace: NS }))).text);
        assert.equal(b.Port, minPort + 1);
        const again = JSON.parse((await call(fkas.url, '/register', 'POST', JSON.stringify({ cluster: 'a', namespace: NS }))).text);
        assert.equal(again.Port, minPort);
        assert.deepEqual(fkas.registered(), [
            { cluster: 'a', namespace: NS, host: '127.0.0.1', port: minPort },
            { cluster: 'b', namespace: NS, host: '127.0.0.1', port: minPort + 1 },
        ]);
    });

    it('refuses wrong methods, bad JSON and unknown paths as Go net/http does', async () => {
        assert.deepEqual(await call(fkas.url, '/register', 'GET').then((r) => [r.status, r.text]), [405, 'Method not allowed\n']);
        assert.deepEqual(await call(fkas.url, '/updateNode', 'POST', '{}').then((r) => [r.status, r.text]), [405, 'Method not allowed\n']);
        assert.deepEqual(await call(fkas.url, '/register', 'POST', '{"cluster": 5}').then((r) => [r.status, r.text]), [400, 'Invalid JSON\n']);
        assert.deepEqual(await call(fkas.url, '/register', 'POST', '').then((r) => r.status), 400);
        assert.equal((await call(fkas.url, '/nope', 'GET')).status, 404);
    });

    it('/updateNode: unknown cluster, missing CA, worker before activation, missing labels', async () => {
        assert.deepEqual(await call(fkas.url, '/updateNode', 'PUT', cpNode('x', 'n')).then((r) => [r.status, r.text]), [500, 'Workload Cluster does not exist\n']);
        await call(fkas.url, '/register', 'POST', JSON.stringify({ cluster: 'c', namespace: NS }));
        assert.deepEqual(await call(fkas.url, '/updateNode', 'PUT', cpNode('c', 'c-cp')).then((r) => [r.status, r.text]), [500, 'Error adding node: c-cp\n']);
        const worker = JSON.stringify({ cluster: 'c', namespace: NS, nodeName: 'w', labels: { 'cluster.x-k8s.io/cluster-name': 'c' } });
        assert.deepEqual(await call(fkas.url, '/updateNode', 'PUT', worker).then((r) => [r.status, r.text]), [500, 'Workload Cluster has not been activated\n']);
        await assert.rejects(call(fkas.url, '/updateNode', 'PUT', JSON.stringify({ cluster: 'c', namespace: NS, nodeName: 'n' })), /socket hang up|ECONNRESET/);
        assert.deepEqual(fkas.nodes(NS, 'c'), []);
    });

    it('a control-plane node with RSA -ca/-etcd Secrets starts the workload API (TLS) and serves the Node; a non-RSA CA does nothing', async () => {
        await call(fkas.url, '/register', 'POST', JSON.stringify({ cluster: 'ec', namespace: NS }));
        const ec = makeSelfSignedCert();
        secret('ec-ca', ec);
        secret('ec-etcd', ec);
        assert.deepEqual(await call(fkas.url, '/updateNode', 'PUT', cpNode('ec', 'ec-cp')).then((r) => [r.status, r.text]), [200, '']);
        assert.deepEqual(fkas.nodes(NS, 'ec'), [], 'upstream logs "caKey is not *rsa.PrivateKey" and returns');

        const reg = JSON.parse((await call(fkas.url, '/register', 'POST', JSON.stringify({ cluster: 'c', namespace: NS }))).text);
        secret('c-ca', sharedRsaCa());
        secret('c-etcd', sharedRsaCa());
        assert.equal((await call(fkas.url, '/updateNode', 'PUT', cpNode('c', 'c-cp'))).status, 200);
        assert.equal((await call(fkas.url, '/updateNode', 'PUT', cpNode('c', 'c-cp', { providerID: 'changed' }))).status, 200, 'existing node: 200');
        const [node] = fkas.nodes(NS, 'c');
        assert.equal(node.spec.providerID, '', 'an existing node is not changed');
        assert.equal(node.metadata.labels['metal3.io/uuid'], 'u-1');
        assert.equal(node.metadata.labels['node-role.kubernetes.io/control-plane'], '');
        const worker = JSON.stringify({ cluster: 'c', namespace: NS, nodeName: 'w', providerID: 'metal3://x', labels: { 'cluster.x-k8s.io/cluster-name': 'c' } });
        assert.equal((await call(fkas.url, '/updateNode', 'PUT', worker)).status, 200, 'workers join once activated');
        const list = await new Promise<any>((resolve, reject) => {
            https.get({ host: reg.Host, port: reg.Port, path: '/api/v1/nodes', rejectUnauthorized: false }, (res) => {
                let t = '';
                res.on('data', (c) => (t += c));
                res.on('end', () => resolve(JSON.parse(t)));
            }).on('error', reject);
        });
        assert.deepEqual(list.items.map((n: any) => n.metadata.name).sort(), ['c-cp', 'w']);
        assert.equal(fkas.nodeByProviderID(NS, 'c', 'metal3://x')?.metadata.name, 'w');
    });

    it('faults: 503 N times, reset connections, down/up (refused), forget() as a restart', async () => {
        fkas.faults.fail(2, 503, '/register');
        const body = JSON.stringify({ cluster: 'a', namespace: NS });
        assert.equal((await call(fkas.url, '/register', 'POST', body)).status, 503);
        assert.equal((await call(fkas.url, '/register', 'POST', body)).status, 503);
        assert.equal((await call(fkas.url, '/register', 'POST', body)).status, 200);
        fkas.faults.resetConnections(1);
        await assert.rejects(call(fkas.url, '/register', 'POST', body), /ECONNRESET|socket hang up/);
        const url = fkas.url;
        await fkas.faults.down();
        await assert.rejects(call(url, '/register', 'POST', body), /ECONNREFUSED/);
        await fkas.faults.up();
        assert.equal(fkas.url, url, 'same port after up()');
        assert.equal(fkas.registered().length, 1, 'an outage keeps the state');
        await fkas.forget();
        assert.deepEqual(fkas.registered(), []);
        assert.equal(JSON.parse((await call(fkas.url, '/register', 'POST', JSON.stringify({ cluster: 'z', namespace: NS }))).text).Port, minPort);
    });
});
