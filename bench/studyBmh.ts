// The study's method of enrolling BareMetalHosts, reproduced for comparison:
// each host applied on its own (its Secret, then its BareMetalHost) by a pool
// of 30 workers, then every host not yet available read with one GET each,
// by the same pool, every 5 s until none is left. No list, no watch.
import { mapBounded, sleep } from "../components/enroll/bounded";
import { applyObject, BareMetalHostBatchInputs, bmhManifest, BmhSpec, secretManifest, secretName } from "../components/enroll/bareMetalHostBatch";
import { KubeClient } from "../components/enroll/kubeClient";

export interface StudyOptions {
    readonly kubeconfig: string;
    readonly namespace: string;
    readonly hosts: readonly BmhSpec[];
    /** Workers for the applies and for each poll round (the study: 30). */
    readonly pool?: number;
    /** Pause between two poll rounds (the study: 5 s). */
    readonly pollMs?: number;
    /** Give up after this long. */
    readonly timeoutMs?: number;
}

export interface StudyRun {
    /** Poll rounds until every host was available. */
    readonly rounds: number;
}

/** Enrolls `hosts` the study's way and returns once every one is `available`. */
export async function studyEnroll(options: StudyOptions): Promise<StudyRun> {
    const pool = options.pool ?? 30;
    const inputs: BareMetalHostBatchInputs = {
        label: `study/${options.namespace}`,
        stack: "study",
        batch: 0,
        namespace: options.namespace,
        kubeconfig: options.kubeconfig,
        hosts: options.hosts,
        bmcUsername: "admin",
        bmcPassword: "bench-password",
        fieldManager: "study",
        targetState: "available",
        timeoutSeconds: (options.timeoutMs ?? 300_000) / 1000,
        concurrency: pool,
        watchTimeoutSeconds: 300,
    };
    const client = await KubeClient.connect({ kubeconfig: options.kubeconfig, maxInFlight: pool });
    const bmhs = `/apis/metal3.io/v1alpha1/namespaces/${options.namespace}/baremetalhosts`;
    const secrets = `/api/v1/namespaces/${options.namespace}/secrets`;
    const end = Date.now() + (options.timeoutMs ?? 300_000);
    try {
        await mapBounded(options.hosts, pool, async (h) => {
            await applyObject(client, secrets, secretName(h.name), secretManifest(inputs, h), inputs.fieldManager);
            await applyObject(client, bmhs, h.name, bmhManifest(inputs, h), inputs.fieldManager);
        });
        let pending = options.hosts.map((h) => h.name);
        let rounds = 0;
        while (pending.length > 0) {
            if (Date.now() > end) throw new Error(`study: ${pending.length} hosts not available after ${options.timeoutMs ?? 300_000} ms`);
            if (rounds > 0) await sleep(options.pollMs ?? 5000);
            rounds++;
            const states = await mapBounded(pending, pool, async (name) => {
                const { data } = await client.request<{ status?: { provisioning?: { state?: string } } }>("GET", `${bmhs}/${name}`);
                return data?.status?.provisioning?.state;
            });
            pending = pending.filter((_, i) => states[i] !== "available");
        }
        return { rounds };
    } finally {
        client.close();
    }
}
