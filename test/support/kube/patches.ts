/** JSON merge patch (RFC 7386) and JSON patch (RFC 6902) as kube-apiserver applies them. */
import { KubeApiError, apiError, clone, deepEqual, isPlainObject } from './objects';


/** RFC 7386 JSON merge patch. */
export function jsonMergePatch(target: any, patch: any): any {
    if (!isPlainObject(patch)) return clone(patch);
    const out: Record<string, any> = isPlainObject(target) ? { ...target } : {};
    for (const [k, v] of Object.entries(patch)) {
        if (v === null) delete out[k];
        else out[k] = jsonMergePatch(out[k], v);
    }
    return out;
}

export function invalidPatch(message: string): KubeApiError {
    return apiError(422, 'Invalid', 'the server rejected our request due to an error in our request', {
        causes: [{ reason: 'FieldValueInvalid', message }],
    });
}

/** RFC 6902 JSON patch. */
export function jsonPatch(doc: any, ops: unknown): any {
    if (!Array.isArray(ops)) {
        throw apiError(400, 'BadRequest', `json: cannot unmarshal ${isPlainObject(ops) ? 'object' : typeof ops} into Go value of type jsonpatch.Patch`);
    }
    let root = clone(doc);
    const parse = (p: unknown): string[] => {
        if (typeof p !== 'string' || (p !== '' && !p.startsWith('/'))) throw invalidPatch(`invalid JSON pointer ${JSON.stringify(p)}`);
        return p === '' ? [] : p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    };
    const get = (segs: string[]): any => {
        let cur = root;
        for (const s of segs) {
            if (Array.isArray(cur)) cur = cur[Number(s)];
            else if (isPlainObject(cur)) cur = cur[s];
            else return undefined;
        }
        return cur;
    };
    const parentOf = (segs: string[], op: string): [any, string] => {
        const parent = get(segs.slice(0, -1));
        if (!isPlainObject(parent) && !Array.isArray(parent)) {
            throw invalidPatch(`${op} operation does not apply: doc is missing path: "/${segs.join('/')}": missing value`);
        }
        return [parent, segs[segs.length - 1]];
    };
    const remove = (segs: string[], op: string): any => {
        const [parent, last] = parentOf(segs, op);
        if (Array.isArray(parent)) {
            const i = Number(last);
            if (!Number.isInteger(i) || i < 0 || i >= parent.length) throw invalidPatch(`Unable to remove nonexistent key: ${last}: missing value`);
            return parent.splice(i, 1)[0];
        }
        if (!(last in parent)) throw invalidPatch(`Unable to remove nonexistent key: ${last}: missing value`);
        const v = parent[last];
        delete parent[last];
        return v;
    };
    const add = (segs: string[], value: any, op: string) => {
        if (segs.length === 0) {
            root = value;
            return;
        }
        const [parent, last] = parentOf(segs, op);
        if (Array.isArray(parent)) {
            const i = last === '-' ? parent.length : Number(last);
            if (!Number.isInteger(i) || i < 0 || i > parent.length) throw invalidPatch(`Unable to access invalid index: ${last}: invalid index referenced`);
            parent.splice(i, 0, value);
        } else parent[last] = value;
    };
    for (const raw of ops) {
        const op = raw as { op?: string; path?: string; from?: string; value?: unknown };
        const segs = parse(op.path);
        switch (op.op) {
            case 'add':
                add(segs, clone(op.value), 'add');
                break;
            case 'remove':
                remove(segs, 'remove');
                break;
            case 'replace':
                if (get(segs) === undefined) throw invalidPatch(`replace operation does not apply: doc is missing key: ${op.path}: missing value`);
                if (segs.length === 0) root = clone(op.value);
                else {
                    remove(segs, 'replace');
                    add(segs, clone(op.value), 'replace');
                }
                break;
            case 'move': {
                const v = remove(parse(op.from), 'move');
                add(segs, v, 'move');
                break;
            }
            case 'copy': {
                const v = get(parse(op.from));
                if (v === undefined) throw invalidPatch(`copy operation does not apply: doc is missing from path: ${op.from}: missing value`);
                add(segs, clone(v), 'copy');
                break;
            }
            case 'test':
                if (!deepEqual(get(segs), op.value)) throw invalidPatch(`testing value ${op.path} failed: test failed`);
                break;
            default:
                throw apiError(400, 'BadRequest', `Unexpected kind: ${op.op}`);
        }
    }
    return root;
}
