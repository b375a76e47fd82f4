/**
 * The simulated CAPI/CAPM3 + BMO provisioning + FKAS double, driven by the plain objects of CAPM3's
 * clusterctl template (metal3-io/cluster-api-provider-metal3@v1.13.2
 * examples/clusterctl-templates/clusterctl-cluster.yaml, v1beta2 shapes) applied in the test.
 */
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import * as tls from 'node:tls';
import { KubeApiTestServer, KObj } from './support/kubeApiServer';
import { SimulatedBmo } from './support/simulatedBmo';
import { SimulatedCapi } from './support/simulatedCapi';
import { FkasDouble } from './support/fkasDouble';
import { until } from './support/until';

const NS = 'metal3';
const HOST_LABEL = 'metal3-scale-lab/host';
const FM = { fieldManager: 'metal3-scale-lab', force: true };
const IMAGE = { url: 'http://192.168.111.1:6280/images/node.qcow2', checksum: 'http://192.168.111.1:6280/images/node.qcow2.sha256sum', checksumType: 'sha256', diskFormat: 'qcow2' };

function post(url: string, path: string, method: string, body: unknown): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
        const data = typeof body === 'string' ? body : JSON.stringify(body);
        const req = http.request(new URL(path, url), { method, headers: { 'Content-Type': 'application/json' }, agent: false }, (res) => {
            let text = '';
            res.on('data', (c) => (text += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        req.end(data);
    });
}

async function register(fkas: FkasDouble, cluster: string): Promise<{ Host: string; Port: number }> {
    const r = await post(fkas.url, '/register', 'POST', { cluster, namespace: NS });
    assert.equal(r.status, 200, r.text);
    return JSON.parse(r.text);
}

function clusterObjects(c: string, host: string, ep: { Host: string; Port: number }, image: Record<string, unknown> = IMAGE): KObj[] {
    return [
        {
            apiVersion: 'cluster.x-k8s.io/v1beta2',
            kind: 'Cluster',
            metadata: { name: c, namespace: NS },
            spec: {
                clusterNetwork: { pods: { cidrBlocks: ['192.168.0.0/18'] }, services: { cidrBlocks: ['10.96.0.0/12'] } },
                controlPlaneRef: { apiGroup: 'controlplane.cluster.x-k8s.io', kind: 'KubeadmControlPlane', name: c },
                infrastructureRef: { apiGroup: 'infrastructure.cluster.x-k8s.io', kind: 'Metal3Cluster', name: c },
            },
        },
        { apiVersion: 'infrastructure.cluster.x-k8s.io/v1beta2', kind: 'Metal3Cluster', metadata: { name: c, namespace: NS }, spec: { controlPlaneEndpoint: { host: ep.Host, port: ep.Port }, cloudProviderEnabled: false } },
        {
            apiVersion: 'controlplane.cluster.x-k8s.io/v1beta2',
            kind: 'KubeadmControlPlane',
            metadata: { name: c, namespace: NS },
            spec: { replicas: 1, version: 'v1.34.1', machineTemplate: { spec: { infrastructureRef: { apiGroup: 'infrastructure.cluster.x-k8s.io', kind: 'Metal3MachineTemplate', name: `${c}-controlplane` } } }, kubeadmConfigSpec: { initConfiguration: { nodeRegistration: { name: '{{ ds.meta_data.name }}' } } } },
        },
        {
            apiVersion: 'infrastructure.cluster.x-k8s.io/v1beta2',
            kind: 'Metal3MachineTemplate',
            metadata: { name: `${c}-controlplane`, namespace: NS },
            spec: { template: { spec: { image, hostSelector: { matchLabels: { [HOST_LABEL]: host } }, dataTemplate: { name: `${c}-controlplane-template` } } } },
        },
        { apiVersion: 'infrastructure.cluster.x-k8s.io/v1beta2', kind: 'Metal3DataTemplate', metadata: { name: `${c}-controlplane-template`, namespace: NS }, spec: { clusterName: c } },
    ];
}

describe('simulated CAPI/CAPM3, BMO provisioning and the FKAS double', function () {
    this.timeout(30_000);
    let server: KubeApiTestServer;
    let bmo: SimulatedBmo;
    let fkas: FkasDouble;
    let capi: SimulatedCapi;

    const hosts = ['node-0', 'node-1', 'node-2', 'node-3'];

    beforeEach(async () => {
        server = new KubeApiTestServer({ namespaces: [NS], autoRegisterResources: false });
        await server.start();
        bmo = new SimulatedBmo(server, { namespaces: [NS], delays: { registering: 5, inspecting: 5, preparing: 5, provisioning: 20, deprovisioning: 15, power: 5, poweringOffBeforeDelete: 5, deleting: 5 } });
        fkas = new FkasDouble(server, { minPort: 20000 + Math.floor(Math.random() * 9000) });
        await fkas.start();
        capi = new SimulatedCapi(server, { namespaces: [NS], fkas });
        for (const h of hosts) {
            server.store.create('secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${h}-bmc`, namespace: NS }, stringData: { username: 'admin', password: 'password' } });
            server.store.create('baremetalhosts', {
                apiVersion: 'metal3.io/v1alpha1',
                kind: 'BareMetalHost',
                metadata: { name: h, namespace: NS, labels: { [HOST_LABEL]: h } },
                spec: { online: false, bootMACAddress: '00:5c:52:31:3a:9c', bmc: { address: `redfish+http://192.168.111.1:8000/redfish/v1/Systems/${h}`, credentialsName: `${h}-bmc` } },
            });
        }
        await bmo.waitForState(NS, hosts, 'available');
    });

    afterEach(async () => {
        capi.stop();
        bmo.stop();
        await fkas.stop();
        await server.stop();
    });

    const apply = (objs: KObj[]) => {
        for (const o of objs) server.store.apply(o.kind!, o, FM);
    };
    const peek = (res: string, name: string) => server.store.peek(res, NS, name);
    const machinesOf = (c: string) => server.store.peekList('machines', { namespace: NS, labelSelector: `cluster.x-k8s.io/cluster-name=${c}` });

    const up = (c: string) => {
        const m = machinesOf(c);
        const kcp = peek('kubeadmcontrolplanes', c);
        return peek('clusters', c)?.status?.initialization?.controlPlaneInitialized === true && m.length === 1 && m[0].status?.phase === 'Running' && !!m[0].status?.nodeRef?.name && kcp?.status?.readyReplicas === 1 && kcp?.status?.initialization?.controlPlaneInitialized === true && kcp.status.conditions?.some((x: any) => x.type === 'Available' && x.status === 'True');
    };

    it('brings three clusters up end to end, each on the host its hostSelector names', async () => {
        const clusters = ['c-0', 'c-1', 'c-2'];
        const eps: { Host: string; Port: number }[] = [];
        for (const c of clusters) eps.push(await register(fkas, c));
        assert.deepEqual(eps.map((e) => e.Port - eps[0].Port), [0, 1, 2], 'FKAS hands out ports in order');
        clusters.forEach((c, i) => apply(clusterObjects(c, hosts[i], eps[i])));
        await until('3 clusters up', () => clusters.every(up));
        clusters.forEach((c, i) => {
            const bmh = peek('baremetalhosts', hosts[i])!;
            const m = machinesOf(c)[0];
            const m3m = peek('metal3machines', m.metadata.name)!;
            assert.equal(bmh.status.provisioning.state, 'provisioned');
            assert.deepEqual(bmh.status.provisioning.image, { url: IMAGE.url, checksum: IMAGE.checksum, checksumType: IMAGE.checksumType, format: IMAGE.diskFormat });
            assert.equal(bmh.status.poweredOn, true);
            assert.deepEqual(bmh.spec.consumerRef, { apiVersion: 'infrastructure.cluster.x-k8s.io/v1beta2', kind: 'Metal3Machine', name: m3m.metadata.name, namespace: NS });
            assert.equal(bmh.metadata.labels['cluster.x-k8s.io/cluster-name'], c);
            assert.equal(m3m.spec.providerID, `metal3://${NS}/${hosts[i]}/${m3m.metadata.name}`);
            assert.equal(m.spec.providerID, m3m.spec.providerID);
            assert.equal(m3m.status.initialization.provisioned, true);
            assert.equal(m3m.metadata.ownerReferences[0].kind, 'Machine');
            assert.match(m.metadata.name, new RegExp(`^${c}-[a-z0-9]{5}$`));
            const nodes = fkas.nodes(NS, c);
            assert.equal(nodes.length, 1);
            assert.equal(nodes[0].metadata.name, m.metadata.name);
            assert.equal(nodes[0].metadata.labels['metal3.io/uuid'], bmh.metadata.uid);
            assert.equal(nodes[0].spec.providerID, m3m.spec.providerID);
            const cl = peek('clusters', c)!;
            assert.equal(cl.status.phase, 'Provisioned');
            assert.equal(cl.status.initialization.controlPlaneInitialized, true);
            assert.deepEqual(cl.spec.controlPlaneEndpoint, { host: eps[i].Host, port: eps[i].Port });
            for (const s of ['ca', 'etcd', 'sa', 'proxy', 'kubeconfig']) assert.ok(peek('secrets', `${c}-${s}`), `${c}-${s} made by KCP`);
        });
        assert.equal(peek('baremetalhosts', 'node-3')!.status.provisioning.state, 'available', 'the unselected host stays free');
        // the workload API server now listens (TLS) on Host:Port
        await new Promise<void>((resolve, reject) => {
            const s = tls.connect({ host: eps[0].Host, port: eps[0].Port, rejectUnauthorized: false }, () => {
                s.end();
                resolve();
            });
            s.on('error', reject);
        });
    });

    it('leaves a Metal3Machine waiting when its hostSelector matches no host, and a host unprovisioned with an empty image checksum', async () => {
        const ep = await register(fkas, 'c-x');
        apply(clusterObjects('c-x', 'no-such-host', ep));
        const ep2 = await register(fkas, 'c-y');
        apply(clusterObjects('c-y', 'node-1', ep2, { url: IMAGE.url, checksum: '', checksumType: 'sha256', diskFormat: 'qcow2' }));
        await until('c-x waits for a host', () => {
            const m = machinesOf('c-x')[0];
            const m3m = m && peek('metal3machines', m.metadata.name);
            return !!m3m?.status?.conditions?.some((x: any) => x.type === 'AssociateBareMetalHost' && x.reason === 'AssociateBareMetalHostFailed');
        });
        await until('c-y host fails provisioning', () => !!peek('baremetalhosts', 'node-1')!.status.operationHistory?.deprovision?.end || peek('baremetalhosts', 'node-1')!.status.errorType === 'provisioning error');
        await new Promise((r) => setTimeout(r, 300));
        assert.ok(hosts.every((h) => peek('baremetalhosts', h)!.status.provisioning.state !== 'provisioned'));
        assert.ok(!up('c-x') && !up('c-y'));
        assert.equal(machinesOf('c-x')[0].status?.phase, 'Provisioning');
    });

    it('deleting a Cluster cascades and its host returns to available', async () => {
        const ep = await register(fkas, 'c-d');
        apply(clusterObjects('c-d', 'node-2', ep));
        await until('c-d up', () => up('c-d'));
        server.store.delete('clusters', NS, 'c-d');
        await until('everything of c-d gone', () => !peek('clusters', 'c-d') && machinesOf('c-d').length === 0 && server.store.count('metal3machines', NS) === 0 && !peek('kubeadmcontrolplanes', 'c-d') && !peek('metal3clusters', 'c-d'));
        const bmh = peek('baremetalhosts', 'node-2')!;
        assert.equal(bmh.status.provisioning.state, 'available');
        assert.equal(bmh.status.provisioning.image.url, '');
        assert.equal(bmh.spec.consumerRef, undefined);
        assert.equal(bmh.spec.image, undefined);
        assert.equal(bmh.spec.online, false);
        assert.equal(bmh.metadata.labels['cluster.x-k8s.io/cluster-name'], undefined);
        assert.equal(bmh.status.operationHistory.deprovision.end !== null, true);
        await until('certificates gone with the KCP (the garbage collector lags behind it)', () => peek('secrets', 'c-d-ca') === undefined);
        // the same host can be consumed again
        apply(clusterObjects('c-e', 'node-2', await register(fkas, 'c-e')));
        await until('c-e up on the returned host', () => up('c-e'));
    });

    it('retries /updateNode through FKAS 503s and an outage, then a restart (forget) drops the workload clusters', async () => {
        const ep = await register(fkas, 'c-f');
        fkas.faults.fail(3, 503, '/updateNode');
        await fkas.faults.down();
        apply(clusterObjects('c-f', 'node-0', ep));
        await until('host provisioned', () => peek('baremetalhosts', 'node-0')!.status?.provisioning?.state === 'provisioned');
        await new Promise((r) => setTimeout(r, 100));
        assert.ok(!up('c-f'), 'no Node while FKAS is down');
        await fkas.faults.up();
        await until('c-f up', () => up('c-f'));
        const updates = fkas.requests.filter((r) => r.path === '/updateNode');
        assert.deepEqual(updates.slice(0, 3).map((r) => r.status), [503, 503, 503]);
        assert.equal(updates[updates.length - 1].status, 200);
        assert.equal(fkas.registered().length, 1);
        await fkas.forget();
        assert.deepEqual(fkas.registered(), []);
        assert.deepEqual(fkas.nodes(NS, 'c-f'), []);
        await assert.rejects(
            new Promise<void>((resolve, reject) => {
                const s = tls.connect({ host: ep.Host, port: ep.Port, rejectUnauthorized: false }, () => resolve());
                s.on('error', reject);
            }),
            /ECONNREFUSED/,
        );
        const again = await register(fkas, 'c-f');
        assert.equal(again.Port, ep.Port, 'a restarted FKAS hands out the same first port');
    });
});
