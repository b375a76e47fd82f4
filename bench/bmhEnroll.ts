// BareMetalHost batches against the simulated BMO at a fixed pace: the
// providers (rebuilt from `__provider`, batches of 50, all in flight) against
// the study's method (studyBmh.ts), each measured against the time the
// simulated BMO itself needs for the same hosts — its pace — in the same round.
import { bmhSpecs } from "../test/support/bmhSpecs";
import { applyOnly, bmhBatches, createAll } from "./bmhBatches";
import { BMO_PACE, BmhLab, LAB_NAMESPACE, LabResult } from "./bmhLab";
import { Bench, fmt, median, min, table } from "./section";
import { studyEnroll } from "./studyBmh";

/** store: hosts written into BMO's store (no HTTP); pace: the batches' applies alone; then the two methods. */
type Method = "store" | "pace" | "provider" | "study";

interface Run {
    readonly ms: number;
    /** ms from the start until the simulated BMO set the last host `available`. */
    readonly bmoDoneMs: number;
    readonly lab: LabResult;
    /** CPU of this (the provider's) process during the run. */
    readonly cpuMs: number;
    /** Epoch ms of the start. */
    readonly startAt: number;
}

const now = () => performance.timeOrigin + performance.now();

/** One run on a fresh server and BMO. */
async function measure(lab: BmhLab, method: Method, hosts: number): Promise<Run> {
    const kubeconfig = await lab.reset();
    if (method === "store") {
        const ms = await lab.pace(hosts);
        return { ms, bmoDoneMs: ms, lab: await lab.result(), cpuMs: 0, startAt: 0 };
    }
    const batches = method === "provider" ? await bmhBatches({ kubeconfig, namespace: LAB_NAMESPACE, hosts }) : [];
    const specs = bmhSpecs(LAB_NAMESPACE, hosts, 0x31);
    const cpu = process.cpuUsage();
    const start = now();
    if (method === "provider") await createAll(batches);
    else if (method === "study") await studyEnroll({ kubeconfig, namespace: LAB_NAMESPACE, hosts: specs });
    else await applyOnly({ kubeconfig, namespace: LAB_NAMESPACE, hosts }).then(() => lab.available(hosts));
    // The pace ends when BMO says so (its own clock), the methods when they return.
    const end = method === "pace" ? (await lab.result()).lastAvailableAt : now();
    const used = process.cpuUsage(cpu);
    const result = await lab.result();
    if (result.available < hosts) throw new Error(`${method}: ${result.available} of ${hosts} hosts available at the end`);
    return { ms: end - start, bmoDoneMs: result.lastAvailableAt - start, lab: result, cpuMs: (used.user + used.system) / 1000, startAt: start };
}

/** Targets of issue 11 for the provider. */
const TARGET = { requestsPerHost: 3, overPace: 0.05 };

const pct = (x: number) => `${fmt(100 * x, 1)} %`;

type Timed = Exclude<Method, "store">;

/** One round: the pace and both methods once, in a rotated order so that warm-up and drift fall on each alike. */
async function round(lab: BmhLab, hosts: number, r: number): Promise<Record<Timed, Run>> {
    const methods: Timed[] = ["pace", "provider", "study"];
    const out: Partial<Record<Timed, Run>> = {};
    for (const m of methods.map((_, i) => methods[(i + r) % methods.length])) out[m] = await measure(lab, m, hosts);
    return out as Record<Timed, Run>;
}

function describe(name: string, run: Run, hosts: number): string {
    return `${name} ${fmt(run.ms)} ms (all handed to BMO at ${fmt(run.lab.lastCreatedAt - run.startAt)}, BMO's last available at ${fmt(run.bmoDoneMs)}, ${fmt(run.lab.requests / hosts, 2)} req/host, cpu ${fmt(run.cpuMs)} ms, lab cpu ${fmt(run.lab.cpuMs)} ms)`;
}

export const bmhEnroll: Bench = async (ctx) => {
    const hosts = ctx.quick ? 200 : 1000;
    // Two rounds: the whole bench's 15 minutes (each round enrolls every host three times).
    const rounds = 2;
    const runs: Record<Method, Run[]> = { store: [], pace: [], provider: [], study: [] };
    const lab = BmhLab.start();
    try {
        // Once: what HTTP costs BMO here (the API server shares BMO's process and this machine's cores).
        runs.store.push(await measure(lab, "store", hosts));
        ctx.log(`bmh: BMO alone (hosts written into its store) ${fmt(runs.store[0].ms)} ms`);
        for (let r = 0; r < rounds; r++) {
            const got = await round(lab, hosts, r);
            for (const m of Object.keys(got) as Timed[]) runs[m].push(got[m]);
            ctx.log(`bmh round ${r + 1}/${rounds}: pace ${fmt(got.pace.ms)} ms; ${describe("provider", got.provider, hosts)}; ${describe("study", got.study, hosts)}`);
        }
    } finally {
        await lab.stop();
    }
    // Over pace: each run against the pace measured in its own round.
    const over = (m: Method) => runs[m].map((x, i) => x.ms / runs.pace[i].ms - 1);
    const perHost = (m: Method) => median(runs[m].map((x) => x.lab.requests / hosts));
    const row = (name: string, m: Method): string[] => {
        const ms = runs[m].map((x) => x.ms);
        if (m === "store") return [name, fmt(min(ms)), fmt(median(ms)), "—", "—", "—", "—", "—"];
        if (m === "pace") return [name, fmt(min(ms)), fmt(median(ms)), "—", "—", fmt(median(runs[m].map((x) => x.lab.lastCreatedAt - x.startAt))), "—", fmt(perHost(m), 2)];
        return [
            name,
            fmt(min(ms)),
            fmt(median(ms)),
            pct(min(over(m))),
            pct(median(over(m))),
            fmt(median(runs[m].map((x) => x.lab.lastCreatedAt - x.startAt))),
            fmt(median(runs[m].map((x) => x.ms - x.bmoDoneMs))),
            fmt(perHost(m), 2),
        ];
    };
    const provider = { over: median(over("provider")), requests: perHost("provider") };
    const verdict = [
        provider.requests <= TARGET.requestsPerHost
            ? `Requests per host: ${fmt(provider.requests, 2)}, target ≤ ${TARGET.requestsPerHost} met.`
            : `Requests per host: ${fmt(provider.requests, 2)}, target ≤ ${TARGET.requestsPerHost} missed by ${fmt(provider.requests - TARGET.requestsPerHost, 2)}.`,
        provider.over <= TARGET.overPace
            ? `Time over pace (median): ${pct(provider.over)}, target ≤ ${pct(TARGET.overPace)} met.`
            : `Time over pace (median): ${pct(provider.over)}, target ≤ ${pct(TARGET.overPace)} missed by ${fmt(100 * (provider.over - TARGET.overPace), 1)} points: ` +
              "the columns show where it went: hosts handed to BMO later than by the applies alone, BMO slowed by serving the batches' lists and watches (the API server shares its process), " +
              "or the provider returning late after BMO's last host; this machine's other load stretches all of them.",
    ];
    return {
        title: "BareMetalHost batches (simulated BMO)",
        markdown: [
            `${hosts} hosts against the Kubernetes API test server with the simulated BMO at a fixed pace: BMO_CONCURRENCY ${BMO_PACE.concurrency} workers, ` +
                `each transition holding one for its delay (registering ${BMO_PACE.delays.registering} ms, inspecting ${BMO_PACE.delays.inspecting} ms, preparing ${BMO_PACE.delays.preparing} ms, power ${BMO_PACE.delays.power} ms, ±20 % jitter). ` +
                "The API server and BMO run in a process of their own (bench/bmhLab.ts), as a management cluster does; a fresh one for every run.",
            "",
            "- **BMO's own pace**: the batches' applies and nothing else (each batch's hosts, Secret then BareMetalHost, by 10 workers of its own client, all batches at once; no list, watch or bookkeeping), " +
                "timed until BMO sets the last host `available` by BMO's own store events: the least time BMO needs for these hosts given its delays and workers once they are handed to it through the API. " +
                "Once per section, for scale, the same hosts written straight into the store (no HTTP): **BMO alone**.",
            "- **BareMetalHostBatch**: the providers rebuilt from `__provider` (batches of 50, all created at once, the stack's defaults otherwise), timed from `create` to the last one returning.",
            "- **study's method** (bench/studyBmh.ts): each host's Secret then BareMetalHost applied on its own by a pool of 30, then every host not yet available read with one GET each (same pool) every 5 s.",
            "",
            `Each run's time is compared with the pace of its own round (${rounds} rounds, order rotated each round); min and median over the rounds. ` +
                "\"handed to BMO\": when the last BareMetalHost existed; \"returned after BMO\": from BMO's last host `available` to the method noticing it and returning.",
            "",
            table(
                ["method", "time min (ms)", "time median (ms)", "over pace min", "over pace median", "handed to BMO (ms, median)", "returned after BMO (ms, median)", "requests per host"],
                [
                    row("BMO alone (hosts written into its store; once)", "store"),
                    row("simulated BMO's own pace (the applies alone)", "pace"),
                    row("BareMetalHostBatch (batches of 50, all in flight)", "provider"),
                    row("study's method (per-host apply, GET per host every 5 s, pool of 30)", "study"),
                ],
            ),
            "",
            ...verdict,
            ...(min(over("provider")) < -0.02 || min(over("study")) < -0.02
                ? ["", "A method faster than its round's pace means that pace run was itself slowed (by this machine's other load): the time ratios of this run are noise-bound; the requests per host are not."]
                : []),
        ].join("\n"),
    };
};
