// A dynamic provider exactly as the Pulumi host loads it: declared under mocks,
// its serialized `__provider` input rebuilt with require-from-string.
import * as pulumi from "@pulumi/pulumi";
import requireFromString from "require-from-string";
import { runProgram } from "./mockProgram";

export interface CapturedResource {
    readonly name: string;
    /** Inputs as the provider receives them (secrets unwrapped). */
    readonly inputs: Record<string, any>;
    readonly rawInputs: Record<string, unknown>;
    readonly additionalSecretOutputs: readonly string[];
    readonly provider: Required<Pick<pulumi.dynamic.ResourceProvider, "check" | "diff" | "create" | "read" | "update" | "delete">>;
}

export function rebuildProvider(serialized: string): CapturedResource["provider"] {
    return requireFromString(serialized).handler();
}

/** Declares resources under mocks and returns every dynamic one, rebuilt from its `__provider`. */
export async function captureDynamicResources(declare: () => void, stack = "test"): Promise<CapturedResource[]> {
    const run = await runProgram(declare, { stack, config: {} });
    return run.resources
        .filter((r) => r.type.startsWith("pulumi-nodejs:dynamic"))
        .map((r) => ({ name: r.name, inputs: r.inputs, rawInputs: r.rawInputs, additionalSecretOutputs: r.additionalSecretOutputs, provider: rebuildProvider(r.inputs.__provider) }));
}
