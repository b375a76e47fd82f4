// The host inventory: deterministic, unique, stable when nodes grows, partitioned per container.
import { strict as assert } from "assert";
import { loadLabConfig } from "../components/config/load";
import { bootMac, buildInventory, hostsBySushy, nameUuid, planBatches } from "../components/inventory/inventory";

describe("inventory", () => {
    const cfg = (nodes: number, extra: Record<string, unknown> = {}, stack = "scale") => loadLabConfig({ nodes: String(nodes), hostsPerSushy: "1000", ...extra }, stack);

    it("is the same for the same inputs", () => {
        assert.deepEqual(buildInventory(cfg(300)), buildInventory(cfg(300)));
    });

    it("differs between stacks (UUIDs and MACs), so two labs never share a host identity", () => {
        const a = buildInventory(cfg(100, {}, "lab-a"));
        const b = buildInventory(cfg(100, {}, "lab-b"));
        const uuids = new Set(a.map((h) => h.uuid));
        assert.ok(b.every((h) => !uuids.has(h.uuid)));
        const macs = new Set(a.map((h) => h.bootMac));
        assert.ok(b.every((h) => !macs.has(h.bootMac)));
    });

    it("gives 50,000 hosts unique names, UUIDs and locally administered unicast MACs", () => {
        const hosts = buildInventory(cfg(50_000, { sushyContainers: "500", hostsPerSushy: "100" }));
        for (const field of ["name", "uuid", "bootMac", "redfishAddress"] as const) {
            assert.equal(new Set(hosts.map((h) => h[field])).size, 50_000, `${field} unique`);
        }
        for (const h of hosts.slice(0, 1000)) {
            const first = parseInt(h.bootMac.slice(0, 2), 16);
            assert.equal(first & 0x02, 0x02, "locally administered");
            assert.equal(first & 0x01, 0, "unicast");
            assert.match(h.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "RFC 4122 version 5");
        }
    });

    it("keeps the first 1000 hosts unchanged when nodes grows to 1100", () => {
        const before = buildInventory(cfg(1000, { sushyContainers: "20", hostsPerSushy: "100" }));
        const after = buildInventory(cfg(1100, { sushyContainers: "20", hostsPerSushy: "100" }));
        assert.deepEqual(after.slice(0, 1000), before);
        assert.equal(after.length, 1100);
    });

    it("partitions hosts so each sushy container serves only its own share, evenly", () => {
        const c = cfg(1000, { sushyContainers: "20", fakeIpaContainers: "10", hostsPerSushy: "100" });
        const hosts = buildInventory(c);
        const shares = hostsBySushy(hosts, c.sushyContainers);
        assert.equal(shares.length, 20);
        assert.ok(shares.every((s) => s.length === 50));
        assert.equal(shares.flat().length, 1000);
        for (const [i, share] of shares.entries()) {
            assert.ok(share.every((h) => h.sushy === i && h.sushyEndpoint.endsWith(`:${8000 + i}`) && h.fakeIpa === i % 10));
        }
        // A batch of 50 consecutive hosts spreads over all 20 containers instead of loading one.
        assert.equal(new Set(hosts.slice(0, 50).map((h) => h.sushy)).size, 20);
    });

    it("spreads containers over docker hosts and points each host's BMC at its container", () => {
        const c = cfg(40, {
            sushyContainers: "4",
            hostsPerSushy: "10",
            dockerHosts: [
                { name: "a", url: "ssh://root@10.1.0.1", address: "10.1.0.1" },
                { name: "b", url: "ssh://root@10.1.0.2", address: "10.1.0.2" },
            ],
        });
        const hosts = buildInventory(c);
        assert.equal(hosts[1].sushyEndpoint, "http://10.1.0.2:8001");
        assert.equal(hosts[2].sushyEndpoint, "http://10.1.0.1:8002");
        assert.equal(hosts[1].redfishAddress, `redfish+http://10.1.0.2:8001/redfish/v1/Systems/${hosts[1].uuid}`);
    });

    it("plans consecutive batches; more nodes fill the last batch, then add batches", () => {
        const hosts = buildInventory(cfg(120));
        const batches = planBatches(hosts, 50);
        assert.deepEqual(batches.map((b) => b.hosts.length), [50, 50, 20]);
        const grown = planBatches(buildInventory(cfg(160)), 50);
        assert.deepEqual(grown.slice(0, 2), batches.slice(0, 2));
        assert.deepEqual(grown.map((b) => b.hosts.length), [50, 50, 50, 10]);
    });

    it("derives UUIDs and MACs from name and index alone", () => {
        assert.equal(nameUuid("dev/0"), nameUuid("dev/0"));
        assert.notEqual(nameUuid("dev/0"), nameUuid("dev/1"));
        assert.equal(bootMac("dev", 0x010203).slice(9), "01:02:03");
    });
});
