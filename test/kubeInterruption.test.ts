// Interrupted Kubernetes batches and what a destroy leaves: a create stopped
// halfway by its deadline and re-run (as the next `pulumi up` calls update()
// with the failed outs) finishes without duplicates; a delete after a partial
// create removes everything that exists; an interrupted delete re-run
// finishes; and deleting every batch after a full run leaves nothing of the
// stack in the namespace, checked by listing the server's store.
import { strict as assert } from "assert";
import { randomBytes } from "crypto";
import { WorkloadClusterBatch } from "../components/clusters/workloadClusterBatch";
import { BareMetalHostBatch, BmhSpec } from "../components/enroll/bareMetalHostBatch";
import { BatchFailure, bmhSpecs, clusterSpecs, failureOf, NODE_IMAGE_SPEC } from "./support/bmhSpecs";
import { captureDynamicResources, CapturedResource } from "./support/capturedProvider";
import { FkasDouble } from "./support/fkasDouble";
import { KubeApiTestServer } from "./support/kubeApiServer";
import { SimulatedBmo } from "./support/simulatedBmo";
import { SimulatedCapi } from "./support/simulatedCapi";
import { until } from "./support/until";

const TOKEN = `tok-${randomBytes(12).toString("hex")}`;
const BMH = { group: "metal3.io", plural: "baremetalhosts" };
const CLUSTERS = { group: "cluster.x-k8s.io", plural: "clusters" };
/** Quick BMO: hosts and clusters come and go in tens of milliseconds. */
const QUICK = ["halfway", "partial", "whalf", "destroy"];
/** BMO slow to delete (deleting, deprovisioning): a delete with a short deadline is cut off. */
const SLOW_DELETE = ["middel", "wdel"];
const NAMESPACES = [...QUICK, ...SLOW_DELETE];
const QUICK_DELAYS = { registering: 10, inspecting: 20, preparing: 10, power: 5, provisioning: 30, deprovisioning: 30, poweringOffBeforeDelete: 5, deleting: 10 };


const hostsOf = (ns: string, count: number): BmhSpec[] => bmhSpecs(ns, count, NAMESPACES.indexOf(ns) + 0x60);

describe("Kubernetes batches interrupted, and what a destroy leaves (providers rebuilt from __provider, Kubernetes API test server)", function () {
    this.timeout(120_000);
    let server: KubeApiTestServer;
    let fkas: FkasDouble;
    const bmos: SimulatedBmo[] = [];
    let capi: SimulatedCapi;
    const batches: Record<string, CapturedResource> = {};
    const realLog = console.log;

    const bmhsIn = (ns: string) => server.store.list(BMH, { namespace: ns });
    const secretsIn = (ns: string) => server.store.list("secrets", { namespace: ns });
    /** Every object of every namespaced kind the server knows, in `ns`: what a destroy must leave empty. */
    const everythingIn = (ns: string) =>
        server.store.registry
            .all()
            .filter((r) => r.namespaced)
            .flatMap((r) => server.store.list(r, { namespace: ns }).map((o) => `${r.kind}/${o.metadata.name}`));
    const create = (key: string) => batches[key].provider.create(batches[key].inputs);

    before(async function () {
        server = new KubeApiTestServer({ namespaces: NAMESPACES, token: TOKEN, bookmarkIntervalMs: 250, autoRegisterResources: false });
        await server.start();
        fkas = new FkasDouble(server);
        await fkas.start();
        bmos.push(
            new SimulatedBmo(server, { namespaces: QUICK, delays: QUICK_DELAYS }),
            new SimulatedBmo(server, { namespaces: SLOW_DELETE, delays: { ...QUICK_DELAYS, deprovisioning: 2500, deleting: 2500 } }),
        );
        capi = new SimulatedCapi(server, { namespaces: ["whalf", "wdel", "destroy"], fkas });
        const kubeconfig = server.kubeconfigYaml();
        const host = { kubeconfig, bmcUsername: "admin", bmcPassword: `pw-${randomBytes(6).toString("hex")}`, timeoutSeconds: 60, watchTimeoutSeconds: 30 };
        const cluster = { kubeconfig, fkasUrl: fkas.url, kubernetesVersion: "v1.34.1", image: NODE_IMAGE_SPEC, timeoutSeconds: 60, watchTimeoutSeconds: 30 };
        const declared = await captureDynamicResources(() => {
            // Two requests in flight, a deadline of 1 s: the applies are cut off part way (see the delay faults below).
            new BareMetalHostBatch("halfway", { ...host, label: "test/halfway", namespace: "halfway", batch: 0, concurrency: 2, timeoutSeconds: 1, hosts: hostsOf("halfway", 40) });
            new BareMetalHostBatch("partial", { ...host, label: "test/partial", namespace: "partial", batch: 0, concurrency: 2, timeoutSeconds: 1, hosts: hostsOf("partial", 30) });
            new BareMetalHostBatch("middel", { ...host, label: "test/middel", namespace: "middel", batch: 0, timeoutSeconds: 1, hosts: hostsOf("middel", 10) });
            for (const [ns, n] of [["whalf", 6], ["wdel", 3], ["destroy", 5]] as const) {
                new BareMetalHostBatch(`hosts-${ns}`, { ...host, label: `test/hosts-${ns}`, namespace: ns, batch: 0, hosts: hostsOf(ns, n) });
                new WorkloadClusterBatch(ns, { ...cluster, label: `test/${ns}`, namespace: ns, batch: 0, clusters: clusterSpecs(ns, n), ...(ns === "destroy" ? {} : { timeoutSeconds: 1 }) });
            }
        });
        for (const d of declared) batches[d.name] = d;
        console.log = (...args: unknown[]) => (typeof args[0] === "string" && args[0].startsWith("[") ? undefined : realLog(...args));
        await Promise.all(["hosts-whalf", "hosts-wdel"].map(create));
    });

    after(async () => {
        console.log = realLog;
        capi?.stop();
        for (const b of bmos) b.stop();
        await fkas?.stop();
        await server?.stop();
    });

    describe("BareMetalHostBatch", () => {
        it("a create stopped halfway by its deadline, re-run, finishes without duplicates", async () => {
            const b = batches.halfway;
            server.faults.delay(60, { namespace: "halfway", verb: "apply" });
            const err = await failureOf(() => b.provider.create(b.inputs));
            server.faults.clear();
            assert.match(err.message, /deadline of 1s passed/);
            const before = bmhsIn("halfway");
            assert.ok(before.length > 0 && before.length < 40, `${before.length} of 40 hosts applied before the deadline: not halfway`);
            const uids = Object.fromEntries(before.map((h) => [h.metadata.name, h.metadata.uid]));
            // The next up, with more time.
            const res = await b.provider.update(err.id, err.properties, { ...b.inputs, timeoutSeconds: 60 });
            assert.equal(res.outs!.status.ready, true, JSON.stringify(res.outs!.status));
            assert.deepEqual(res.outs!.status.counts, { available: 40 });
            const after = bmhsIn("halfway");
            assert.deepEqual(after.map((h) => h.metadata.name).sort(), hostsOf("halfway", 40).map((h) => h.name).sort(), "every host exactly once");
            assert.equal(secretsIn("halfway").length, 40);
            for (const h of after) if (uids[h.metadata.name]) assert.equal(h.metadata.uid, uids[h.metadata.name], `${h.metadata.name} recreated`);
        });

        it("a delete after a partial create removes everything that exists", async () => {
            const b = batches.partial;
            server.faults.delay(60, { namespace: "partial", verb: "apply" });
            const err = await failureOf(() => b.provider.create(b.inputs));
            server.faults.clear();
            const applied = bmhsIn("partial").length;
            assert.ok(applied > 0 && applied < 30, `${applied} of 30 hosts applied: not partial`);
            assert.ok(secretsIn("partial").length >= applied, "each applied host has its Secret");
            // The delete gets the failed create's outs; its 1 s deadline was only there to cut the create short.
            await b.provider.delete(err.id, { ...err.properties, timeoutSeconds: 30 });
            assert.deepEqual(everythingIn("partial"), []);
        });

        it("a delete interrupted by its deadline (BMO still deleting), re-run, finishes", async () => {
            const b = batches.middel;
            const created = await b.provider.create({ ...b.inputs, timeoutSeconds: 60 });
            assert.equal(created.outs.status.ready, true);
            const err = await failureOf(() => b.provider.delete(created.id, { ...created.outs, timeoutSeconds: 1 }));
            assert.match(err.message, /delete did not finish/);
            assert.equal(bmhsIn("middel").length, 10, "hosts still held by BMO's finalizer");
            assert.ok(bmhsIn("middel").every((h) => h.metadata.deletionTimestamp), "every host is being deleted");
            assert.equal(secretsIn("middel").length, 10, "Secrets kept while BMO may need them");
            await b.provider.delete(created.id, { ...created.outs, timeoutSeconds: 60 });
            assert.deepEqual(everythingIn("middel"), []);
        });
    });

    describe("WorkloadClusterBatch", () => {
        it("a create stopped by its deadline, re-run, finishes without duplicate clusters or registrations", async () => {
            const b = batches.whalf;
            server.faults.delay(100, { namespace: "whalf", verb: "apply" });
            const err = await failureOf(() => b.provider.create(b.inputs));
            server.faults.clear();
            assert.match(err.message, /deadline of 1s passed/);
            const before = server.store.list(CLUSTERS, { namespace: "whalf" });
            assert.ok(before.length < 6 || err.properties.status.counts.Running === undefined, "stopped before the clusters were up");
            const uids = Object.fromEntries(before.map((c) => [c.metadata.name, c.metadata.uid]));
            const res = await b.provider.update(err.id, err.properties, { ...b.inputs, timeoutSeconds: 60 });
            assert.equal(res.outs!.status.ready, true, JSON.stringify(res.outs!.status));
            const after = server.store.list(CLUSTERS, { namespace: "whalf" });
            assert.deepEqual(after.map((c) => c.metadata.name).sort(), clusterSpecs("whalf", 6).map((c) => c.name));
            for (const c of after) if (uids[c.metadata.name]) assert.equal(c.metadata.uid, uids[c.metadata.name], `${c.metadata.name} recreated`);
            const registered = fkas.registered().filter((r) => r.namespace === "whalf");
            assert.equal(registered.length, 6);
            assert.equal(new Set(registered.map((r) => r.port)).size, 6, "one port per cluster");
        });

        it("a delete interrupted by its deadline (hosts still deprovisioning), re-run, finishes", async () => {
            const b = batches.wdel;
            const created = await b.provider.create({ ...b.inputs, timeoutSeconds: 60 });
            assert.equal(created.outs.status.ready, true, JSON.stringify(created.outs.status));
            const err = await failureOf(() => b.provider.delete(created.id, { ...created.outs, timeoutSeconds: 1 }));
            assert.match(err.message, /delete did not finish/);
            await b.provider.delete(created.id, { ...created.outs, timeoutSeconds: 60 });
            assert.deepEqual(server.store.list(CLUSTERS, { namespace: "wdel" }), []);
            assert.deepEqual([...new Set(bmhsIn("wdel").map((h) => h.status?.provisioning?.state))], ["available"], "hosts released");
        });
    });

    it("destroy after a full run of hosts and clusters leaves nothing in the namespace (listed, not trusted)", async () => {
        const hosts = await create("hosts-destroy");
        const clusters = await create("destroy");
        assert.equal(clusters.outs.status.ready, true, JSON.stringify(clusters.outs.status));
        const kinds = new Set(everythingIn("destroy").map((o) => o.split("/")[0]));
        for (const k of ["BareMetalHost", "Secret", "Cluster", "Machine", "KubeadmControlPlane", "Metal3Cluster", "Metal3Machine", "Metal3MachineTemplate"]) assert.ok(kinds.has(k), `no ${k} after the run`);
        // Pulumi deletes dependents first: the clusters, then their hosts.
        await batches.destroy.provider.delete(clusters.id, clusters.outs);
        await batches["hosts-destroy"].provider.delete(hosts.id, hosts.outs);
        // The garbage collector lags its informers, as kube-controller-manager's does: the Secrets the
        // KubeadmControlPlanes owned go shortly after them, possibly after the hosts' delete returned.
        await until("the namespace to empty", () => everythingIn("destroy").length === 0, 5_000).catch(() => undefined);
        assert.deepEqual(everythingIn("destroy"), []);
    });
});
