// Shared fixtures for the cluster-side tests (ironicCluster*, bmo*, capi*):
// LabConfig from the stack files, fake local-registry image refs, and one
// mocked evaluation of the cluster side. Holds no tests itself.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ImageName, ImagesConfig, LabConfig } from "../../components/config/types";
import { ClusterSide, deployClusterSide } from "../../components/capi/clusterSide";
import { ipaImageUrls } from "../../components/registry/ipaImages";
import { ProgramRun, RegisteredResource, isSecretWrapper, plainStrings, runProgram, stackConfig, labConfig } from "./mockProgram";

export const REGISTRY = "172.22.0.1:5000";
/** A kubeconfig the tests pass as a secret: it must never show up in plain text. */
export const FAKE_KUBECONFIG = "apiVersion: v1\nkind: Config\nusers:\n- name: lab\n  user:\n    token: kubeconfig-token-7f3a9c\n";

export { labConfig };

/** `<registry>/localimages/<basename>:<tag>` for every image, as the LocalRegistry hands them out. */
export function fakeImages(images: ImagesConfig): Record<ImageName, string> {
    const out = {} as Record<ImageName, string>;
    for (const [name, ref] of Object.entries(images) as [ImageName, string][]) {
        const [path, tag] = ref.split(/:(?=[^:/]+$)/);
        out[name] = `${REGISTRY}/localimages/${path.slice(path.lastIndexOf("/") + 1)}:${tag}`;
    }
    return out;
}

export interface ClusterRun extends ProgramRun {
    readonly config: LabConfig;
    readonly images: Record<ImageName, string>;
    readonly side: ClusterSide;
    /** `<type>::<name>` -> the explicit `provider` option it was constructed with (its logical name). */
    readonly providers: ReadonlyMap<string, string | undefined>;
}

const cache = new Map<string, Promise<ClusterRun>>();
// The mock runtime is global: evaluations must not overlap.
let queue: Promise<unknown> = Promise.resolve();

/**
 * Evaluates the whole cluster side under mocks for one stack + overrides.
 * Runs are pure data once finished, so the test files share them.
 */
export function runClusterSide(stack: string, overrides: Record<string, unknown> = {}, preview = false): Promise<ClusterRun> {
    const key = JSON.stringify([stack, overrides, preview]);
    if (!cache.has(key)) {
        const next = queue.then(() => evaluate(stack, overrides, preview));
        queue = next.catch(() => undefined);
        cache.set(key, next);
    }
    return cache.get(key)!;
}

async function evaluate(stack: string, overrides: Record<string, unknown>, preview: boolean): Promise<ClusterRun> {
    const config = labConfig(stack, overrides);
    const images = fakeImages(config.images);
    let side: ClusterSide | undefined;
    const providers = new Map<string, string | undefined>();
    const run = await runProgram(
        () => {
            pulumi.runtime.registerStackTransformation((args) => {
                const provider = args.opts.provider as unknown as { __name?: string } | undefined;
                providers.set(`${args.type}::${args.name}`, provider ? (provider.__name ?? "unnamed") : undefined);
                return undefined;
            });
            const provider = new k8s.Provider("management", { kubeconfig: "~/.kube/config", context: "lab" });
            side = deployClusterSide({ config, provider, images, ipaImages: ipaImageUrls(config), kubeconfig: pulumi.secret(FAKE_KUBECONFIG) });
            return {};
        },
        { stack, config: stackConfig(stack, overrides), preview },
    );
    return { ...run, config, images, side: side!, providers };
}

/** Resolves an output of a finished run. */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => resolve(v)));
}

export const ofType = (run: ProgramRun, type: string) => run.resources.filter((r) => r.type === type);
export const byName = (run: ProgramRun, type: string, name: string): RegisteredResource => {
    const found = run.resources.find((r) => r.type === type && r.name === name);
    if (!found) throw new Error(`no ${type} named ${name}`);
    return found;
};
export const component = (r: RegisteredResource): string | undefined => r.inputs.metadata?.labels?.["app.kubernetes.io/component"];

export const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
export const STATEFULSET = "kubernetes:apps/v1:StatefulSet";
export const CONFIGMAP = "kubernetes:core/v1:ConfigMap";
export const SECRET = "kubernetes:core/v1:Secret";
export const SERVICE = "kubernetes:core/v1:Service";
export const NAMESPACE = "kubernetes:core/v1:Namespace";
export const CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate";
export const ISSUER = "kubernetes:cert-manager.io/v1:Issuer";
export const HELM_RELEASE = "kubernetes:helm.sh/v3:Release";
export const CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup";
export const COMMAND = "command:local:Command";

/** Every container (and init container) image of a workload resource. */
export function workloadImages(r: RegisteredResource): string[] {
    const spec = r.inputs.spec?.template?.spec ?? {};
    return [...(spec.initContainers ?? []), ...(spec.containers ?? [])].map((c: { image: string }) => c.image);
}

/** Every generated secret, plus the kubeconfig we passed, that shows up outside a secret wrapper. */
export function leakedSecrets(run: ProgramRun): string[] {
    const secrets = [...run.generatedSecrets, FAKE_KUBECONFIG, "kubeconfig-token-7f3a9c"];
    const leaks: string[] = [];
    for (const r of run.resources) {
        for (const text of plainStrings(r.rawInputs)) {
            for (const s of secrets) if (text.includes(s)) leaks.push(`${r.type} ${r.name}: ${s.slice(0, 8)}...`);
        }
    }
    return leaks;
}

/** Secrets whose data/stringData is not wrapped as a secret in what the engine receives. */
export function unwrappedSecretData(run: ProgramRun): string[] {
    return ofType(run, SECRET)
        .filter((r) => {
            const fields = ["data", "stringData"].filter((f) => r.rawInputs[f] !== undefined);
            return fields.length === 0 || fields.some((f) => !isSecretWrapper(r.rawInputs[f]));
        })
        .map((r) => r.name);
}
