// The host inventory: deterministic, unique, stable when nodes grows, partitioned per container.
import { strict as assert } from "assert";
import { HOSTS_PER_CPU, MAX_NODES, SUSHY_STRIPE } from "../components/config/defaults";
import { loadLabConfig } from "../components/config/load";
import { bootMac, buildInventory, Host, nameUuid, planBatches, sushyContainersFor, sushyOf, sushyShare } from "../components/inventory/inventory";

/** A lab host large enough for any fleet here: these tests are about layout, not capacity. */
// Enough CPUs that the loader's fleet rule (HOSTS_PER_CPU) admits the largest inventory here.
const BIG_LAB_HOST = { cpus: Math.ceil(MAX_NODES / HOSTS_PER_CPU) };

function bySushy(hosts: readonly Host[]): Map<number, Host[]> {
    const shares = new Map<number, Host[]>();
    for (const h of hosts) shares.set(h.sushy, [...(shares.get(h.sushy) ?? []), h]);
    return shares;
}

describe("inventory", () => {
    const cfg = (nodes: number, extra: Record<string, unknown> = {}, stack = "scale") => loadLabConfig({ nodes: String(nodes), hostsPerSushy: "1000", ...extra }, stack, BIG_LAB_HOST);

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

    it("with an explicit sushyContainers, stripes every host over all of them (one block), evenly", () => {
        const c = cfg(1000, { sushyContainers: "20", fakeIpaContainers: "10", hostsPerSushy: "100" });
        assert.equal(c.sushyStripe, 20);
        const hosts = buildInventory(c);
        const shares = bySushy(hosts);
        assert.equal(shares.size, 20);
        for (const [i, share] of shares) {
            assert.equal(share.length, 50);
            assert.ok(share.every((h) => h.index % 20 === i && h.sushyEndpoint.endsWith(`:${8000 + i}`) && h.fakeIpa === i % 10));
        }
        // A batch of 50 consecutive hosts spreads over all 20 containers instead of loading one.
        assert.equal(new Set(hosts.slice(0, 50).map((h) => h.sushy)).size, 20);
    });

    it("derived: stripes each block of 10 x hostsPerSushy hosts over its own 10 containers", () => {
        const layout = { sushyStripe: SUSHY_STRIPE, hostsPerSushy: 100 };
        assert.deepEqual([0, 1, 9, 10, 999, 1000, 1001, 1999, 2000].map((i) => sushyOf(layout, i)), [0, 1, 9, 0, 9, 10, 11, 19, 20]);
        const c = cfg(2500, { hostsPerSushy: "100" });
        assert.equal(c.sushyContainers, 30, "two whole blocks, then the first 10 containers of the third");
        const hosts = buildInventory(c);
        for (const [i, share] of bySushy(hosts)) {
            assert.ok(share.length <= 100, `container ${i} serves ${share.length}`);
            const block = Math.floor(i / 10);
            assert.ok(share.every((h) => Math.floor(h.index / 1000) === block), `container ${i} serves only its block`);
        }
        // Every batch of 50 consecutive hosts, wherever it starts, reaches 10 containers.
        for (let start = 0; start + 50 <= hosts.length; start += 50) {
            assert.equal(new Set(hosts.slice(start, start + 50).map((h) => h.sushy)).size, 10, `batch at ${start}`);
        }
    });

    it("derived: counts only the containers that serve a host; small labs get one per host up to the stripe", () => {
        const layout = { sushyStripe: SUSHY_STRIPE, hostsPerSushy: 100 };
        const counts = [1, 3, 10, 11, 700, 770, 999, 1000, 1001, 1010, 1011, 2000].map((n) => sushyContainersFor(layout, n));
        assert.deepEqual(counts, [1, 3, 10, 10, 10, 10, 10, 10, 11, 20, 20, 20]);
        for (const n of [1, 9, 10, 95, 700, 1000, 1005, 2345]) {
            const c = cfg(n, { hostsPerSushy: "100" });
            assert.equal(new Set(buildInventory(c).map((h) => h.sushy)).size, c.sushyContainers, `${n} hosts use every container`);
            assert.equal(Math.max(...buildInventory(c).map((h) => h.sushy)), c.sushyContainers - 1, `${n} hosts: containers 0..S-1`);
        }
    });

    it("never moves a host when nodes grows or shrinks, in any layout (derived, explicit, fake-ipa derived or set)", () => {
        const layouts: Record<string, unknown>[] = [{ hostsPerSushy: "100" }, { hostsPerSushy: "7" }, { hostsPerSushy: "100", fakeIpaContainers: "3" }, { hostsPerSushy: "100", sushyContainers: "20" }];
        for (const extra of layouts) {
            // Explicit counts need at least one host per container.
            const sizes = [3, 10, 11, 99, 700, 770, 1000, 1001, 1500].filter((n) => n >= Number(extra.sushyContainers ?? 0));
            const big = buildInventory(cfg(1500, extra));
            for (const n of sizes) {
                assert.deepEqual(buildInventory(cfg(n, extra)), big.slice(0, n), `${JSON.stringify(extra)}: the first ${n} hosts are the same at 1500`);
            }
        }
    });

    it("gives each container a fixed share of hostsPerSushy hosts that covers every host once", () => {
        const layout = { sushyStripe: SUSHY_STRIPE, hostsPerSushy: 100 };
        const seen = new Set<number>();
        for (let c = 0; c < 30; c++) {
            const share = sushyShare(layout, c);
            assert.equal(share.length, 100);
            for (const i of share) {
                assert.equal(sushyOf(layout, i), c, `host ${i} is container ${c}'s`);
                assert.ok(!seen.has(i));
                seen.add(i);
            }
        }
        assert.equal(seen.size, 3000);
        assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 3000 }, (_, i) => i), "30 containers cover hosts 0..2999");
        // Explicit layout: one block of S containers, shares i, i+S, ...
        assert.deepEqual(sushyShare({ sushyStripe: 4, hostsPerSushy: 3 }, 1), [1, 5, 9]);
        // No share reaches past the most hosts a lab can have.
        const last = sushyShare({ sushyStripe: 1000, hostsPerSushy: 1000 }, 999);
        assert.ok(last.every((i) => i < MAX_NODES) && last.length === Math.ceil((MAX_NODES - 999) / 1000));
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
