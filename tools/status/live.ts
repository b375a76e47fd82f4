// What the lab's APIs say right now, beside the record: `npm run status` asks
// them when told how (--ironic, --kubeconfig) and they answer. Read-only: one
// node list from Ironic (the nodes of this stack's batches, by their marker),
// one BareMetalHost and one Cluster list from Kubernetes (by the stack label).
// An API that does not answer is a line saying so, never a failed status.
import { labelValue, LABELS } from "../../components/enroll/bareMetalHostBatch";
import { IronicClient } from "../../components/enroll/ironicApi";
import { batchMarker } from "../../components/enroll/ironicNodeBatch";
import { KubeClient } from "../../components/enroll/kubeClient";
import type { UnitKind } from "../record/events";

/** `pulumi stack output ironicApi --show-secrets --json`, as README writes it to ironic.json. */
export interface IronicAccess {
    readonly endpoints: readonly string[];
    readonly username: string;
    readonly password: string;
    readonly caCertPem?: string;
}

export interface LiveSources {
    readonly ironic?: IronicAccess;
    /** Kubeconfig YAML text of the management cluster. */
    readonly kubeconfig?: string;
}

export interface LiveCount {
    /** e.g. "Ironic nodes", "BareMetalHosts", "Clusters". */
    readonly source: string;
    readonly unit: UnitKind;
    /** State -> count, most first; empty with `error`. */
    readonly states: readonly (readonly [string, number])[];
    /** Why the API could not be read. */
    readonly error?: string;
}

/** Longest wait for one API: status must keep refreshing. */
export const LIVE_TIMEOUT_MS = 5_000;

function tally(states: readonly string[]): [string, number][] {
    const counts = new Map<string, number>();
    for (const s of states) counts.set(s, (counts.get(s) ?? 0) + 1);
    return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

function within<T>(ms: number, work: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

function reason(err: unknown): string {
    return (err instanceof Error ? err.message : String(err)).split("\n")[0];
}

/** Provision state per node of the stack's batches; "(maintenance)" marks nodes held there. */
async function ironicCounts(stack: string, access: IronicAccess): Promise<LiveCount> {
    // One attempt: a status that retries for a minute shows nothing meanwhile.
    const client = new IronicClient({ endpoints: [...access.endpoints], username: access.username, password: access.password, caPem: access.caCertPem ?? "", apiVersion: "1.81" }, 1);
    try {
        // The marker of a label `<stack>/...`, without its closing bracket: every batch of the stack.
        const nodes = await within(LIVE_TIMEOUT_MS, client.listNodes(batchMarker(`${stack}/`).slice(0, -1)));
        return { source: "Ironic nodes", unit: "hosts", states: tally(nodes.map((n) => (n.maintenance ? `${n.provision_state} (maintenance)` : n.provision_state))) };
    } catch (err) {
        return { source: "Ironic nodes", unit: "hosts", states: [], error: reason(err) };
    } finally {
        client.close();
    }
}

interface Listed {
    readonly status?: { provisioning?: { state?: string }; operationalStatus?: string; phase?: string };
}

async function kubeCounts(stack: string, kubeconfig: string): Promise<LiveCount[]> {
    const selector = `${LABELS.stack}=${labelValue(stack)}`;
    let client: KubeClient | undefined;
    try {
        client = await KubeClient.connect({ kubeconfig, maxAttempts: 1, requestTimeoutMs: LIVE_TIMEOUT_MS });
        const hosts = await within(LIVE_TIMEOUT_MS, client.list<Listed>("/apis/metal3.io/v1alpha1/baremetalhosts", { labelSelector: selector }));
        const counts: LiveCount[] = [
            {
                source: "BareMetalHosts",
                unit: "hosts",
                states: tally(hosts.list.items.map((h) => `${h.status?.provisioning?.state || "no state yet"}${h.status?.operationalStatus === "error" ? " (error)" : ""}`)),
            },
        ];
        // No Cluster API (bmo mode): 404, nothing to show.
        const clusters = await within(LIVE_TIMEOUT_MS, client.list<Listed>("/apis/cluster.x-k8s.io/v1beta2/clusters", { labelSelector: selector }, [404]));
        if (clusters.status !== 404) counts.push({ source: "Clusters", unit: "clusters", states: tally(clusters.list.items.map((c) => c.status?.phase || "no phase yet")) });
        return counts;
    } catch (err) {
        return [{ source: "BareMetalHosts", unit: "hosts", states: [], error: reason(err) }];
    } finally {
        client?.close();
    }
}

/** Every source given, asked at once. */
export async function liveCounts(stack: string, sources: LiveSources): Promise<LiveCount[]> {
    const asked = await Promise.all([sources.ironic ? ironicCounts(stack, sources.ironic).then((c) => [c]) : [], sources.kubeconfig ? kubeCounts(stack, sources.kubeconfig) : []]);
    return asked.flat();
}

export function formatLive(counts: readonly LiveCount[]): string[] {
    return counts.map((c) => {
        if (c.error !== undefined) return `live ${c.source}: not reachable (${c.error})`;
        const total = c.states.reduce((sum, [, n]) => sum + n, 0);
        return `live ${c.source}: ${total} ${c.unit}${total > 0 ? `: ${c.states.map(([s, n]) => `${s} ${n}`).join(", ")}` : ""}`;
    });
}
