// Python literals for the conf.py files sushy-tools and fake-ipa exec (pure).
// Output is pure ASCII: anything else is escaped, so no coding line is needed.

export type PyValue = string | number | boolean | null | readonly PyValue[] | { readonly [key: string]: PyValue };

/** A Python string literal: single-quoted, with every non-printable or non-ASCII character escaped. */
export function pyString(value: string): string {
    let out = "'";
    for (const ch of value) {
        const code = ch.codePointAt(0)!;
        if (ch === "\\") out += "\\\\";
        else if (ch === "'") out += "\\'";
        else if (ch === "\n") out += "\\n";
        else if (ch === "\r") out += "\\r";
        else if (ch === "\t") out += "\\t";
        else if (code >= 0x20 && code < 0x7f) out += ch;
        else if (code <= 0xff) out += `\\x${code.toString(16).padStart(2, "0")}`;
        else if (code <= 0xffff) out += `\\u${code.toString(16).padStart(4, "0")}`;
        else out += `\\U${code.toString(16).padStart(8, "0")}`;
    }
    return out + "'";
}

/** A Python literal for JSON-like data (True/False/None, lists, dicts with string keys). */
export function pyLiteral(value: PyValue): string {
    if (value === null) return "None";
    if (typeof value === "boolean") return value ? "True" : "False";
    if (typeof value === "number") {
        if (!Number.isFinite(value)) throw new Error(`no Python literal for ${value}`);
        return String(value);
    }
    if (typeof value === "string") return pyString(value);
    if (Array.isArray(value)) return `[${value.map(pyLiteral).join(", ")}]`;
    const entries = Object.entries(value as { [key: string]: PyValue });
    return `{${entries.map(([k, v]) => `${pyString(k)}: ${pyLiteral(v)}`).join(", ")}}`;
}

/** `NAME = literal` lines of a Python config module. */
export function pyAssignments(settings: Readonly<Record<string, PyValue>>): string {
    return Object.entries(settings)
        .map(([key, value]) => {
            if (!/^[A-Z_][A-Z0-9_]*$/.test(key)) throw new Error(`not a config variable name: ${key}`);
            return `${key} = ${pyLiteral(value)}`;
        })
        .join("\n");
}
