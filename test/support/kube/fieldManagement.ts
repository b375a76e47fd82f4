/** Server-side apply bookkeeping: managedFields (FieldsV1), ownership, apply merge. */
import { KObj, clone, deepEqual, deepFreeze, isPlainObject } from './objects';
import type { ListType } from './registry';

export const SEP = '\u0001';
export const NON_OWNED_META = new Set([
    'name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
    'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink',
]);

export type Scope = 'main' | 'status' | 'all';

export interface ManagerEntry {
    manager: string;
    operation: 'Apply' | 'Update';
    subresource: string;
    apiVersion: string;
    time: string;
    fields: Set<string>;
    /** cached FieldsV1 rendering of `fields` (cleared whenever fields change) */
    rendered?: Record<string, any>;
}

export const managerKey = (m: { manager: string; operation: string; subresource: string }) => `${m.manager}\u0000${m.operation}\u0000${m.subresource}`;

/** Flattens an object into owned leaf paths (segments joined by SEP) → value. */
export function flattenFields(obj: KObj, scope: Scope, listTypes: Record<string, ListType>): Map<string, unknown> {
    const out = new Map<string, unknown>();
    const walk = (path: string, names: string, value: unknown) => {
        if (value === null || value === undefined) return;
        if (isPlainObject(value)) {
            let empty = true;
            for (const k in value) {
                empty = false;
                walk(`${path}${SEP}f:${k}`, `${names}.${k}`, value[k]);
            }
            if (empty) out.set(path, value);
            return;
        }
        if (Array.isArray(value) && value.length > 0) {
            const lt = listTypes[names];
            if (lt) {
                if (lt.type === 'set') {
                    for (const item of value) out.set(`${path}${SEP}v:${JSON.stringify(item)}`, item);
                    return;
                }
                if (value.every((item) => isPlainObject(item) && item[lt.key] !== undefined)) {
                    for (const item of value) out.set(`${path}${SEP}k:${JSON.stringify({ [lt.key]: item[lt.key] })}`, item);
                    return;
                }
            }
        }
        out.set(path, value);
    };
    for (const k in obj) {
        const v = obj[k];
        if (k === 'apiVersion' || k === 'kind') continue;
        if (scope === 'main' && k === 'status') continue;
        if (scope === 'status' && k !== 'status') continue;
        if (k === 'metadata') {
            if (!isPlainObject(v)) continue;
            for (const mk in v) {
                if (NON_OWNED_META.has(mk)) continue;
                walk(`f:metadata${SEP}f:${mk}`, `metadata.${mk}`, v[mk]);
            }
            continue;
        }
        walk(`f:${k}`, k, v);
    }
    return out;
}

/** Renders leaf paths as a FieldsV1 tree. */
export function renderFieldsV1(fields: Set<string>): Record<string, any> {
    const root: Record<string, any> = {};
    for (const p of [...fields].sort()) {
        let node = root;
        const segs = p.split(SEP);
        for (let i = 0; i < segs.length; i++) {
            const seg = segs[i];
            node = node[seg] ??= {};
            if (i === segs.length - 1 && seg.startsWith('k:')) node['.'] = {};
        }
    }
    return deepFreeze(root);
}

/** Removes the field at a leaf path in place; prunes containers that become empty. */
export function removeFieldPath(obj: any, p: string): void {
    const segs = p.split(SEP);
    const chain: any[] = [obj];
    let cur = obj;
    for (let i = 0; i < segs.length - 1; i++) {
        if (!segs[i].startsWith('f:') || !isPlainObject(cur)) return;
        cur = cur[segs[i].slice(2)];
        if (cur === undefined) return;
        chain.push(cur);
    }
    const last = segs[segs.length - 1];
    if (last.startsWith('f:')) {
        if (isPlainObject(cur)) delete cur[last.slice(2)];
    } else if (Array.isArray(cur)) {
        const spec = JSON.parse(last.slice(2));
        const idx = last.startsWith('v:')
            ? cur.findIndex((x) => deepEqual(x, spec))
            : cur.findIndex((x) => isPlainObject(x) && Object.entries(spec).every(([k, v]) => deepEqual(x[k], v)));
        if (idx >= 0) cur.splice(idx, 1);
    }
    // prune empty containers (never the top-level object or metadata)
    for (let i = chain.length - 1; i >= 2; i--) {
        const c = chain[i];
        const empty = Array.isArray(c) ? c.length === 0 : isPlainObject(c) && Object.keys(c).length === 0;
        if (!empty) break;
        delete chain[i - 1][segs[i - 1].slice(2)];
    }
}

/** Structural merge used by apply: maps merge, set/map lists union, others replace. */
export function applyMerge(live: any, applied: any, names: string[], listTypes: Record<string, ListType>): any {
    if (isPlainObject(applied)) {
        const out: Record<string, any> = isPlainObject(live) ? { ...live } : {};
        for (const [k, v] of Object.entries(applied)) {
            if (v === null || v === undefined) continue;
            out[k] = applyMerge(out[k], v, [...names, k], listTypes);
        }
        return out;
    }
    if (Array.isArray(applied) && Array.isArray(live)) {
        const lt = listTypes[names.join('.')];
        if (lt?.type === 'set') {
            const out = [...live];
            for (const item of applied) if (!out.some((x) => deepEqual(x, item))) out.push(clone(item));
            return out;
        }
        if (lt?.type === 'map') {
            const out = [...live];
            for (const item of applied) {
                const idx = out.findIndex((x) => isPlainObject(x) && isPlainObject(item) && deepEqual(x[lt.key], item[lt.key]));
                if (idx >= 0) out[idx] = clone(item);
                else out.push(clone(item));
            }
            return out;
        }
    }
    return clone(applied);
}

export function stripNulls(v: any): any {
    if (Array.isArray(v)) return v.map(stripNulls);
    if (isPlainObject(v)) {
        const out: Record<string, any> = {};
        for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = stripNulls(x);
        return out;
    }
    return v;
}

export function prettyPath(p: string): string {
    return p
        .split(SEP)
        .map((s) => (s.startsWith('f:') ? `.${s.slice(2)}` : `[${s.slice(2)}]`))
        .join('');
}

export function cloneManagers(ms: ManagerEntry[]): ManagerEntry[] {
    return ms.map((m) => ({ ...m, fields: new Set(m.fields) }));
}

export function managersEqual(a: ManagerEntry[], b: ManagerEntry[]): boolean {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
        const x = a[i];
        const y = b[i];
        if (managerKey(x) !== managerKey(y) || x.apiVersion !== y.apiVersion || x.fields.size !== y.fields.size) return false;
        for (const f of x.fields) if (!y.fields.has(f)) return false;
    }
    return true;
}

export function renderManagedFields(ms: ManagerEntry[]): any[] {
    return ms.map((m) => {
        const e: Record<string, any> = {
            manager: m.manager,
            operation: m.operation,
            apiVersion: m.apiVersion,
            time: m.time,
            fieldsType: 'FieldsV1',
            fieldsV1: (m.rendered ??= renderFieldsV1(m.fields)),
        };
        if (m.subresource) e.subresource = m.subresource;
        return e;
    });
}
