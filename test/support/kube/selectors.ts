/** Label and field selectors as kube-apiserver parses and applies them. */
import { KObj, apiError, qualifiedNameError } from './objects';
import type { ResourceInfo } from './registry';

interface LabelRequirement {
    key: string;
    op: 'in' | 'notin' | 'exists' | '!exists' | 'gt' | 'lt';
    values: string[];
}

export class LabelSelector {
    private constructor(public readonly requirements: LabelRequirement[], public readonly source: string) {}

    static parse(source: string | undefined): LabelSelector {
        const s = (source ?? '').trim();
        const reqs: LabelRequirement[] = [];
        if (s === '') return new LabelSelector(reqs, s);
        // split on commas that are not inside parentheses
        const terms: string[] = [];
        let depth = 0;
        let cur = '';
        for (const ch of s) {
            if (ch === '(') depth++;
            if (ch === ')') depth--;
            if (ch === ',' && depth === 0) {
                terms.push(cur);
                cur = '';
            } else cur += ch;
        }
        terms.push(cur);
        for (const raw of terms) {
            const t = raw.trim();
            let m: RegExpMatchArray | null;
            const bad = (msg: string) => apiError(400, 'BadRequest', `unable to parse requirement: ${msg}`);
            if (t === '') throw bad('found \'\', expected: identifier');
            if ((m = t.match(/^(\S+?)\s+(in|notin)\s*\((.*)\)$/))) {
                const values = m[3].split(',').map((v) => v.trim()).filter((v) => v !== '');
                reqs.push({ key: m[1], op: m[2] as 'in' | 'notin', values });
            } else if ((m = t.match(/^!\s*([^\s=!<>(),]+)$/))) {
                reqs.push({ key: m[1], op: '!exists', values: [] });
            } else if ((m = t.match(/^([^\s=!<>(),]+)\s*(!=|==|=)\s*([^\s=!<>(),]*)$/))) {
                reqs.push({ key: m[1], op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]] });
            } else if ((m = t.match(/^([^\s=!<>(),]+)\s*(>|<)\s*(-?\d+)$/))) {
                reqs.push({ key: m[1], op: m[2] === '>' ? 'gt' : 'lt', values: [m[3]] });
            } else if ((m = t.match(/^([^\s=!<>(),]+)$/))) {
                reqs.push({ key: m[1], op: 'exists', values: [] });
            } else {
                throw bad(`invalid requirement ${JSON.stringify(t)}`);
            }
            const key = reqs[reqs.length - 1].key;
            const e = qualifiedNameError(key);
            if (e) throw bad(`key: Invalid value: ${JSON.stringify(key)}: ${e}`);
        }
        return new LabelSelector(reqs, s);
    }

    get empty(): boolean {
        return this.requirements.length === 0;
    }

    matches(labels: Record<string, string> | undefined): boolean {
        for (const r of this.requirements) {
            const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, r.key);
            const v = has ? labels![r.key] : undefined;
            switch (r.op) {
                case 'in':
                    if (!has || !r.values.includes(v!)) return false;
                    break;
                case 'notin':
                    if (has && r.values.includes(v!)) return false;
                    break;
                case 'exists':
                    if (!has) return false;
                    break;
                case '!exists':
                    if (has) return false;
                    break;
                case 'gt':
                case 'lt': {
                    if (!has || !/^-?\d+$/.test(v!)) return false;
                    const n = Number(v);
                    const lim = Number(r.values[0]);
                    if (r.op === 'gt' ? !(n > lim) : !(n < lim)) return false;
                    break;
                }
            }
        }
        return true;
    }
}

interface FieldRequirement {
    field: string;
    value: string;
    negate: boolean;
}

export class FieldSelector {
    private constructor(public readonly requirements: FieldRequirement[]) {}

    static parse(source: string | undefined, res: ResourceInfo): FieldSelector {
        const s = (source ?? '').trim();
        const reqs: FieldRequirement[] = [];
        if (s === '') return new FieldSelector(reqs);
        const allowed = ['metadata.name', 'metadata.namespace', ...res.fieldSelectors];
        for (const raw of s.split(',')) {
            const m = raw.trim().match(/^([^=!]+?)\s*(!=|==|=)\s*(.*)$/);
            if (!m) throw apiError(400, 'BadRequest', `invalid selector: '${raw}'; can't understand '${raw}'`);
            if (!allowed.includes(m[1])) {
                throw apiError(400, 'BadRequest', `field label not supported: ${m[1]}`);
            }
            reqs.push({ field: m[1], value: m[3], negate: m[2] === '!=' });
        }
        return new FieldSelector(reqs);
    }

    get empty(): boolean {
        return this.requirements.length === 0;
    }

    matches(obj: KObj): boolean {
        for (const r of this.requirements) {
            let v: any = obj;
            for (const p of r.field.split('.')) v = v?.[p];
            const s = v === undefined || v === null ? '' : String(v);
            if ((s === r.value) === r.negate) return false;
        }
        return true;
    }
}
