// Host-by-host comparison of a batch's old and new host lists: what makes a
// batch change is its hosts, and a change is always an update, never a replace.

export interface NamedHost {
    readonly name: string;
}

export interface HostDiff<H extends NamedHost> {
    readonly added: H[];
    readonly removed: H[];
    /** New specs of hosts whose spec changed. */
    readonly changed: H[];
    readonly unchanged: H[];
}

/** Key-order-independent JSON, so a re-ordered object is not a change. */
export function canonicalJson(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
    if (value && typeof value === "object") {
        const entries = Object.entries(value as Record<string, unknown>)
            .filter(([, v]) => v !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
    }
    return JSON.stringify(value);
}

export function diffHosts<H extends NamedHost>(olds: readonly H[], news: readonly H[]): HostDiff<H> {
    const before = new Map(olds.map((h) => [h.name, h]));
    const after = new Set(news.map((h) => h.name));
    const added: H[] = [];
    const changed: H[] = [];
    const unchanged: H[] = [];
    for (const host of news) {
        const old = before.get(host.name);
        if (!old) added.push(host);
        else if (canonicalJson(old) !== canonicalJson(host)) changed.push(host);
        else unchanged.push(host);
    }
    const removed = olds.filter((h) => !after.has(h.name));
    return { added, removed, changed, unchanged };
}

export function isEmptyDiff(diff: HostDiff<NamedHost>): boolean {
    return diff.added.length === 0 && diff.removed.length === 0 && diff.changed.length === 0;
}
