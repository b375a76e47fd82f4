// IronicNodeBatch (rebuilt from `__provider`) interrupted against a real Ironic: a create or a delete
// whose process is SIGKILLed halfway (run in a child process, as `pulumi up` runs the provider), or
// stopped by its deadline, then run again or deleted. What is left is checked by listing Ironic's
// nodes and ports, not by trusting the provider; at the end nothing of the stack is left.
import { strict as assert } from "assert";
import { loadLabConfig } from "../components/config/load";
import { buildInventory, Host } from "../components/inventory/inventory";
import { batchMarker, IronicNodeSpec } from "../components/enroll/ironicNodeBatch";
import type { CapturedResource } from "./support/capturedProvider";
import { assertEachHostOnce, assertIronicEmpty, batchNodes, declareFakeHardwareBatch, runInChild, waitFor } from "./support/ironicFaults";
import type { IronicLab } from "./support/ironicLocal";
import { realIronicSuite } from "./support/ironicSuite";

const HOSTS = 60;

describe("IronicNodeBatch interrupted and resumed against a real Ironic (MariaDB + 3 API/conductor pairs) @real", function () {
    this.timeout(600_000);
    let lab: IronicLab;
    const inventory = buildInventory(loadLabConfig({ mode: "ironic", nodes: String(4 * HOSTS), hostsPerSushy: "100" }, "ironic-interrupt"));
    /** Batches to delete at the end (label -> the props a delete gets). */
    const toDelete = new Map<string, { batch: CapturedResource; props: Record<string, any> }>();

    realIronicSuite({ conductors: 3, tls: true }, (started) => (lab = started));

    const declareBatch = (label: string, hosts: readonly Host[], timeoutSeconds = 240) => declareFakeHardwareBatch(lab, label, hosts, timeoutSeconds);
    const hostsOf = (batch: CapturedResource) => batch.inputs.hosts as IronicNodeSpec[];

    /** Runs the batch's create in a child process and SIGKILLs it once `atLeast` of its nodes exist in Ironic. */
    async function createKilledHalfway(batch: CapturedResource, atLeast: number): Promise<void> {
        const child = runInChild(batch.inputs.__provider, "create", [batch.inputs]);
        let ended = false;
        void child.exited.then(() => (ended = true));
        await waitFor(`${atLeast} nodes of ${batch.inputs.label}`, async () => ended || (await batchNodes(lab, batch.inputs.label)).length >= atLeast);
        child.kill("SIGKILL");
        const exit = await child.exited;
        assert.equal(exit.signal, "SIGKILL", `the create ended before it was killed:\n${exit.output}`);
        const nodes = await batchNodes(lab, batch.inputs.label);
        assert.ok(nodes.filter((n) => n.provision_state === "available").length < HOSTS, "killed before every host was available");
    }

    // The kill may land between a node's POST and its port's (seen: 4 of 60 hosts): the next test pins that case.
    it("a create whose process is SIGKILLed halfway, run again, finishes: each host once with one port", async () => {
        const batch = await declareBatch("interrupt/create-killed", inventory.slice(0, HOSTS));
        await createKilledHalfway(batch, HOSTS / 2);
        const again = await batch.provider.create(batch.inputs);
        assert.equal(again.outs.status.ready, true, JSON.stringify(again.outs.status));
        toDelete.set(batch.inputs.label, { batch, props: again.outs });
        await assertEachHostOnce(lab, batch.inputs.label, hostsOf(batch), "available");
    });

    // apply() re-applies an existing node and posts its port (a port already there answers 409 and is kept).
    it("a create stopped between a node and its port gets the port on the next create", async () => {
        const batch = await declareBatch("interrupt/no-port", inventory.slice(HOSTS, HOSTS + 5));
        // What a create killed right after POST /v1/nodes leaves: the node as the provider writes it, no port.
        const [first] = hostsOf(batch);
        await lab.createNode({ name: first.name, uuid: first.uuid, driver: first.driver, properties: first.properties, description: batchMarker(batch.inputs.label) });
        const again = await batch.provider.create(batch.inputs);
        toDelete.set(batch.inputs.label, { batch, props: again.outs });
        assert.equal(again.outs.status.ready, true);
        await assertEachHostOnce(lab, batch.inputs.label, hostsOf(batch), "available");
    });

    it("a create stopped by its deadline, then deleted (destroy run again while its deadline passes): every node it made is removed", async () => {
        const batch = await declareBatch("interrupt/deadline-then-delete", inventory.slice(2 * HOSTS, 3 * HOSTS), 5);
        let failure: any;
        await batch.provider.create(batch.inputs).catch((err) => (failure = err));
        assert.ok(failure, "a 5 s deadline stops the create");
        assert.match(failure.message, /deadline of 5s passed/);
        assert.ok((await batchNodes(lab, batch.inputs.label)).length > 0, "the create made some nodes");
        // `pulumi destroy` deletes with the stored outputs, under the same 5 s deadline: run again until it finishes.
        for (let run = 1; ; run++) {
            const error = await batch.provider.delete(failure.id, failure.properties).then(() => undefined, (err: Error) => err);
            if (!error) break;
            assert.match(error.message, /\(deleting\): delete did not finish: \d+ of 60 hosts not deleted/);
            assert.ok(run < 20, `delete still unfinished after ${run} runs: ${error.message}`);
        }
        assert.deepEqual(await batchNodes(lab, batch.inputs.label), []);
        const macs = new Set(hostsOf(batch).map((h) => h.bootMac));
        assert.deepEqual((await lab.listPorts()).filter((p) => macs.has(p.address)), [], "no port of the batch left");
    });

    it("a delete after a create SIGKILLed halfway removes every node that exists, whatever its state", async () => {
        const batch = await declareBatch("interrupt/killed-then-delete", inventory.slice(3 * HOSTS, 4 * HOSTS));
        await createKilledHalfway(batch, HOSTS / 2);
        const states = new Set((await batchNodes(lab, batch.inputs.label)).map((n) => n.provision_state));
        await batch.provider.delete(batch.inputs.label, batch.inputs);
        assert.deepEqual(await batchNodes(lab, batch.inputs.label), [], `left after deleting nodes in ${[...states].join(", ")}`);
        const macs = new Set(hostsOf(batch).map((h) => h.bootMac));
        assert.deepEqual((await lab.listPorts()).filter((p) => macs.has(p.address)), [], "no port of the batch left");
    });

    it("a delete whose process is SIGKILLed halfway, run again, finishes", async () => {
        const entry = toDelete.get("interrupt/create-killed");
        assert.ok(entry, "the first test created the batch");
        const { batch, props } = entry;
        const child = runInChild(batch.inputs.__provider, "delete", [batch.inputs.label, props]);
        let ended = false;
        void child.exited.then(() => (ended = true));
        await waitFor("half of the batch deleted", async () => ended || (await batchNodes(lab, batch.inputs.label)).length <= HOSTS / 2);
        child.kill("SIGKILL");
        const exit = await child.exited;
        assert.equal(exit.signal, "SIGKILL", `the delete ended before it was killed:\n${exit.output}`);
        assert.ok((await batchNodes(lab, batch.inputs.label)).length > 0, "killed before every node was gone");
        await batch.provider.delete(batch.inputs.label, props);
        assert.deepEqual(await batchNodes(lab, batch.inputs.label), []);
        toDelete.delete(batch.inputs.label);
    });

    it("destroy: deleting every batch leaves no Ironic node and no port (listed)", async () => {
        for (const { batch, props } of toDelete.values()) await batch.provider.delete(batch.inputs.label, props);
        await assertIronicEmpty(lab);
    });
});
