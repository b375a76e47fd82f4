// What `pulumi preview --diff` would show between two evaluations of the
// program: URNs added and removed, and resources whose provider would report a
// change — input comparison for ordinary providers, the provider's own diff()
// for dynamic resources (exactly what the engine asks them).
import { canonicalJson } from "../../components/enroll/hostDiff";
import { rebuildProvider } from "./capturedProvider";
import { ProgramRun, RegisteredResource } from "./mockProgram";

export interface PreviewDiff {
    readonly added: string[];
    readonly removed: string[];
    readonly changed: string[];
}

/** URN without the stack/project prefix: `type::name` chain, easier to read in assertions. */
export function shortUrn(urn: string): string {
    return urn.split("::").slice(2).join("::");
}

function comparableInputs(r: RegisteredResource): string {
    const { __provider, ...rest } = r.rawInputs as Record<string, unknown>;
    void __provider;
    return canonicalJson(rest);
}

export async function previewDiff(before: ProgramRun, after: ProgramRun): Promise<PreviewDiff> {
    const olds = new Map(before.resources.map((r) => [r.urn, r]));
    const news = new Map(after.resources.map((r) => [r.urn, r]));
    const added = [...news.keys()].filter((u) => !olds.has(u));
    const removed = [...olds.keys()].filter((u) => !news.has(u));
    const changed: string[] = [];
    for (const [urn, next] of news) {
        const prev = olds.get(urn);
        if (!prev) continue;
        if (next.type.startsWith("pulumi-nodejs:dynamic")) {
            const provider = rebuildProvider(next.inputs.__provider);
            // The engine hands diff() the old outputs: the old inputs plus a finished status.
            const oldOuts = { ...prev.inputs, status: { ready: true, counts: {}, failures: [], updatedAt: "" } };
            const result = await provider.diff!(urn, oldOuts, next.inputs);
            if (result.changes) changed.push(urn);
        } else if (comparableInputs(prev) !== comparableInputs(next)) {
            changed.push(urn);
        }
    }
    return { added: added.map(shortUrn).sort(), removed: removed.map(shortUrn).sort(), changed: changed.map(shortUrn).sort() };
}
