/** Plain-object helpers, Status errors and metadata validation of the Kubernetes API test server. */
import { randomBytes } from 'node:crypto';

/** A Kubernetes object as plain JSON. */
export type KObj = { apiVersion?: string; kind?: string; metadata?: any; [key: string]: any };

export interface StatusCause {
    reason?: string;
    message?: string;
    field?: string;
}

export interface StatusDetails {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
}

/** A metav1.Status object. */
export interface KubeStatus {
    kind: 'Status';
    apiVersion: 'v1';
    metadata: Record<string, unknown>;
    status: 'Success' | 'Failure';
    message?: string;
    reason?: string;
    details?: StatusDetails;
    code: number;
}

/** Thrown by the store and the HTTP layer; carries the Status that is sent. */
export class KubeApiError extends Error {
    constructor(
        public readonly status: KubeStatus,
        public readonly headers: Record<string, string> = {},
    ) {
        super(status.message ?? status.reason ?? `HTTP ${status.code}`);
        this.name = 'KubeApiError';
    }
    get code(): number {
        return this.status.code;
    }
    get reason(): string | undefined {
        return this.status.reason;
    }
}

export function makeStatus(code: number, reason: string, message: string, details?: StatusDetails): KubeStatus {
    const s: KubeStatus = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
    if (details && Object.keys(details).length > 0) s.details = details;
    return s;
}

export function apiError(code: number, reason: string, message: string, details?: StatusDetails, headers?: Record<string, string>): KubeApiError {
    return new KubeApiError(makeStatus(code, reason, message, details), headers);
}

export const isPlainObject = (v: unknown): v is Record<string, any> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);

/** Structural equality of JSON values; object keys holding `undefined` count as absent. */
export function deepEqual(a: unknown, b: unknown): boolean {
    if (a === b) return true;
    if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
    if (Array.isArray(a)) {
        if (!Array.isArray(b) || a.length !== b.length) return false;
        for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
        return true;
    }
    if (Array.isArray(b)) return false;
    let na = 0;
    for (const k in a as object) {
        const va = (a as any)[k];
        if (va === undefined) continue;
        na++;
        if (!deepEqual(va, (b as any)[k])) return false;
    }
    let nb = 0;
    for (const k in b as object) if ((b as any)[k] !== undefined) nb++;
    return na === nb;
}

export function clone<T>(v: T): T {
    return v === undefined ? v : JSON.parse(JSON.stringify(v));
}

/** Deep copy of a stored object without metadata.managedFields (recomputed on commit anyway). */
export function cloneForWrite(obj: KObj): KObj {
    const { managedFields: _mf, ...metadata } = obj.metadata ?? {};
    return JSON.parse(JSON.stringify({ ...obj, metadata }));
}

export function deepFreeze<T>(v: T): T {
    if (v && typeof v === 'object' && !Object.isFrozen(v)) {
        Object.freeze(v);
        for (const k of Object.keys(v as object)) deepFreeze((v as any)[k]);
    }
    return v;
}

/** RFC 3339 with second precision, as Kubernetes serialises metav1.Time. */
export function k8sTime(d: Date = new Date()): string {
    return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
export const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
export const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function subdomainError(value: string): string | undefined {
    if (value.length > 253) return 'must be no more than 253 characters';
    if (!DNS1123_SUBDOMAIN.test(value)) {
        return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    }
    return undefined;
}

export function labelNameError(value: string): string | undefined {
    if (value.length > 63) return 'must be no more than 63 characters';
    if (!DNS1123_LABEL.test(value)) {
        return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    }
    return undefined;
}

export function qualifiedNameError(value: string): string | undefined {
    const parts = value.split('/');
    if (parts.length > 2) return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/'";
    const name = parts[parts.length - 1];
    if (parts.length === 2) {
        if (parts[0].length === 0) return 'prefix part must be non-empty';
        const e = subdomainError(parts[0]);
        if (e) return `prefix part ${e}`;
    }
    if (name.length === 0) return 'name part must be non-empty';
    if (name.length > 63) return 'name part must be no more than 63 characters';
    if (!QUALIFIED_NAME_PART.test(name)) {
        return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    }
    return undefined;
}

const GENERATE_NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
export function randomSuffix(n = 5): string {
    const bytes = randomBytes(n);
    let s = '';
    for (let i = 0; i < n; i++) s += GENERATE_NAME_ALPHABET[bytes[i] % GENERATE_NAME_ALPHABET.length];
    return s;
}
