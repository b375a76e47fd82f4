import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as https from "node:https";

import { IRONIC_API_VERSION, IronicLab, ironicAvailability, requireIronicOrSkip, startIronicLab } from "./support/ironicLocal";

function httpsGet(url: string, ca?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const req = https.get(url, { ca, headers: { "X-OpenStack-Ironic-API-Version": IRONIC_API_VERSION } }, (res) => {
            let body = "";
            res.on("data", (c) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
    });
}

describe("real Ironic harness @real", function () {
    let lab: IronicLab | undefined;

    before(async function () {
        requireIronicOrSkip(this);
        // installing the packages on a fresh machine takes minutes; starting ~15-25 s
        this.timeout(ironicAvailability().installed ? 180_000 : 1_200_000);
        lab = await startIronicLab({ conductors: 3, tls: true });
        console.log(`      (3-pod Ironic lab ready in ${lab.startupSeconds.toFixed(1)} s, state ${lab.stateDir})`);
    });

    after(async function () {
        this.timeout(120_000);
        if (lab) await lab.stop();
    });

    it("serves one API per pod and has 3 live conductors on their own loopback IPs", async function () {
        const l = lab!;
        assert.equal(l.endpoints.length, 3);
        assert.equal(l.httpEndpoints.length, 3);
        assert.equal(new Set(l.conductorHosts).size, 3);
        for (const h of l.conductorHosts) assert.match(h, /^127\.0\.\d+\.\d+$/);
        // every pod's API sees the same three conductors (one shared database)
        for (let i = 0; i < 3; i++) {
            const cs = await l.conductors(i);
            const alive = cs.filter((c) => c.alive).map((c) => c.hostname).sort();
            assert.deepEqual(alive, [...l.conductorHosts].sort(), `conductors seen by ${l.endpoints[i]}`);
            for (const c of cs) assert.ok(c.drivers?.includes("fake-hardware"), `${c.hostname} drivers: ${c.drivers}`);
        }
    });

    it("requires HTTP basic auth (401 without or with wrong credentials; root stays public)", async function () {
        const l = lab!;
        for (const ep of [l.httpEndpoints[0], l.endpoints[1]]) {
            const none = await l.request("GET", "/v1/nodes", { endpoint: ep, auth: false });
            assert.equal(none.status, 401, none.text);
            const wrong = await l.request("GET", "/v1/nodes", { endpoint: ep, auth: { username: l.username, password: "not-" + l.password } });
            assert.equal(wrong.status, 401, wrong.text);
            const ok = await l.request("GET", "/v1/nodes", { endpoint: ep });
            assert.equal(ok.status, 200, ok.text);
            const root = await l.request("GET", "/", { endpoint: ep, auth: false });
            assert.equal(root.status, 200);
        }
        assert.ok(l.password.length >= 32, "generated password");
        const mode = fs.statSync(`${l.stateDir}/secrets/api-password`).mode & 0o777;
        assert.equal(mode, 0o600);
    });

    it("drives a fake-hardware node enroll -> manageable -> inspect -> manageable -> available, then deletes it", async function () {
        this.timeout(60_000);
        const l = lab!;
        const created = await l.createNode({ name: `harness-node-${process.pid}` }, 0);
        assert.equal(created.provision_state, "enroll");
        assert.equal(created.driver, "fake-hardware");
        const id = created.uuid;

        // each step through another pod's API: any API controls any node
        await l.setProvisionState(id, "manage", 1);
        await l.waitForProvisionState(id, "manageable");
        await l.setProvisionState(id, "inspect", 2);
        await l.waitForProvisionState(id, "manageable");
        const inspected = await l.getNode(id);
        assert.ok(inspected.inspection_finished_at, "inspection_finished_at set after inspect");
        await l.setProvisionState(id, "provide", 0);
        const node = await l.waitForProvisionState(id, "available");

        assert.ok(node.conductor && l.conductorHosts.includes(node.conductor), `conductor field ${node.conductor}`);
        const listed = await l.listNodes(2);
        const mine = listed.find((n) => n.uuid === id);
        assert.ok(mine, "node in /v1/nodes/detail");
        assert.equal(mine!.provision_state, "available");
        assert.ok(l.conductorHosts.includes(mine!.conductor as string));

        const del = await l.request("DELETE", `/v1/nodes/${id}`, { endpoint: 1 });
        assert.equal(del.status, 204, del.text);
        const gone = await l.request("GET", `/v1/nodes/${id}`);
        assert.equal(gone.status, 404);
    });

    it("serves HTTPS verified by the generated CA (and plain http stays available)", async function () {
        const l = lab!;
        assert.ok(l.caPem && l.caPem.includes("BEGIN CERTIFICATE"));
        assert.ok(l.httpsEndpoints && l.httpsEndpoints.every((e) => e.startsWith("https://")));
        assert.deepEqual(l.endpoints, l.httpsEndpoints);
        for (const ep of l.httpsEndpoints!) {
            const r = await httpsGet(`${ep}/v1`, l.caPem);
            assert.equal(r.status, 200, r.body);
            // proxy headers are honoured: links point back at the https endpoint
            assert.ok(JSON.parse(r.body).links[0].href.startsWith(`${ep}/v1`), r.body);
        }
        await assert.rejects(httpsGet(`${l.httpsEndpoints![0]}/v1`), (e: any) =>
            /self[- ]signed|unable to (verify|get)/i.test(`${e.code} ${e.message}`),
        );
        const viaClient = await l.request("GET", "/v1/drivers", { endpoint: 0 });
        assert.equal(viaClient.status, 200, viaClient.text);
        const plain = await l.request("GET", "/v1/drivers", { endpoint: l.httpEndpoints[0] });
        assert.equal(plain.status, 200);
        assert.ok(plain.body.drivers.some((d: any) => d.name === "fake-hardware"));
    });

    it("deleteAllNodes removes nodes in any stable state", async function () {
        this.timeout(60_000);
        const l = lab!;
        const a = await l.createNode({ name: `harness-a-${process.pid}` });
        const b = await l.createNode({ name: `harness-b-${process.pid}` }, 1);
        await l.createNode({ name: `harness-c-${process.pid}` }, 2);
        await l.setProvisionState(a.uuid, "manage");
        await l.setProvisionState(b.uuid, "manage");
        await l.waitForProvisionState(b.uuid, "manageable");
        await l.setProvisionState(b.uuid, "provide");
        await l.waitForProvisionState(a.uuid, "manageable");
        await l.waitForProvisionState(b.uuid, "available");
        await l.setProvisionState(b.uuid, "active");
        await l.waitForProvisionState(b.uuid, "active");
        assert.equal((await l.listNodes()).length, 3);
        await l.deleteAllNodes();
        assert.deepEqual(await l.listNodes(), []);
    });
});
