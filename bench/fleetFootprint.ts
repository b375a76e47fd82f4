// Fleet footprint: fake-system entries over every sushy-tools conf.py of the
// 1000-host stack (Pulumi.scale1000.yaml), counted in the configs the fleet
// renders (components/fleet/sushyFleet.ts sushyPlan + renderSushyConf), against
// the study's fleet where every container is given every host, rendered by the
// same renderer.
import { loadLabConfig } from "../components/config/load";
import { fakeSystem, renderSushyConf, sushyPlan } from "../components/fleet/sushyFleet";
import { buildInventory } from "../components/inventory/inventory";
import { rawStackConfig } from "../scripts/stackFiles";
import { Bench, fmt, table } from "./section";

export const FLEET_STACK = "scale1000";

export interface ConfCount {
    /** Fake-system entries in SUSHY_EMULATOR_FAKE_SYSTEMS. */
    readonly entries: number;
    /** Entries whose host is among the stack's `nodes` hosts. */
    readonly live: number;
    readonly bytes: number;
    /** Host names of the live entries. */
    readonly liveNames: readonly string[];
}

/** Counts the fake systems a rendered conf.py declares, reading the text itself. */
export function countFakeSystems(conf: string, liveNames: ReadonlySet<string>): ConfCount {
    const list = conf.split("SUSHY_EMULATOR_FAKE_SYSTEMS = [\n")[1]?.split("\n]")[0];
    if (list === undefined) throw new Error("no SUSHY_EMULATOR_FAKE_SYSTEMS list in the conf");
    const names = list
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => /'name': '([^']+)'/.exec(line)?.[1] ?? "");
    const liveHere = names.filter((n) => liveNames.has(n));
    return { entries: names.length, live: liveHere.length, bytes: Buffer.byteLength(conf), liveNames: liveHere };
}

function sum(counts: readonly ConfCount[]): ConfCount {
    return counts.reduce((a, c) => ({ entries: a.entries + c.entries, live: a.live + c.live, bytes: a.bytes + c.bytes, liveNames: [...a.liveNames, ...c.liveNames] }), {
        entries: 0,
        live: 0,
        bytes: 0,
        liveNames: [] as string[],
    });
}

export const fleetFootprint: Bench = async (ctx) => {
    const cfg = loadLabConfig(rawStackConfig(FLEET_STACK), FLEET_STACK);
    const hosts = buildInventory(cfg);
    const live = new Set(hosts.map((h) => h.name));
    const plans = sushyPlan(cfg, hosts);
    const ours = plans.map((p) => countFakeSystems(renderSushyConf(p), live));
    // The study: the same containers, each with every host of the lab.
    const everyHost = hosts.map(fakeSystem);
    const study = plans.map((p) => countFakeSystems(renderSushyConf({ ...p, systems: everyHost }), live));
    const [o, s] = [sum(ours), sum(study)];
    const once = new Set(o.liveNames).size === o.live && o.live === cfg.nodes;
    ctx.log(`fleet ${cfg.nodes} hosts, ${plans.length} sushy-tools containers: ${o.entries} entries (${o.live} live) vs the study's ${s.entries}`);
    const perContainer = (c: readonly ConfCount[]) => `${Math.min(...c.map((x) => x.entries))}-${Math.max(...c.map((x) => x.entries))}`;
    const rows = [
        ["this lab (each container its own hosts)", String(o.entries), String(o.live), perContainer(ours), fmt(o.bytes / 1024, 0), fmt(o.entries / cfg.nodes, 2)],
        ["the study (every container all hosts)", String(s.entries), String(s.live), perContainer(study), fmt(s.bytes / 1024, 0), fmt(s.entries / cfg.nodes, 2)],
    ];
    const markdown = [
        `The ${FLEET_STACK} stack (${cfg.nodes} hosts, ${plans.length} sushy-tools containers, hostsPerSushy ${cfg.hostsPerSushy}): fake-system ` +
            `entries counted in each rendered conf.py. Each of our containers declares its whole fixed share of ${cfg.hostsPerSushy} slots ` +
            `(so that growing the lab never re-renders a running container); "live" entries are hosts the stack has.`,
        "",
        table(["fleet", "fake-system entries", "live entries", "per container", "conf.py total (KiB)", "entries per host"], rows),
        "",
        `Our fleet declares ${fmt(s.entries / o.entries, 1)}x fewer entries than the study's: ${fmt(o.entries / cfg.nodes, 2)} per host ` +
            `(slots for growth included) against ${s.entries / cfg.nodes} copies of every host there. Target (each host in exactly one container): ` +
            (once ? "met." : `missed: ${new Set(o.liveNames).size} distinct live hosts in ${o.live} live entries for ${cfg.nodes} hosts.`),
    ].join("\n");
    return { title: "Fleet footprint", markdown };
};
