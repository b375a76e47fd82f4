// BareMetalHostBatch providers as the Pulumi host runs them: declared under
// the mock runtime, each rebuilt from its captured `__provider`, ready to be
// created against a Kubernetes API test server (bench sections share this);
// and the same batches' applies alone, the least a provider must send.
import { applyObject, BareMetalHostBatch, BareMetalHostBatchInputs, bmhManifest, secretManifest, secretName } from "../components/enroll/bareMetalHostBatch";
import { mapBounded } from "../components/enroll/bounded";
import { MANAGED_BY } from "../components/enroll/kubeBatchArgs";
import { KubeClient } from "../components/enroll/kubeClient";
import { bmhSpecs } from "../test/support/bmhSpecs";
import { rebuildProvider } from "../test/support/capturedProvider";
import { runProgram } from "../test/support/mockProgram";

export interface RebuiltBatch {
    readonly provider: ReturnType<typeof rebuildProvider>;
    readonly inputs: Record<string, any>;
}

export interface BmhBatchesOptions {
    readonly kubeconfig: string;
    readonly namespace: string;
    readonly hosts: number;
    /** Hosts per batch (default 50, the stack's batchSize). */
    readonly batchSize?: number;
    /** The run record's directory ("" records nothing). */
    readonly runDir?: string;
    /** Default 300. */
    readonly timeoutSeconds?: number;
}

/** `hosts` hosts named `<namespace>-host-NNNNN` in batches of `batchSize`, labelled `bench/<namespace>-<b>`. */
export async function bmhBatches(options: BmhBatchesOptions): Promise<RebuiltBatch[]> {
    const size = options.batchSize ?? 50;
    const specs = bmhSpecs(options.namespace, options.hosts, 0x31);
    const run = await runProgram(
        () => {
            for (let b = 0; b * size < specs.length; b++) {
                new BareMetalHostBatch(`${options.namespace}-${b}`, {
                    kubeconfig: options.kubeconfig,
                    namespace: options.namespace,
                    batch: b,
                    label: `bench/${options.namespace}-${b}`,
                    bmcUsername: "admin",
                    bmcPassword: "bench-password",
                    timeoutSeconds: options.timeoutSeconds ?? 300,
                    runDir: options.runDir ?? "",
                    hosts: specs.slice(b * size, (b + 1) * size),
                });
            }
        },
        { stack: "bench", config: {} },
    );
    return run.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic")).map((r) => ({ provider: rebuildProvider(r.inputs.__provider), inputs: r.inputs }));
}

/** Creates every batch at once, their progress lines kept off the console. */
export async function createAll(batches: readonly RebuiltBatch[]): Promise<void> {
    const log = console.log;
    console.log = () => undefined;
    try {
        await Promise.all(batches.map((b) => b.provider.create(b.inputs)));
    } finally {
        console.log = log;
    }
}

/**
 * What the batches send and nothing else: each batch's hosts applied (Secret, then BareMetalHost) by
 * `concurrency` workers of its own client, all batches at once; no list, no watch, no bookkeeping.
 */
export async function applyOnly(options: BmhBatchesOptions & { readonly concurrency?: number }): Promise<void> {
    const size = options.batchSize ?? 50;
    const specs = bmhSpecs(options.namespace, options.hosts, 0x31);
    const base = { stack: "bench", namespace: options.namespace, bmcUsername: "admin", bmcPassword: "bench-password" };
    const bmhs = `/apis/metal3.io/v1alpha1/namespaces/${options.namespace}/baremetalhosts`;
    const secrets = `/api/v1/namespaces/${options.namespace}/secrets`;
    const batches = Array.from({ length: Math.ceil(specs.length / size) }, (_, b) => specs.slice(b * size, (b + 1) * size));
    await Promise.all(
        batches.map(async (hosts, b) => {
            const inputs = { ...base, batch: b, label: `bench/${options.namespace}-${b}` } as BareMetalHostBatchInputs;
            const client = await KubeClient.connect({ kubeconfig: options.kubeconfig, maxInFlight: options.concurrency ?? 10 });
            try {
                await mapBounded(hosts, options.concurrency ?? 10, async (h) => {
                    await applyObject(client, secrets, secretName(h.name), secretManifest(inputs, h), MANAGED_BY);
                    await applyObject(client, bmhs, h.name, bmhManifest(inputs, h), MANAGED_BY);
                });
            } finally {
                client.close();
            }
        }),
    );
}
