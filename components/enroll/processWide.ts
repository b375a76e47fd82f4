// State every dynamic provider of one Pulumi provider process shares (node pollers, request slots).
// Module variables are not shared: each batch's provider may be its own copy of a module (one per
// distinct `__provider` text). globalThis is, so copies find each other there.

/** The process-wide record named `name` (versioned, e.g. "metal3-scale-lab/ironic-node-pollers/1"): made on first use. */
export function processWide<T>(name: string): Record<string, T> {
    const g = globalThis as unknown as Record<string, Record<string, T> | undefined>;
    return (g[name] ??= {});
}
