// The Kubernetes API test server holds custom resources to their CRD's
// structural schema as a real apiserver does (BareMetalHost: BMO v0.13.2),
// serves only installed resources, and our providers apply with
// fieldValidation=Strict so a field the cluster's CRD does not know fails the
// host with the field's name instead of being pruned silently.
import { strict as assert } from "assert";
import { randomBytes } from "crypto";
import { applyObject, BareMetalHostBatch, bmhManifest, BmhSpec, secretManifest, BareMetalHostBatchInputs } from "../components/enroll/bareMetalHostBatch";
import { isKubeApiError, KubeClient, parseWarnings } from "../components/enroll/kubeClient";
import { clusterManifests, ClusterSettings } from "../components/clusters/render";
import { rebuildProvider } from "./support/capturedProvider";
import { runProgram } from "./support/mockProgram";
import { KubeApiTestServer } from "./support/kubeApiServer";
import { conform, obj, Schema } from "./support/kube/schema";
import { BARE_METAL_HOST_SCHEMA } from "./support/kube/schemaBmh";
import { ResourceRegistry } from "./support/kube/registry";

const NS = "schema";
const TOKEN = `tok-${randomBytes(8).toString("hex")}`;
const BMHS = `/apis/metal3.io/v1alpha1/namespaces/${NS}/baremetalhosts`;

function host(name: string, spec: Record<string, unknown> = {}) {
    return {
        apiVersion: "metal3.io/v1alpha1",
        kind: "BareMetalHost",
        metadata: { name, namespace: NS },
        spec: { online: true, bmc: { address: "redfish+http://192.168.111.1:8000/redfish/v1/Systems/x", credentialsName: `${name}-bmc-secret` }, bootMode: "UEFI", ...spec },
    };
}

describe("Kubernetes API test server: CRD schemas, field validation, served resources", function () {
    this.timeout(60_000);
    let server: KubeApiTestServer;

    /** One raw request: status, Status/object body and the Warning headers' texts. */
    async function call(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<{ status: number; body: any; warnings: string[] }> {
        const res = await fetch(server.url + path, {
            method,
            headers: { Authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { "Content-Type": contentType } : {}) },
            body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: await res.json(), warnings: parseWarnings(res.headers.get("warning") ?? undefined) };
    }
    const apply = (name: string, body: unknown, query = "") => call("PATCH", `${BMHS}/${name}?fieldManager=test${query}`, body, "application/apply-patch+yaml");

    before(async () => {
        server = new KubeApiTestServer({ namespaces: [NS], token: TOKEN, crdGroups: ["metal3.io"] });
        await server.start();
    });
    after(async () => server?.stop());

    it("answers a wrong type, enum or missing required field with 422 Invalid naming each field", async () => {
        const bad = host("bad-1", { online: "yes", bootMode: "bios", bmc: { address: "redfish://x" }, automatedCleaningMode: "never", bootMACAddress: "00:11" });
        const r = await call("POST", BMHS, bad);
        assert.equal(r.status, 422);
        assert.equal(r.body.reason, "Invalid");
        assert.deepEqual(
            r.body.details.causes.map((c: any) => [c.field, c.reason]).sort(),
            [
                ["spec.automatedCleaningMode", "FieldValueNotSupported"],
                ["spec.bmc.credentialsName", "FieldValueRequired"],
                ["spec.bootMACAddress", "FieldValueInvalid"],
                ["spec.bootMode", "FieldValueNotSupported"],
                ["spec.online", "FieldValueTypeInvalid"],
            ],
        );
        assert.match(r.body.message, /^BareMetalHost\.metal3\.io "bad-1" is invalid: \[/);
        assert.match(r.body.message, /spec\.bootMode: Unsupported value: "bios": supported values: "UEFI", "UEFISecureBoot", "legacy"/);
        // the same through apply and merge patch: judged on the merged object
        assert.equal((await apply("bad-1", host("bad-1", { bootMode: "bios" }))).status, 422);
        assert.equal((await apply("ok-1", host("ok-1"))).status, 201);
        const patched = await call("PATCH", `${BMHS}/ok-1`, { spec: { online: null, inspectionMode: "sometimes" } }, "application/merge-patch+json");
        assert.equal(patched.status, 422);
        assert.deepEqual(patched.body.details.causes.map((c: any) => c.field).sort(), ["spec.inspectionMode", "spec.online"]);
        assert.equal(server.store.get("baremetalhosts", NS, "bad-1"), undefined);
    });

    it("prunes unknown fields with a Warning (the default, Warn), refuses them with Strict (400) and drops them silently with Ignore", async () => {
        const warned = await apply("prune-1", host("prune-1", { bootMacAddress: "00:11:22:33:44:55", foo: { bar: 1 } }));
        assert.equal(warned.status, 201);
        assert.deepEqual(warned.warnings.sort(), ['unknown field "spec.bootMacAddress"', 'unknown field "spec.foo"']);
        const stored = server.store.get("baremetalhosts", NS, "prune-1")!;
        assert.equal("foo" in stored.spec, false);
        assert.equal("bootMacAddress" in stored.spec, false);
        assert.equal(stored.spec.automatedCleaningMode, "metadata", "defaulted as the CRD says");
        const owned = JSON.stringify(stored.metadata.managedFields);
        assert.ok(owned.includes("f:bootMode") && !owned.includes("f:foo"), "nobody owns a pruned field");

        const strict = await apply("prune-2", host("prune-2", { foo: 1 }), "&fieldValidation=Strict");
        assert.equal(strict.status, 400);
        assert.equal(strict.body.reason, "BadRequest");
        assert.equal(strict.body.message, 'BareMetalHost in version "v1alpha1" cannot be handled as a BareMetalHost: strict decoding error: unknown field "spec.foo"');
        assert.equal(server.store.get("baremetalhosts", NS, "prune-2"), undefined);

        const ignored = await call("POST", `${BMHS}?fieldValidation=Ignore`, { ...host("prune-3"), extra: true });
        assert.equal(ignored.status, 201);
        assert.deepEqual(ignored.warnings, []);
        assert.equal("extra" in ignored.body, false);
        assert.equal((await call("POST", `${BMHS}?fieldValidation=Loose`, host("prune-4"))).status, 400);

        // merge patch and PUT are held to the same schema
        const merge = await call("PATCH", `${BMHS}/prune-1`, { spec: { colour: "red" } }, "application/merge-patch+json");
        assert.deepEqual([merge.status, merge.warnings], [200, ['unknown field "spec.colour"']]);
        const put = await call("PUT", `${BMHS}/prune-1?fieldValidation=Strict`, { ...merge.body, spec: { ...merge.body.spec, colour: "red" } });
        assert.equal(put.status, 400);
        assert.match(put.body.message, /unknown field "spec\.colour"/);
    });

    it("validates status writes too: the /status subresource over HTTP and a simulator's in-process writes", async () => {
        await apply("st-1", host("st-1"));
        const good = { provisioning: { ID: "", state: "registering" }, operationalStatus: "OK", errorMessage: "", poweredOn: false };
        const ok = await call("PATCH", `${BMHS}/st-1/status`, { status: good }, "application/merge-patch+json");
        assert.equal(ok.status, 200);
        assert.equal(ok.body.status.errorCount, 0, "status.errorCount defaults to 0");
        const bad = await call("PATCH", `${BMHS}/st-1/status`, { status: { operationalStatus: "broken", errorType: "bmc error" } }, "application/merge-patch+json");
        assert.equal(bad.status, 422);
        assert.deepEqual(bad.body.details.causes.map((c: any) => c.field).sort(), ["status.errorType", "status.operationalStatus"]);
        // In-process writes (the simulated controllers) are Strict: a misspelled status field throws.
        assert.throws(
            () => server.store.mutate("baremetalhosts", NS, "st-1", (o) => void (o.status.operationalStatu = "OK"), { subresource: "status" }),
            (e: any) => e.status?.code === 400 && /unknown field "status\.operationalStatu"/.test(e.status.message),
        );
        assert.throws(
            () => server.store.mutate("baremetalhosts", NS, "st-1", (o) => void delete o.status.provisioning.ID, { subresource: "status" }),
            (e: any) => e.status?.code === 422 && /status\.provisioning\.ID: Required value/.test(e.status.message),
        );
    });

    it("serves only registered resources: a misspelled plural or a CRD that is not installed is 404", async () => {
        assert.equal((await call("GET", `/apis/metal3.io/v1alpha1/namespaces/${NS}/baremetalhost`)).status, 404);
        assert.equal((await call("POST", `/apis/metal3.io/v1alpha1/namespaces/${NS}/baremetalhost`, host("x"))).status, 404);
        assert.equal((await call("GET", `/apis/metal3.io/v1beta1/namespaces/${NS}/baremetalhosts`)).status, 404);
        // only BMO's CRDs are installed here
        assert.equal((await call("GET", `/apis/cluster.x-k8s.io/v1beta2/namespaces/${NS}/clusters`)).status, 404);
        const groups = (await call("GET", "/apis")).body.groups.map((g: any) => g.name);
        assert.ok(groups.includes("metal3.io") && !groups.includes("cluster.x-k8s.io"));
        assert.ok(new ResourceRegistry().has("cluster.x-k8s.io", "clusters"), "all CRDs by default");
    });

    it("prunes null in non-nullable fields, keeps it in nullable ones, and checks nested lists", () => {
        const o: any = {
            spec: { online: true, bmc: { address: "a", credentialsName: "c" }, description: null, raid: { hardwareRAIDVolumes: null, softwareRAIDVolumes: [{ level: "5" }] } },
            status: undefined,
        };
        delete o.status;
        const out = conform(BARE_METAL_HOST_SCHEMA, o);
        assert.equal("description" in o.spec, false);
        assert.equal(o.spec.raid.hardwareRAIDVolumes, null);
        assert.deepEqual(
            out.causes.map((c) => [c.field, c.reason]),
            [["spec.raid.softwareRAIDVolumes[0].level", "FieldValueNotSupported"]],
        );
    });

    it("everything the providers render passes the pinned schemas, unpruned", () => {
        const inputs = { stack: "s", label: "l", batch: 0, namespace: NS, bmcUsername: "admin", bmcPassword: "pw" } as unknown as BareMetalHostBatchInputs;
        const base: BmhSpec = { name: "h", bootMac: "00:11:22:33:44:55", bmcAddress: "redfish+http://x/redfish/v1/Systems/1", bootMode: "UEFI", online: true };
        const variants: BmhSpec[] = [base, { ...base, bootMode: "legacy", online: false, disableCertificateVerification: true }, { ...base, bootMode: "UEFISecureBoot", inspectionMode: "disabled" }, { ...base, inspectionMode: "agent" }];
        for (const v of variants) {
            const m = JSON.parse(JSON.stringify(bmhManifest(inputs, v)));
            const out = conform(BARE_METAL_HOST_SCHEMA, m);
            assert.deepEqual([out.unknown, out.causes], [[], []], JSON.stringify(v));
        }
        assert.equal(secretManifest(inputs, base).kind, "Secret");
        const registry = new ResourceRegistry();
        const s: ClusterSettings = {
            namespace: NS,
            kubernetesVersion: "v1.34.1",
            image: { url: "http://172.22.0.1/node.qcow2", checksum: "http://172.22.0.1/node.qcow2.sha256sum", checksumType: "sha256", format: "qcow2" },
            labels: { "app.kubernetes.io/managed-by": "metal3-scale-lab" },
            hostLabel: "metal3-scale-lab/host",
            clusterLabel: "metal3-scale-lab/cluster",
        };
        let checked = 0;
        const clusters = [
            { name: "c0", controlPlaneHost: "h0", workerHosts: [] },
            { name: "c1", controlPlaneHost: "h1", workerHosts: ["h2", "h3"] },
        ];
        for (const [i, c] of clusters.entries()) {
            for (const m of clusterManifests(s, c, { host: "172.22.0.2", port: 20000 + i })) {
                const schema = registry.resolve(m.kind.plural).schema;
                if (!schema) continue;
                const out = conform(schema, JSON.parse(JSON.stringify(m.body)));
                assert.deepEqual([out.unknown, out.causes], [[], []], `${m.kind.kind} ${m.name}`);
                checked++;
            }
        }
        assert.ok(checked >= 6, `${checked} cluster objects checked`);
    });
});

describe("providers apply with fieldValidation=Strict (provider rebuilt from __provider)", function () {
    this.timeout(60_000);
    // BMO v0.9.0's CRD has no spec.inspectionMode (absent from config/base/crds/bases/metal3.io_baremetalhosts.yaml
    // at that tag): a cluster running it prunes the field, and hosts would be inspected although we asked not to.
    const withoutInspectionMode: Schema = (() => {
        const root = BARE_METAL_HOST_SCHEMA.properties!;
        const { inspectionMode: _gone, ...specProps } = root.spec.properties!;
        return { ...BARE_METAL_HOST_SCHEMA, properties: { ...root, spec: obj(specProps, root.spec.required) } };
    })();
    let server: KubeApiTestServer;

    before(async () => {
        server = new KubeApiTestServer({
            namespaces: ["old"],
            token: TOKEN,
            crdGroups: ["metal3.io"],
            resources: [{ group: "metal3.io", version: "v1alpha1", plural: "baremetalhosts", kind: "BareMetalHost", schema: withoutInspectionMode }],
        });
        await server.start();
    });
    after(async () => server?.stop());

    it("applyObject: a field the CRD does not know is a 400 naming it, and nothing is written", async () => {
        const client = await KubeClient.connect({ kubeconfig: server.kubeconfigYaml(), maxAttempts: 1 });
        try {
            const err = await applyObject(client, "/apis/metal3.io/v1alpha1/namespaces/old/baremetalhosts", "h1", { ...host("h1"), metadata: { name: "h1" }, spec: { ...host("h1").spec, onlien: true } }, "lab").then(
                () => undefined,
                (e: unknown) => e,
            );
            assert.ok(isKubeApiError(err) && err.status === 400, String(err));
            assert.match(err.message, /answered 400 BadRequest: .*unknown field "spec\.onlien"/);
            assert.equal(server.store.count("baremetalhosts", "old"), 0);
        } finally {
            client.close();
        }
    });

    it("KubeClient hands each Warning header of an answer to onWarning", async () => {
        const seen: string[] = [];
        const client = await KubeClient.connect({ kubeconfig: server.kubeconfigYaml(), onWarning: (w, method, path) => void seen.push(`${method} ${path}: ${w}`) });
        try {
            const path = "/apis/metal3.io/v1alpha1/namespaces/old/baremetalhosts";
            await client.request("POST", path, { body: { ...host("w1"), metadata: { name: "w1" }, spec: { ...host("w1").spec, colour: "red", size: 2 } } });
            assert.deepEqual(seen, [`POST ${path}: unknown field "spec.colour"`, `POST ${path}: unknown field "spec.size"`]);
        } finally {
            client.close();
        }
        assert.deepEqual(parseWarnings(['299 - "a \\"quoted\\" text"', '299 - "b", 299 - "c"']), ['a "quoted" text', "b", "c"]);
    });

    it("a batch rendering a field the cluster's CRD lacks fails each host with the field's name", async () => {
        const hosts: BmhSpec[] = [0, 1, 2].map((i) => ({ name: `old-${i}`, bootMac: `00:00:00:00:00:0${i}`, bmcAddress: `redfish+http://192.168.111.1:800${i}/redfish/v1/Systems/${i}`, bootMode: "UEFI", online: true, inspectionMode: "disabled" }));
        const run = await runProgram(
            () => new BareMetalHostBatch("old", { kubeconfig: server.kubeconfigYaml(), namespace: "old", batch: 0, hosts, bmcUsername: "admin", bmcPassword: "pw-old-cluster", timeoutSeconds: 20, watchTimeoutSeconds: 1 }),
            { stack: "test", config: {} },
        );
        const resource = run.resources.find((r) => r.type.startsWith("pulumi-nodejs:dynamic"))!;
        const provider = rebuildProvider(resource.inputs.__provider);
        const logs: string[] = [];
        const realLog = console.log;
        const realInfo = console.info;
        console.log = console.info = (...args: unknown[]) => void logs.push(args.map(String).join(" "));
        let err: any;
        try {
            await provider.create(resource.inputs);
        } catch (e) {
            err = e;
        } finally {
            console.log = realLog;
            console.info = realInfo;
        }
        assert.ok(err, "the batch fails");
        for (const h of hosts) assert.ok(err.message.includes(`${h.name}: not applied: Kubernetes PATCH`) && err.message.includes('unknown field "spec.inspectionMode"'), err.message);
        for (const h of hosts) assert.equal(server.store.get("baremetalhosts", "old", h.name), undefined, "no host was created without the field");
    });
});
