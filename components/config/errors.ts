// Config problems are collected, never thrown one by one: the user fixes them
// all in one go, before any resource is declared.

export interface ConfigIssue {
    /** Full key as the user writes it, e.g. `metal3-scale-lab:network.provisioningCidr`. */
    readonly key: string;
    readonly value: unknown;
    /** What is allowed, phrased to finish "must ...". */
    readonly allowed: string;
}

export class LabConfigError extends Error {
    constructor(readonly issues: readonly ConfigIssue[]) {
        super(
            `Invalid stack config (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n` +
                issues.map((i) => `  - ${i.key} = ${showValue(i.value)}: must ${i.allowed}`).join("\n"),
        );
        this.name = "LabConfigError";
    }
}

export function showValue(value: unknown): string {
    if (value === undefined) return "(unset)";
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
