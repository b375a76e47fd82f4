/**
 * The FKAS reconciler sidecar, after metal3-io/cluster-api-provider-metal3@ac63ce02c5ea5d70624cd664293eedf498032da9
 * hack/fake-apiserver/cmd/metal3-fkas-reconciler/main.go: on a BareMetalHost in state `provisioned`
 * with a consumerRef, it reads the Metal3Machine (consumerRef namespace/name), the Machine named by the
 * Metal3Machine's ownerReferences[0], the Machine's label cluster.x-k8s.io/cluster-name, and sends
 * PUT <fkas>/updateNode {cluster, nodeName: <machine>, namespace, providerID: m3m.spec.providerID,
 * uuid: <BMH uid>, labels: <machine labels>, k8sversion: machine.spec.version}; a non-200 answer or a
 * connection error is retried (controller-runtime requeue; here every retryMs).
 * SIMPLIFIED: upstream re-sends on every BMH event (idempotent: "Node already exists" is 200); this
 * role sends once per (host, Metal3Machine) after a 200, and also wakes on Metal3Machine changes.
 */
import * as http from 'node:http';
import { SimController, ControllerContext, R } from './controller';
import type { FkasDouble } from '../fkasDouble';

export class FkasReconciler extends SimController {
    private readonly sent = new Set<string>();
    private readonly inFlight = new Set<string>();
    requests = 0;

    constructor(ctx: ControllerContext, private readonly fkas: FkasDouble) {
        super(ctx, R.bmh, 'metal3-fkas-reconciler');
    }

    protected watches(): void {
        this.watch(R.metal3Machines, (ev) => {
            const h: string | undefined = ev.object.metadata.annotations?.['metal3.io/BareMetalHost'];
            return h ? [h] : [];
        });
    }

    protected reconcile(ns: string, name: string): void {
        const bmh = this.store.peek(R.bmh, ns, name);
        if (!bmh || bmh.status?.provisioning?.state !== 'provisioned') return;
        const uid = bmh.metadata.uid;
        const ref = bmh.spec?.consumerRef;
        if (!ref) return;
        const m3m = this.store.peek(R.metal3Machines, ref.namespace ?? '', ref.name ?? '');
        if (!m3m) return this.requeue(ns, name); // "Error fetching Metal3Machine"
        // one successful send per host and consumer (a host may serve another cluster later)
        const key = `${uid}/${m3m.metadata.uid}`;
        if (this.sent.has(key) || this.inFlight.has(key)) return;
        const owner = (m3m.metadata.ownerReferences ?? [])[0];
        if (!owner) return this.requeue(ns, name); // "no owner reference found"
        const machine = this.store.peek(R.machines, m3m.metadata.namespace, owner.name);
        if (!machine) return this.requeue(ns, name);
        const labels = machine.metadata.labels ?? {};
        const cluster = labels['cluster.x-k8s.io/cluster-name'];
        if (!cluster) return;
        const body = JSON.stringify({
            cluster,
            nodeName: owner.name,
            namespace: m3m.metadata.namespace,
            providerID: m3m.spec?.providerID ?? '',
            uuid: uid,
            labels,
            k8sversion: machine.spec?.version ?? '',
        });
        this.inFlight.add(key);
        this.requests++;
        const url = new URL('/updateNode', this.fkas.url);
        const req = http.request(url, { method: 'PUT', headers: { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) }, agent: false }, (res) => {
            res.resume();
            res.on('end', () => {
                this.inFlight.delete(key);
                if (res.statusCode === 200) this.sent.add(key);
                else this.requeue(ns, name);
            });
        });
        req.on('error', () => {
            this.inFlight.delete(key);
            this.requeue(ns, name);
        });
        req.end(body);
    }

    /** FKAS restarted: hosts must be sent again (upstream re-sends on the next BMH event). */
    forgetSent(): void {
        this.sent.clear();
        for (const h of this.store.peekList(R.bmh)) this.enqueue(h.metadata.namespace, h.metadata.name);
    }
}
