// IronicNodeBatch's compact declaration (nodeDefaults.ts): what its nodes share
// once per batch, per host its own fields; the provider expands them back, and
// reads a stack's state written with full host specs as the same hosts.
import { strict as assert } from "assert";
import { loadLabConfig } from "../components/config/load";
import { HostEnrollmentArgs, ironicBatchArgs } from "../components/enroll/hostEnrollment";
import { IronicNodeBatch, IronicNodeSpec } from "../components/enroll/ironicNodeBatch";
import { expandHosts, expandNode, IronicNodeEntry, withHostsInFull } from "../components/enroll/nodeDefaults";
import { fakeHardwareNodeSpec, redfishNodeDefaults, redfishNodeEntry, redfishNodeSpec } from "../components/enroll/specs";
import { buildInventory } from "../components/inventory/inventory";
import { ipaImageUrls } from "../components/registry/ipaImages";
import { captureDynamicResources, CapturedResource } from "./support/capturedProvider";

const cfg = loadLabConfig({ mode: "ironic", nodes: "6", hostsPerSushy: "2" }, "dev");
const inventory = buildInventory(cfg);
const access = { endpoints: ["https://172.22.0.2:6385"], username: "u", password: "p", caPem: "" };
const enrollment: HostEnrollmentArgs = { config: cfg, hosts: inventory, bmc: { username: "admin", password: "bmc-secret" }, ironic: access };
const batchArgs = (hosts = inventory) => ironicBatchArgs(enrollment, "dev/ironic-batch-000", hosts, 600);

describe("IronicNodeBatch node defaults: shared fields once per batch, per host its own", () => {
    it("expands an entry over the defaults record by record, the host's fields winning", () => {
        const defaults = { driver: "redfish", interfaces: { boot_interface: "ipxe" }, driverInfo: { a: "1", b: "2" }, properties: { cpu_arch: "x86_64" } };
        const entry: IronicNodeEntry = { name: "h", uuid: "u", bootMac: "m", interfaces: { deploy_interface: "direct" }, driverInfo: { b: "own", c: "3" } };
        assert.deepEqual(expandNode(defaults, entry), {
            name: "h",
            uuid: "u",
            bootMac: "m",
            driver: "redfish",
            interfaces: { boot_interface: "ipxe", deploy_interface: "direct" },
            driverInfo: { a: "1", b: "own", c: "3" },
            properties: { cpu_arch: "x86_64" },
        });
        assert.equal(expandNode(defaults, { ...entry, driver: "fake-hardware", properties: { cpu_arch: "aarch64" } }).driver, "fake-hardware");
        assert.deepEqual(expandNode(defaults, { ...entry, properties: { cpu_arch: "aarch64" } }).properties, { cpu_arch: "aarch64" });
        // Nothing of the defaults is shared by reference: an expanded node never changes them.
        expandNode(defaults, entry).driverInfo.a = "changed";
        assert.equal(defaults.driverInfo.a, "1");
    });

    it("expands a full spec with no defaults (state written before them) to itself; empty records are left out", () => {
        const spec = redfishNodeSpec(inventory[0], cfg, "admin");
        assert.deepEqual(expandNode(undefined, spec), spec);
        const { interfaces: _, ...noInterfaces } = spec;
        assert.deepEqual(expandNode(undefined, { ...spec, interfaces: {} }), noInterfaces);
        assert.deepEqual(expandHosts({ hosts: [spec, fakeHardwareNodeSpec(inventory[1])] }), [spec, fakeHardwareNodeSpec(inventory[1])]);
        assert.deepEqual(expandHosts({ hosts: "nope" as unknown as IronicNodeEntry[] }), [], "not a list: check() refuses it");
    });

    it("the lab's node is the one it declared in full before the split (so a stack's state diffs as unchanged)", () => {
        const host = inventory[3];
        const ipa = ipaImageUrls(cfg);
        // specs.ts redfishNodeSpec before node defaults, field for field.
        const before: IronicNodeSpec = {
            name: host.name,
            uuid: host.uuid,
            bootMac: host.bootMac,
            driver: "redfish",
            interfaces: { boot_interface: "ipxe", deploy_interface: "direct", inspect_interface: "agent", management_interface: "redfish", power_interface: "redfish" },
            driverInfo: {
                redfish_address: host.sushyEndpoint,
                redfish_system_id: host.redfishSystemId,
                redfish_username: "admin",
                redfish_verify_ca: "false",
                deploy_kernel: ipa.kernel,
                deploy_ramdisk: ipa.ramdisk,
            },
            properties: { cpu_arch: "x86_64" },
        };
        assert.deepEqual(expandNode(redfishNodeDefaults(cfg, "admin"), redfishNodeEntry(host)), before);
    });

    it("a lab batch declares per host only its name, uuid, boot MAC and BMC; the rest once", () => {
        const args = batchArgs();
        const hosts = args.hosts as IronicNodeEntry[];
        for (const [i, entry] of hosts.entries()) {
            assert.deepEqual(Object.keys(entry).sort(), ["bootMac", "driverInfo", "name", "uuid"]);
            assert.deepEqual(entry.driverInfo, { redfish_address: inventory[i].sushyEndpoint, redfish_system_id: inventory[i].redfishSystemId });
        }
        assert.deepEqual(args.nodeDefaults, redfishNodeDefaults(cfg, "admin"));
        // A host that changes changes its own entry only: what `pulumi preview --diff` shows.
        const moved = inventory.map((h, i) => (i === 2 ? { ...h, bootMac: "52:54:00:00:99:99" } : h));
        const after = batchArgs(moved);
        assert.deepEqual(after.nodeDefaults, args.nodeDefaults);
        const differing = hosts.map((h, i) => JSON.stringify(h) !== JSON.stringify((after.hosts as IronicNodeEntry[])[i]));
        assert.deepEqual(differing, [false, false, true, false, false, false]);
    });

    describe("the provider", () => {
        let batch: CapturedResource;
        const status = { ready: true, counts: {}, failures: [], updatedAt: "" };
        before(async () => {
            [batch] = await captureDynamicResources(() => void new IronicNodeBatch("b", batchArgs()));
        });
        const diff = async (olds: Record<string, any>, news: Record<string, any>) => (await batch.provider.diff(batch.inputs.label, { ...olds, status }, news)).changes;

        it("stores the declaration as is: entries and node defaults", () => {
            assert.deepEqual(batch.inputs.hosts, batchArgs().hosts);
            assert.deepEqual(batch.inputs.nodeDefaults, batchArgs().nodeDefaults);
        });

        it("diffs a state written with full host specs as unchanged, and still sees a change of one host or of the shared fields", async () => {
            const stored = withHostsInFull(batch.inputs);
            assert.deepEqual(stored.hosts, inventory.map((h) => redfishNodeSpec(h, cfg, "admin")));
            assert.equal(await diff(stored, batch.inputs), false, "the first up after the change updates no batch");
            assert.equal(await diff(batch.inputs, stored), false);
            const oneHost = batch.inputs.hosts.map((h: IronicNodeEntry, i: number) => (i === 4 ? { ...h, bootMac: "52:54:00:00:99:99" } : h));
            assert.equal(await diff(stored, { ...batch.inputs, hosts: oneHost }), true);
            const kernel = { ...batch.inputs.nodeDefaults, driverInfo: { ...batch.inputs.nodeDefaults.driverInfo, deploy_kernel: "http://elsewhere/k" } };
            assert.equal(await diff(stored, { ...batch.inputs, nodeDefaults: kernel }), true);
            assert.equal(await diff(batch.inputs, { ...batch.inputs, nodeDefaults: kernel }), true);
        });

        it("check() refuses bad node defaults once, and a host whose node has no driver anywhere", async () => {
            const badDefaults = { ...batch.inputs, nodeDefaults: { ...batch.inputs.nodeDefaults, interfaces: { boot: "ipxe" } } };
            const refused = (await batch.provider.check({}, badDefaults)).failures ?? [];
            assert.deepEqual(refused.map((f) => f.property), ["nodeDefaults"]);
            assert.match(refused[0].reason, /nodeDefaults: interfaces\.boot must be an Ironic \*_interface field/);
            const { driver: _, ...noDriver } = batch.inputs.nodeDefaults;
            const failures = (await batch.provider.check({}, { ...batch.inputs, nodeDefaults: noDriver })).failures ?? [];
            assert.equal(failures.length, inventory.length);
            assert.match(failures[0].reason, /hosts\[0\] \(.+\): driver is not set, neither on the host nor in nodeDefaults/);
            assert.deepEqual((await batch.provider.check({}, batch.inputs)).failures, []);
            assert.deepEqual((await batch.provider.check({}, withHostsInFull(batch.inputs))).failures, []);
        });
    });
});
