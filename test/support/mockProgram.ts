// Runs a Pulumi program under the mock runtime (pulumi.runtime.setMocks) and
// records every registration as the engine would see it: type, name, URN,
// parent, dependencies, raw inputs (secrets still wrapped) and plain inputs.
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { loadLabConfig } from "../../components/config/load";
import { LAB_HOST_CPUS_ENV } from "../../components/config/defaults";
import { LabConfig } from "../../components/config/types";
import { rawStackConfig } from "../../scripts/stackFiles";

export { rawStackConfig, stackConfig } from "../../scripts/stackFiles";

// The stack files are sized for their lab hosts (scale1000: 20+ CPUs), not for the machine running
// the tests: count the lab host's CPUs as such a host would have them, unless a test says otherwise.
process.env[LAB_HOST_CPUS_ENV] ??= "32";

// Internal runtime pieces the public API does not expose (stable for years in the Node SDK).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const rpc = require("@pulumi/pulumi/runtime/rpc");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const structproto = require("google-protobuf/google/protobuf/struct_pb");

export const SECRET_SIG = "4dabf18193072939515e22adb298388d";
export const SECRET_VALUE_SIG = "1b47061264138c4ac30d75fd1eb44270";

export interface RegisteredResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly custom: boolean;
    readonly parent: string;
    /** URNs this resource depends on (dependsOn and inputs' resources). */
    readonly dependencies: readonly string[];
    /** Inputs as sent to the engine, secrets still wrapped in the secret signature. */
    readonly rawInputs: Record<string, unknown>;
    /** Inputs with secrets unwrapped, as a provider would receive them. */
    readonly inputs: Record<string, any>;
    readonly additionalSecretOutputs: readonly string[];
}

export interface ProgramRun {
    readonly resources: RegisteredResource[];
    readonly outputs: Record<string, unknown>;
    /** Values the mocks generated for secret outputs (passwords, hashes): they must never appear unwrapped. */
    readonly generatedSecrets: readonly string[];
    /** The stack's outputs as sent to the engine, secrets still wrapped in the secret signature. */
    readonly rawOutputs: Record<string, unknown>;
}

export interface RunOptions {
    readonly project?: string;
    readonly stack: string;
    /** Full keys (`project:key`) to text values, as the CLI passes them. */
    readonly config: Record<string, string>;
    readonly preview?: boolean;
}

/** Deterministic stand-in for a provider-generated value (same name, same value). */
function fakeValue(seed: string, length: number): string {
    return createHash("sha256").update(seed).digest("base64url").slice(0, length);
}

/** Outputs the mocks invent for resources whose outputs the program reads. */
function mockOutputs(args: pulumi.runtime.MockResourceArgs, secrets: string[]): Record<string, unknown> {
    const state: Record<string, unknown> = { ...args.inputs };
    if (args.type === "random:index/randomPassword:RandomPassword") {
        const result = fakeValue(`pw:${args.name}`, args.inputs.length ?? 24);
        const bcryptHash = `$2a$10$${fakeValue(`bcrypt:${args.name}`, 53)}`;
        secrets.push(result, bcryptHash);
        Object.assign(state, { result, bcryptHash });
    } else if (args.type === "command:local:Command" || args.type === "command:remote:Command") {
        // A command that prints a kubeconfig (the management cluster's) answers with a minimal one.
        const stdout = String(args.inputs.create ?? "").includes("config view") ? mockKubeconfig(args.name) : "";
        Object.assign(state, { stdout, stderr: "" });
    }
    return state;
}

function mockKubeconfig(name: string): string {
    return [
        "apiVersion: v1",
        "kind: Config",
        `clusters: [{name: ${name}, cluster: {server: "https://192.168.39.10:8443"}}]`,
        `users: [{name: ${name}, user: {token: "${fakeValue(`token:${name}`, 32)}"}}]`,
        `contexts: [{name: ${name}, context: {cluster: ${name}, user: ${name}}}]`,
        `current-context: ${name}`,
    ].join("\n");
}

export async function runProgram(program: () => unknown, options: RunOptions): Promise<ProgramRun> {
    const project = options.project ?? "metal3-scale-lab";
    const resources: RegisteredResource[] = [];
    const generatedSecrets: string[] = [];
    pulumi.runtime.setAllConfig(options.config, []);
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => ({ id: args.custom ? `${args.name}-id` : undefined, state: mockOutputs(args, generatedSecrets) }),
            call: (args) => args.inputs,
        },
        project,
        options.stack,
        options.preview ?? false,
    );
    // Wrap the mock monitor to see what the public mock API hides: parent, dependencies, raw inputs.
    const monitor = settings.getMonitor();
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: (err: unknown, resp: any) => void) => {
        const secretOutputs: string[] = req.getAdditionalsecretoutputsList();
        register(req, (err: unknown, resp: any) => {
            if (!err && resp) {
                const object = req.getObject();
                let rawInputs: Record<string, unknown> | undefined;
                resources.push({
                    urn: resp.getUrn(),
                    type: req.getType(),
                    name: req.getName(),
                    custom: req.getCustom(),
                    parent: req.getParent(),
                    dependencies: req.getDependenciesList(),
                    // A plain copy, made when a test first reads it: a run that only counts resources never pays for it.
                    get rawInputs() {
                        return (rawInputs ??= object?.toJavaScript() ?? {});
                    },
                    inputs: unwrapSecrets(rpc.deserializeProperties(object)),
                    additionalSecretOutputs: secretOutputs,
                });
                // The engine marks additionalSecretOutputs secret; the mock monitor does not, so do it here.
                if (secretOutputs.length > 0) markSecret(resp.getObject(), secretOutputs);
            }
            callback(err, resp);
        });
    };
    let rawOutputs: Record<string, unknown> = {};
    const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
    monitor.registerResourceOutputs = (req: any, callback: (err: unknown, resp: any) => void) => {
        if (String(req.getUrn()).includes("::pulumi:pulumi:Stack::")) rawOutputs = req.getOutputs()?.toJavaScript() ?? {};
        registerOutputs(req, callback);
    };
    const outputs = (await pulumi.runtime.runInPulumiStack(async () => program())) ?? {};
    await settings.waitForRPCs();
    return { resources, outputs, generatedSecrets, rawOutputs };
}

/** Wraps these fields of a registration's state in the secret signature, in place (the rest is not copied). */
function markSecret(state: any, names: readonly string[]): void {
    const fields = state.getFieldsMap();
    for (const name of names) {
        const value = fields.get(name)?.toJavaScript();
        if (value !== undefined && !isSecretWrapper(value)) fields.set(name, structproto.Value.fromJavaScript({ [SECRET_SIG]: SECRET_VALUE_SIG, value }));
    }
}

/** What a provider that does not accept secrets (every dynamic provider) receives from the engine. */
export function unwrapSecrets(value: any): any {
    if (isSecretWrapper(value)) return unwrapSecrets(value.value);
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

export function isSecretWrapper(value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE_SIG;
}

/** Every string inside `value` that is not under a secret wrapper. */
export function plainStrings(value: unknown, out: string[] = []): string[] {
    if (typeof value === "string") out.push(value);
    else if (Array.isArray(value)) value.forEach((v) => plainStrings(v, out));
    else if (value && typeof value === "object" && !isSecretWrapper(value)) Object.values(value).forEach((v) => plainStrings(v, out));
    return out;
}

/** A stack's LabConfig exactly as index.ts would load it. */
export function labConfig(stack: string, overrides: Record<string, unknown> = {}): LabConfig {
    return loadLabConfig(rawStackConfig(stack, overrides), stack);
}
