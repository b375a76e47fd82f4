// Growing and shrinking the lab, as `pulumi preview --diff` would show it, in
// every mode and resource by resource: more hosts add batches and fleet
// containers and change nothing that serves the hosts already there (at most
// the firewall's port list); fewer hosts remove only their batches and the
// containers left without a host.
import { strict as assert } from "assert";
import { runLab } from "./support/labProgram";
import { previewDiff } from "./support/previewDiff";

const MODES = ["ironic", "bmo", "capi"] as const;
type Mode = (typeof MODES)[number];

const FIREWALL = "metal3-scale-lab:network:HostNetwork$command:local:Command::network-firewall";

function batch(mode: Mode, i: number): string {
    const kind = mode === "ironic" ? "IronicNodeBatch" : "BareMetalHostBatch";
    return `metal3-scale-lab:enroll:HostEnrollment$pulumi-nodejs:dynamic/enroll:${kind}::hosts-batch-${String(i).padStart(3, "0")}`;
}
const sushy = (i: number) => `metal3-scale-lab:fleet:SushyFleet$command:local:Command::sushy-sushy-${String(i).padStart(3, "0")}`;
const fakeIpa = (i: number) => `metal3-scale-lab:fleet:FakeIpa$command:local:Command::fake-ipa-fake-ipa-${String(i).padStart(3, "0")}`;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

/** Derived container counts (the default) on the dev stack at a tenth of the study's scale: 10 hosts per container, batches of 5. */
function derived(mode: Mode, nodes: number, hostsPerSushy = 10, batchSize = 5): Record<string, unknown> {
    return { mode, nodes, sushyContainers: 0, fakeIpaContainers: 0, hostsPerSushy, batchSize, ...(mode === "capi" ? { clusters: 5 } : {}) };
}

// Each config is evaluated once: several diffs share an end.
const runs = new Map<string, ReturnType<typeof runLab>>();
function run(stack: string, overrides: Record<string, unknown>): ReturnType<typeof runLab> {
    const key = `${stack} ${JSON.stringify(overrides)}`;
    if (!runs.has(key)) runs.set(key, runLab(stack, overrides));
    return runs.get(key)!;
}

async function diff(stack: string, before: Record<string, unknown>, after: Record<string, unknown>) {
    return previewDiff(await run(stack, before), await run(stack, after));
}

describe("growing and shrinking the lab (preview diffs)", function () {
    this.timeout(600_000);

    it("the issue's case: derived counts, nodes 700 -> 770 at hostsPerSushy 100 adds two batches and changes nothing", async () => {
        const d = await diff("dev", derived("bmo", 700, 100, 50), derived("bmo", 770, 100, 50));
        assert.deepEqual(d.added, [batch("bmo", 14), batch("bmo", 15)]);
        assert.deepEqual(d.changed, [], "no sushy-tools or fake-ipa container, BMO, Ironic or batch changes");
        assert.deepEqual(d.removed, []);
    });

    // Blocks of 10 containers x 10 hosts = 100 hosts; every mode, resource by resource.
    for (const mode of MODES) {
        describe(`${mode} mode`, () => {
            it("nodes 70 -> 77 (inside the first block): adds two batches and nothing else", async () => {
                const d = await diff("dev", derived(mode, 70), derived(mode, 77));
                assert.deepEqual(d.added, [batch(mode, 14), batch(mode, 15)]);
                assert.deepEqual(d.changed, [], "no container, BMO, Ironic or batch changes");
                assert.deepEqual(d.removed, []);
            });

            it("nodes 5 -> 12 (the open block's next containers): adds them and two batches, opens their ports", async () => {
                const d = await diff("dev", derived(mode, 5), derived(mode, 12));
                // 5 hosts use containers 0-4; hosts 5-9 open containers 5-9; hosts 10-11 join containers 0-1,
                // whose conf.py already declares them.
                assert.deepEqual(d.added, [batch(mode, 1), batch(mode, 2), ...range(5, 10).map(fakeIpa), ...range(5, 10).map(sushy)].sort());
                assert.deepEqual(d.changed, [FIREWALL], "only the firewall's port list");
                assert.deepEqual(d.removed, []);
            });

            it("nodes 100 -> 112 (a new block): adds its 10 containers, 10 fake-ipa and 3 batches; only the firewall changes", async () => {
                const d = await diff("dev", derived(mode, 100), derived(mode, 112));
                assert.deepEqual(d.added, [...range(20, 23).map((i) => batch(mode, i)), ...range(10, 20).map(fakeIpa), ...range(10, 20).map(sushy)].sort());
                assert.deepEqual(d.changed, [FIREWALL]);
                assert.deepEqual(d.removed, []);
            });

            it("nodes 112 -> 100: removes only the new block's containers and its batches", async () => {
                const d = await diff("dev", derived(mode, 112), derived(mode, 100));
                assert.deepEqual(d.removed, [...range(20, 23).map((i) => batch(mode, i)), ...range(10, 20).map(fakeIpa), ...range(10, 20).map(sushy)].sort());
                assert.deepEqual(d.changed, [FIREWALL]);
                assert.deepEqual(d.added, []);
            });

            it("nodes 112 -> 98 (back across the block boundary, mid-batch): the last remaining batch loses hosts", async () => {
                const d = await diff("dev", derived(mode, 112), derived(mode, 98));
                // 98 hosts: batch 19 is hosts 95-97 (it held 95-99); containers 10-19 are left without hosts.
                assert.deepEqual(d.removed, [...range(20, 23).map((i) => batch(mode, i)), ...range(10, 20).map(fakeIpa), ...range(10, 20).map(sushy)].sort());
                assert.deepEqual(d.changed, [batch(mode, 19), FIREWALL].sort());
                assert.deepEqual(d.added, []);
            });
        });
    }

    it("set counts on the study's stack (20 + 20), nodes 1000 -> 1100 -> 1000: batches come and go, nothing else changes", async () => {
        const grown = await diff("scale1000", {}, { nodes: 1100 });
        assert.deepEqual(grown.added, [batch("bmo", 20), batch("bmo", 21)]);
        assert.deepEqual(grown.changed, [], "every container already declares its 100 systems");
        assert.deepEqual(grown.removed, []);
        const shrunk = await diff("scale1000", { nodes: 1100 }, {});
        assert.deepEqual(shrunk.removed, [batch("bmo", 20), batch("bmo", 21)]);
        assert.deepEqual(shrunk.changed, []);
        assert.deepEqual(shrunk.added, []);
    });

    it("changing sushyContainers re-spreads every host: each batch and each container changes, none is replaced by name", async () => {
        const d = await diff("dev", { nodes: 10, sushyContainers: 2, fakeIpaContainers: 1, batchSize: 5 }, { nodes: 10, sushyContainers: 3, fakeIpaContainers: 1, batchSize: 5 });
        assert.deepEqual(d.added, [sushy(2)]);
        assert.deepEqual(d.changed, [batch("bmo", 0), batch("bmo", 1), sushy(0), sushy(1), FIREWALL].sort());
        assert.deepEqual(d.removed, []);
    });

    it("changing a set fakeIpaContainers re-points only the sushy-tools containers whose fake-ipa changes; hosts stay", async () => {
        const d = await diff("dev", { nodes: 10, sushyContainers: 4, fakeIpaContainers: 2, batchSize: 5 }, { nodes: 10, sushyContainers: 4, fakeIpaContainers: 3, batchSize: 5 });
        // Container c notifies fake-ipa c mod F: 0 -> 0, 1 -> 1, 2 -> 0 then 2, 3 -> 1 then 0.
        assert.deepEqual(d.added, [fakeIpa(2)]);
        assert.deepEqual(d.changed, [sushy(2), sushy(3), FIREWALL].sort());
        assert.deepEqual(d.removed, []);
    });
});
