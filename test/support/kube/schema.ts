/**
 * Structural schemas of custom resources, applied on every write as a real
 * apiserver does for a CRD: null values of non-nullable fields and unknown
 * fields are pruned (reported per the request's `fieldValidation`), defaults
 * are set, then types, enums, patterns, bounds and required fields are checked
 * (422 Invalid, one cause per field). Only what our schemas use is modelled:
 * no CEL rules, no int-or-string, no oneOf/anyOf, no ratcheting. Every verb
 * (apply included) reports unknown fields with the strict decoder's wording;
 * a real server's apply may word it as the typed patch's `field not declared
 * in schema` instead.
 */
import { KObj, StatusCause, KubeApiError, apiError, clone } from './objects';

export interface Schema {
    readonly type: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
    readonly properties?: Readonly<Record<string, Schema>>;
    readonly required?: readonly string[];
    /** a map: every value has this schema */
    readonly additionalProperties?: Schema;
    /** x-kubernetes-preserve-unknown-fields: keys beyond `properties` are kept */
    readonly preserveUnknownFields?: boolean;
    readonly items?: Schema;
    readonly enum?: readonly (string | boolean)[];
    readonly pattern?: string;
    readonly format?: 'date-time' | 'int32' | 'int64' | 'double';
    readonly minimum?: number;
    readonly maximum?: number;
    readonly minLength?: number;
    readonly maxLength?: number;
    readonly nullable?: boolean;
    readonly default?: unknown;
}

/** The `fieldValidation` query parameter; absent means Warn (the apiserver's default since 1.27). */
export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';
export const FIELD_VALIDATIONS: readonly FieldValidation[] = ['Ignore', 'Strict', 'Warn'];

// Builders: the schema files read like the CRD YAML they transcribe.
type Extra = Omit<Schema, 'type' | 'properties' | 'required' | 'items'>;
export const str = (extra: Extra = {}): Schema => ({ type: 'string', ...extra });
export const strEnum = (values: readonly string[], extra: Extra = {}): Schema => ({ type: 'string', enum: values, ...extra });
export const int = (extra: Extra = {}): Schema => ({ type: 'integer', ...extra });
export const num = (extra: Extra = {}): Schema => ({ type: 'number', ...extra });
export const bool = (extra: Extra = {}): Schema => ({ type: 'boolean', ...extra });
export const arr = (items: Schema, extra: Extra = {}): Schema => ({ type: 'array', items, ...extra });
export const obj = (properties: Record<string, Schema>, required: readonly string[] = [], extra: Extra = {}): Schema => ({ type: 'object', properties, ...(required.length ? { required } : {}), ...extra });
/** An object of which only some fields are modelled: the rest are kept unchecked. */
export const partial = (properties: Record<string, Schema>, required: readonly string[] = []): Schema => obj(properties, required, { preserveUnknownFields: true });
/** metav1.Time */
export const time = (extra: Extra = {}): Schema => str({ format: 'date-time', ...extra });

/** A custom resource's openAPIV3Schema below the root: `metadata`, `apiVersion` and `kind` are the apiserver's. */
export function rootSchema(properties: Record<string, Schema>, required: readonly string[] = []): Schema {
    return obj({ apiVersion: str(), kind: str(), metadata: { type: 'object', preserveUnknownFields: true }, ...properties }, required);
}

interface Walk {
    unknown: string[];
    causes: StatusCause[];
    validate: boolean;
}

const TYPE_NAMES: Record<string, string> = { object: 'object', array: 'array', string: 'string', integer: 'integer', number: 'number', boolean: 'boolean' };
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const patterns = new Map<string, RegExp>();

function jsonType(v: unknown): string {
    if (Array.isArray(v)) return 'array';
    if (v === null) return 'null';
    if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
    return typeof v;
}

function typeMatches(s: Schema, v: unknown): boolean {
    const t = jsonType(v);
    if (s.type === 'number') return t === 'number' || t === 'integer';
    return t === s.type;
}

function invalid(w: Walk, field: string, reason: string, message: string): void {
    w.causes.push({ reason, message, field });
}

/** Prunes, defaults and (when w.validate) checks `v` in place. */
function walk(s: Schema, v: unknown, path: string, w: Walk): void {
    if (!typeMatches(s, v)) {
        if (w.validate) invalid(w, path, 'FieldValueTypeInvalid', `Invalid value: ${JSON.stringify(jsonType(v))}: ${path} in body must be of type ${TYPE_NAMES[s.type]}: ${JSON.stringify(jsonType(v))}`);
        return;
    }
    if (s.type === 'object') return walkObject(s, v as Record<string, unknown>, path, w);
    if (s.type === 'array') {
        (v as unknown[]).forEach((item, i) => {
            if (s.items) walk(s.items, item, `${path}[${i}]`, w);
        });
        return;
    }
    if (!w.validate) return;
    if (s.enum && !s.enum.includes(v as string | boolean)) {
        invalid(w, path, 'FieldValueNotSupported', `Unsupported value: ${JSON.stringify(v)}: supported values: ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`);
    }
    if (s.type === 'string') {
        const text = v as string;
        if (s.pattern) {
            let re = patterns.get(s.pattern);
            if (!re) patterns.set(s.pattern, (re = new RegExp(s.pattern)));
            if (!re.test(text)) invalid(w, path, 'FieldValueInvalid', `Invalid value: ${JSON.stringify(text)}: ${path} in body should match '${s.pattern}'`);
        }
        if (s.format === 'date-time' && !RFC3339.test(text)) invalid(w, path, 'FieldValueInvalid', `Invalid value: ${JSON.stringify(text)}: ${path} in body must be of type date-time: ${JSON.stringify(text)}`);
        if (s.maxLength !== undefined && text.length > s.maxLength) invalid(w, path, 'FieldValueTooLong', `Too long: may not be more than ${s.maxLength} bytes`);
        if (s.minLength !== undefined && text.length < s.minLength) invalid(w, path, 'FieldValueInvalid', `Invalid value: ${JSON.stringify(text)}: ${path} in body should be at least ${s.minLength} chars long`);
    } else if (s.type === 'integer' || s.type === 'number') {
        const n = v as number;
        if (s.minimum !== undefined && n < s.minimum) invalid(w, path, 'FieldValueInvalid', `Invalid value: ${n}: ${path} in body should be greater than or equal to ${s.minimum}`);
        if (s.maximum !== undefined && n > s.maximum) invalid(w, path, 'FieldValueInvalid', `Invalid value: ${n}: ${path} in body should be less than or equal to ${s.maximum}`);
    }
}

const defaults = new WeakMap<Schema, [string, unknown][]>();
/** The properties of `s` that have a default (computed once per schema: every write walks them). */
function defaultsOf(s: Schema): [string, unknown][] {
    let d = defaults.get(s);
    if (!d) defaults.set(s, (d = Object.entries(s.properties ?? {}).flatMap(([k, c]) => (c.default !== undefined ? [[k, c.default] as [string, unknown]] : []))));
    return d;
}

function walkObject(s: Schema, o: Record<string, unknown>, path: string, w: Walk): void {
    const props = s.properties;
    const at = (k: string) => (path ? `${path}.${k}` : k);
    for (const k of Object.keys(o)) {
        const child = props?.[k] ?? s.additionalProperties;
        if (!child) {
            if (s.preserveUnknownFields) continue;
            w.unknown.push(at(k));
            delete o[k];
            continue;
        }
        // null in a non-nullable field is pruned before defaulting (apiextensions "Defaulting and Nullable")
        if (o[k] === null) {
            if (!child.nullable) delete o[k];
            continue;
        }
        walk(child, o[k], at(k), w);
    }
    if (props && w.validate) {
        for (const [k, d] of defaultsOf(s)) if (o[k] === undefined) o[k] = clone(d);
        for (const k of s.required ?? []) if (o[k] === undefined) invalid(w, at(k), 'FieldValueRequired', 'Required value');
    }
}

/** What one write's check found (already applied to the object: pruned and defaulted). */
export interface SchemaOutcome {
    /** dotted paths of the unknown fields that were dropped */
    readonly unknown: string[];
    readonly causes: StatusCause[];
}

/**
 * Prunes and defaults `o` in place and collects problems. `validate: false`
 * only prunes (an applied configuration is partial: required fields and
 * defaults are judged on the merged object).
 */
export function conform(schema: Schema, o: KObj, validate = true): SchemaOutcome {
    const w: Walk = { unknown: [], causes: [], validate };
    walkObject(schema, o, '', w);
    return w;
}

/** The warning text the apiserver sends for a dropped field. */
export function unknownFieldWarning(path: string): string {
    return `unknown field ${JSON.stringify(path)}`;
}

/** 400 for fieldValidation=Strict, as the apiserver's strict decoder answers (all unknown fields in one message). */
export function strictDecodingError(kind: string, version: string, unknown: readonly string[]): KubeApiError {
    return apiError(400, 'BadRequest', `${kind} in version ${JSON.stringify(version)} cannot be handled as a ${kind}: strict decoding error: ${unknown.map(unknownFieldWarning).join(', ')}`);
}

/** The `fieldValidation` query parameter, checked like the apiserver (400 for anything else). */
export function parseFieldValidation(value: string | undefined): FieldValidation {
    if (value === undefined || value === '') return 'Warn';
    if ((FIELD_VALIDATIONS as readonly string[]).includes(value)) return value as FieldValidation;
    throw apiError(400, 'BadRequest', `fieldValidation: Unsupported value: ${JSON.stringify(value)}: supported values: ${FIELD_VALIDATIONS.map((v) => JSON.stringify(v)).join(', ')}`);
}
