// `npm run status --ironic/--kubeconfig`: what the lab's APIs hold right now, beside the record.
// Against a real local Ironic (nodes of the stack's batches counted by provision state, a foreign
// node not) and the Kubernetes API test server (BareMetalHosts by state, Clusters by phase, both
// by the stack label); an API that does not answer is a line saying so, and the status goes on.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Writable } from "stream";
import { labelValue, LABELS } from "../components/enroll/bareMetalHostBatch";
import { batchMarker } from "../components/enroll/ironicNodeBatch";
import { main, readIronicAccess } from "../tools/status/cli";
import { requireIronicOrSkip, startIronicLab } from "./support/ironicLocal";
import { KubeApiTestServer } from "./support/kubeApiServer";
import { writeRunFixture } from "./support/runRecordFixture";

class Capture extends Writable {
    text = "";
    readonly isTTY = false;
    _write(chunk: Buffer, _enc: string, done: () => void) {
        this.text += chunk.toString();
        done();
    }
}

async function statusOnce(args: string[]): Promise<string> {
    const out = new Capture();
    await main(["--once", ...args], out as unknown as NodeJS.WriteStream);
    return out.text;
}

describe("status: live counts from the lab's APIs", function () {
    this.timeout(300_000);
    let tmp: string;
    let runArgs: string[];
    before(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "status-live-"));
        const g = writeRunFixture({ root: tmp, stack: "live", seed: 5, nodes: 20, batchSize: 10, conductors: 2, failures: 0 });
        runArgs = ["--root", g.root, "--stack", "live"];
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    function writeIronicJson(access: object): string {
        const file = path.join(tmp, `ironic-${Math.random().toString(36).slice(2)}.json`);
        fs.writeFileSync(file, JSON.stringify(access), { mode: 0o600 });
        return file;
    }

    describe("from a real Ironic @real", () => {
        before(function () {
            requireIronicOrSkip(this);
        });

        it("counts the stack's nodes per provision state, never another stack's, and never prints the password", async () => {
            const lab = await startIronicLab({ conductors: 1, tls: true });
            try {
                const mine = (i: number) => ({ name: `live-${i}`, description: batchMarker(`live/ironic-batch-00${i % 2}`) });
                for (let i = 0; i < 3; i++) await lab.createNode(mine(i));
                await lab.createNode({ name: "other-0", description: batchMarker("live2/ironic-batch-000") });
                await lab.setProvisionState("live-0", "manage");
                await lab.waitForProvisionState("live-0", "manageable");
                await lab.request("PUT", "/v1/nodes/live-1/maintenance", { body: { reason: "test" } });
                const file = writeIronicJson({ endpoints: lab.endpoints, username: lab.username, password: lab.password, caCertPem: lab.caPem });
                const text = await statusOnce([...runArgs, "--ironic", file]);
                assert.match(text, /^live Ironic nodes: 3 hosts: (enroll 1, enroll \(maintenance\) 1, manageable 1)$/m, text);
                assert.ok(text.includes("run live/"), "the record's lines come first");
                assert.ok(!text.includes(lab.password), "the password never reaches the output");
            } finally {
                await lab.stop();
            }
        });
    });

    it("says an Ironic that does not answer is not reachable, and still shows the record", async () => {
        const file = writeIronicJson({ endpoints: ["http://127.0.0.1:9/"], username: "u", password: "not-shown-anywhere" });
        const text = await statusOnce([...runArgs, "--ironic", file]);
        assert.match(text, /^live Ironic nodes: not reachable \(.+\)$/m, text);
        assert.match(text, /^hosts: \d+\/20 /m);
        assert.ok(!text.includes("not-shown-anywhere"));
    });

    it("refuses an --ironic file that is not the ironicApi output, naming what is missing and not its content", () => {
        const file = writeIronicJson({ endpoints: [], username: "u", password: "" });
        assert.throws(() => readIronicAccess(file), (err: Error) => /missing endpoints \(a list of URLs\), password/.test(err.message) && err.message.includes("pulumi stack output ironicApi"));
        fs.writeFileSync(file, "{ not json: hunter2");
        assert.throws(() => readIronicAccess(file), (err: Error) => /not readable as JSON/.test(err.message) && !err.message.includes("hunter2"));
    });

    it("counts the stack's BareMetalHosts per state and its Clusters per phase from the cluster", async () => {
        const server = new KubeApiTestServer({ namespaces: ["metal3"], token: "live-token" });
        await server.start();
        try {
            const labels = (stack: string) => ({ [LABELS.stack]: labelValue(stack) });
            const states = ["available", "available", "inspecting", "registering"];
            for (const [i, state] of states.entries()) {
                const bmh = server.store.create("baremetalhosts", { apiVersion: "metal3.io/v1alpha1", kind: "BareMetalHost", metadata: { name: `h-${i}`, namespace: "metal3", labels: labels("live") }, spec: { online: true } });
                server.store.updateStatus("baremetalhosts", { ...bmh, status: { provisioning: { ID: "", state }, operationalStatus: i === 3 ? "error" : "OK", errorMessage: "", poweredOn: false } });
            }
            server.store.create("baremetalhosts", { apiVersion: "metal3.io/v1alpha1", kind: "BareMetalHost", metadata: { name: "other", namespace: "metal3", labels: labels("live2") }, spec: { online: true } });
            const cluster = server.store.create("clusters", { apiVersion: "cluster.x-k8s.io/v1beta2", kind: "Cluster", metadata: { name: "c-0", namespace: "metal3", labels: labels("live") }, spec: {} });
            server.store.updateStatus("clusters", { ...cluster, status: { phase: "Provisioned" } });
            const kubeconfig = path.join(tmp, "kubeconfig");
            fs.writeFileSync(kubeconfig, server.kubeconfigYaml(), { mode: 0o600 });
            const text = await statusOnce([...runArgs, "--kubeconfig", kubeconfig]);
            assert.match(text, /^live BareMetalHosts: 4 hosts: available 2, inspecting 1, registering \(error\) 1$/m, text);
            assert.match(text, /^live Clusters: 1 clusters: Provisioned 1$/m, text);
            assert.ok(!text.includes("live-token"));
        } finally {
            await server.stop();
        }
    });
});
