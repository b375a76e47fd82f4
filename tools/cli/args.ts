// Command-line flags of the tools: `--name value`, `--name=value`, switches, and list flags
// (`--compare a b c`) that take every value up to the next flag.

export interface FlagSpec {
    readonly values?: readonly string[];
    readonly lists?: readonly string[];
    readonly switches?: readonly string[];
}

export interface Parsed {
    readonly values: Readonly<Record<string, string>>;
    readonly lists: Readonly<Record<string, readonly string[]>>;
    readonly switches: ReadonlySet<string>;
}

export function parseArgs(argv: readonly string[], spec: FlagSpec): Parsed {
    const values: Record<string, string> = {};
    const lists: Record<string, string[]> = {};
    const switches = new Set<string>();
    for (let i = 0; i < argv.length; i++) {
        const m = /^--([a-z][a-z-]*)(?:=(.*))?$/.exec(argv[i]);
        if (!m) throw new Error(`unexpected argument ${argv[i]}`);
        const [, name, inline] = m;
        if (spec.switches?.includes(name)) {
            if (inline !== undefined) throw new Error(`--${name} takes no value`);
            switches.add(name);
        } else if (spec.values?.includes(name)) {
            const v = inline ?? argv[++i];
            if (v === undefined || v.startsWith("--")) throw new Error(`--${name} needs a value`);
            values[name] = v;
        } else if (spec.lists?.includes(name)) {
            const items = inline !== undefined ? inline.split(",").filter(Boolean) : [];
            while (inline === undefined && i + 1 < argv.length && !argv[i + 1].startsWith("--")) items.push(argv[++i]);
            if (items.length === 0) throw new Error(`--${name} needs at least one value`);
            lists[name] = [...(lists[name] ?? []), ...items];
        } else {
            throw new Error(`unknown flag --${name}`);
        }
    }
    return { values, lists, switches };
}
