// IronicNodeBatch (rebuilt from `__provider`) against a real Ironic whose nodes
// really fail: a BMC that refuses connections, an inspection service that is not
// there, an interface the conductor does not enable, an interface Ironic does not
// have, and a node locked by another request. Failed hosts are reported fast with
// Ironic's own message, never asked again in a loop, resumed by the next run and
// deleted whatever state they are in.
import { strict as assert } from "assert";
import * as net from "node:net";
import { loadLabConfig } from "../components/config/load";
import { buildInventory } from "../components/inventory/inventory";
import { batchMarker, IronicNodeBatch, IronicNodeSpec } from "../components/enroll/ironicNodeBatch";
import { MAX_RETRIES } from "../components/enroll/ironicStates";
import { fakeHardwareNodeSpec, redfishNodeSpec } from "../components/enroll/specs";
import { captureDynamicResources, CapturedResource } from "./support/capturedProvider";
import { batchAccess, IronicLab, ServedRequest } from "./support/ironicLocal";
import { realIronicSuite } from "./support/ironicSuite";

/** A loopback port nothing listens on: connections to it are refused. */
function refusedPort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/** Enables what the failures need on top of the fake-hardware lab (Debian's Ironic 21.4 option names). */
function failureConfig(port: number): string {
    return [
        "[DEFAULT]",
        "enabled_hardware_types = fake-hardware,redfish",
        "enabled_boot_interfaces = fake,redfish-virtual-media",
        "enabled_deploy_interfaces = fake,direct",
        // inspector: in-band inspection through an ironic-inspector that is not running;
        // no-inspect: a node whose driver does not inspect at all.
        "enabled_inspect_interfaces = fake,inspector,no-inspect",
        "enabled_management_interfaces = fake,redfish",
        "enabled_power_interfaces = fake,redfish",
        "enabled_bios_interfaces = fake,no-bios",
        "enabled_console_interfaces = fake,no-console",
        "enabled_raid_interfaces = fake,no-raid",
        "enabled_rescue_interfaces = fake,no-rescue",
        "enabled_vendor_interfaces = fake,no-vendor",
        "[inspector]",
        `endpoint_override = http://127.0.0.1:${port}`,
        "[redfish]",
        "connection_attempts = 1",
        "[fake]",
        // Every fake power call takes 3 s: a power change holds the node's lock for ~6 s.
        "power_delay = 3",
        "",
    ].join("\n");
}

const BMC_PASSWORD = "bmc-password-never-printed";

describe("IronicNodeBatch with hosts that really fail in Ironic @real", function () {
    this.timeout(600_000);
    let lab: IronicLab;
    let port: number;
    const cfg = loadLabConfig({ mode: "ironic", nodes: "10" }, "ironic-fail");
    const inventory = buildInventory(cfg);
    const logs = realIronicSuite(
        async () => {
            port = await refusedPort();
            return { conductors: 2, tls: true, extraConfig: failureConfig(port) };
        },
        (started) => (lab = started),
    );

    async function declare(label: string, hosts: IronicNodeSpec[], timeoutSeconds = 300): Promise<CapturedResource> {
        const [batch] = await captureDynamicResources(() => {
            new IronicNodeBatch(label.replace("/", "-"), {
                label,
                hosts,
                targetState: "available",
                timeoutSeconds,
                ...batchAccess(lab),
                driverInfoSecrets: { redfish_password: BMC_PASSWORD },
            });
        });
        return batch;
    }

    async function failureOf(run: Promise<unknown>): Promise<any> {
        try {
            await run;
        } catch (err) {
            return err;
        }
        assert.fail("the batch must fail");
    }

    /** Answers the APIs gave since `since` (epoch ms) about one node, or to node creation. */
    const served = (since: number, filter: (r: ServedRequest) => boolean) => lab.servedOverTls().filter((r) => r.at >= since && filter(r));
    const provisionCalls = (since: number, uuid: string) => served(since, (r) => r.method === "PUT" && r.path === `/v1/nodes/${uuid}/states/provision`);
    const batchNodes = async (label: string) => (await lab.listNodes()).filter((n) => String(n.description ?? "").includes(batchMarker(label)));

    const label = "ironic-fail/failing-batch";
    const ok = fakeHardwareNodeSpec(inventory[0]);
    const inspectorDown: IronicNodeSpec = { ...fakeHardwareNodeSpec(inventory[1]), interfaces: { inspect_interface: "inspector" } };
    const noInspect: IronicNodeSpec = { ...fakeHardwareNodeSpec(inventory[2]), interfaces: { inspect_interface: "no-inspect" } };
    let bmcRefuses: IronicNodeSpec;
    // The lab's own redfish node: it pins agent inspection, which Ironic 21.4 does not have.
    const labSpec = redfishNodeSpec(inventory[4], cfg, "admin");
    let batch: CapturedResource;
    let firstFailure: any;

    it("fails fast, naming every failing host with Ironic's message; a refused request is not repeated", async () => {
        bmcRefuses = {
            ...fakeHardwareNodeSpec(inventory[3]),
            driver: "redfish",
            driverInfo: { redfish_address: `http://127.0.0.1:${port}`, redfish_system_id: "/redfish/v1/Systems/lab", redfish_username: "admin" },
        };
        batch = await declare(label, [ok, inspectorDown, noInspect, bmcRefuses, labSpec]);
        const since = Date.now();
        firstFailure = await failureOf(batch.provider.create(batch.inputs));
        const seconds = (Date.now() - since) / 1000;
        assert.ok(seconds < 100, `failed after ${seconds}s: not well before the 300 s deadline`);
        assert.equal(firstFailure.id, label);
        const message: string = firstFailure.message;
        assert.match(message, /hosts failed: 4 of 5 hosts not available/, message);
        const line = (spec: IronicNodeSpec) => message.split("\n").find((l) => l.startsWith(`  - ${spec.name}: `)) ?? "";
        assert.equal(line(ok), "", "the healthy host is not listed");
        // inspect failed keeps target_provision_state=manageable; it is failed after 1 + MAX_RETRIES inspections.
        assert.match(line(inspectorDown), /: inspect failed: Failed to start inspection: .*ironic-inspector/, message);
        assert.match(line(noInspect), /: manageable: Ironic refused "inspect": Driver fake-hardware does not support inspect \(disabled or not implemented\)\.$/, message);
        // A failed verification: back to enroll with last_error.
        assert.match(line(bmcRefuses), new RegExp(`: enroll: Failed to get power state .*127\\.0\\.0\\.1:${port}`), message);
        assert.match(line(labSpec), /: absent: Ironic refused the new node: Could not find the following interface in the 'ironic\.hardware\.interfaces\.(inspect|boot)' entrypoint: (agent|ipxe)\./, message);
        assert.ok(!message.includes(lab.password) && !message.includes(BMC_PASSWORD));
        assert.ok(!logs.some((l) => l.includes(lab.password) || l.includes(BMC_PASSWORD)));

        // Each failure was printed when it happened, retries with Ironic's message too.
        assert.ok(logs.some((l) => l.includes(`${noInspect.name}: failed in manageable: Ironic refused "inspect"`)), logs.join("\n"));
        assert.ok(logs.some((l) => l.includes(`${inspectorDown.name}: inspect failed: Failed to start inspection`) && l.includes(`(retry ${MAX_RETRIES} of ${MAX_RETRIES})`)), logs.join("\n"));

        // Bounded requests: a permanent refusal is asked once; a failure Ironic lets us leave, 1 + MAX_RETRIES times.
        assert.deepEqual(provisionCalls(since, noInspect.uuid).map((r) => r.status), [202, 400], "manage, then one refused inspect");
        assert.equal(provisionCalls(since, inspectorDown.uuid).length, 1 + (1 + MAX_RETRIES), "manage, then 1 + MAX_RETRIES inspections");
        assert.equal(provisionCalls(since, bmcRefuses.uuid).length, 1 + MAX_RETRIES, "1 + MAX_RETRIES verifications");
        assert.equal(served(since, (r) => r.method === "POST" && r.path === "/v1/nodes" && r.status === 400).length, 1, "the refused node is not posted again");
        const total = served(since, () => true).length;
        assert.ok(total < 40 + 3 * seconds, `${total} requests in ${seconds}s`);

        // Recorded as created-but-failed, with the failures, for the next run.
        const status = firstFailure.properties.status;
        assert.equal(status.ready, false);
        assert.deepEqual(status.failures.map((f: { name: string }) => f.name).sort(), [inspectorDown, noInspect, bmcRefuses, labSpec].map((h) => h.name).sort());
        assert.equal(status.counts.available, 1);
        assert.deepEqual((await batchNodes(label)).map((n) => n.provision_state).sort(), ["available", "enroll", "inspect failed", "manageable"]);
        const failedInspection = (await batchNodes(label)).find((n) => n.uuid === inspectorDown.uuid)!;
        assert.equal(failedInspection.target_provision_state, "manageable", "real Ironic keeps the target on inspect failed");
    });

    it("refresh reports the failed hosts with Ironic's message and asks nothing of Ironic", async () => {
        const since = Date.now();
        const { props } = await batch.provider.read(label, firstFailure.properties);
        assert.equal(props.status.ready, false);
        const byName = Object.fromEntries(props.status.failures.map((f: { name: string; error: string }) => [f.name, f.error]));
        assert.match(byName[inspectorDown.name], /Failed to start inspection/);
        assert.match(byName[bmcRefuses.name], /Failed to get power state/);
        assert.ok(served(since, (r) => r.method !== "GET").length === 0, "a refresh only looks");
    });

    let secondFailure: any;

    it("a re-run (update with the recorded failure) resumes: fixed hosts finish, broken ones are tried again and fail fast", async () => {
        const fixed = [ok, inspectorDown, { ...noInspect, interfaces: { inspect_interface: "fake" } }, bmcRefuses, fakeHardwareNodeSpec(inventory[4])];
        const news = { ...batch.inputs, hosts: fixed };
        assert.equal((await batch.provider.diff(label, firstFailure.properties, news)).changes, true);
        const since = Date.now();
        secondFailure = await failureOf(batch.provider.update(label, firstFailure.properties, news));
        assert.ok((Date.now() - since) / 1000 < 100);
        assert.match(secondFailure.message, /hosts failed: 2 of 5 hosts not available/, secondFailure.message);
        assert.match(secondFailure.message, new RegExp(`${inspectorDown.name}: inspect failed: Failed to start inspection`));
        assert.match(secondFailure.message, new RegExp(`${bmcRefuses.name}: enroll: Failed to get power state`));
        // The new run gave each failed host MAX_RETRIES fresh tries, no more.
        assert.equal(provisionCalls(since, inspectorDown.uuid).length, MAX_RETRIES);
        assert.equal(provisionCalls(since, bmcRefuses.uuid).length, MAX_RETRIES);
        const nodes = await batchNodes(label);
        assert.equal(nodes.length, 5, "no duplicates");
        assert.deepEqual(nodes.filter((n) => n.provision_state === "available").map((n) => n.name).sort(), [ok.name, noInspect.name, inventory[4].name].sort());
        assert.equal(secondFailure.properties.status.counts.available, 3);
        batch = { ...batch, inputs: news };
    });

    it("delete removes every node, failed ones included (inspect failed with its target, enroll with last_error)", async () => {
        await batch.provider.delete(label, secondFailure.properties);
        assert.deepEqual(await lab.listNodes(), []);
        await batch.provider.delete(label, secondFailure.properties);
    });

    it("backs off from a node locked by another request, then finishes it", async () => {
        const lockedLabel = "ironic-fail/locked-batch";
        const locked = fakeHardwareNodeSpec(inventory[6]);
        const other = fakeHardwareNodeSpec(inventory[7]);
        const lockedBatch = await declare(lockedLabel, [locked, other], 120);
        // The node exists already (an earlier run) and another client is powering it on: Ironic holds its lock.
        await lab.createNode({ name: locked.name, uuid: locked.uuid, description: batchMarker(lockedLabel) });
        const power = await lab.request("PUT", `/v1/nodes/${locked.uuid}/states/power`, { body: { target: "power on" } });
        assert.equal(power.status, 202);
        const since = Date.now();
        const created = await lockedBatch.provider.create(lockedBatch.inputs);
        assert.equal(created.outs.status.ready, true, JSON.stringify(created.outs.status));
        const aboutLocked = served(since, (r) => r.path.startsWith(`/v1/nodes/${locked.uuid}`) && r.method !== "GET");
        const conflicts = aboutLocked.filter((r) => r.status === 409);
        assert.ok(conflicts.length >= 1, `the batch met the lock: ${JSON.stringify(aboutLocked)}`);
        assert.ok(conflicts.length <= 5, `backed off, no tight loop: ${conflicts.length} conflicts`);
        assert.deepEqual((await batchNodes(lockedLabel)).map((n) => n.provision_state), ["available", "available"]);
        await lockedBatch.provider.delete(lockedLabel, created.outs);
        assert.deepEqual(await lab.listNodes(), []);
    });
});
