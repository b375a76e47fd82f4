/**
 * KubeApiTestServer: an in-process Kubernetes API server for tests, speaking
 * the real REST/JSON protocol so that @kubernetes/client-node (1.4) can be
 * pointed at it with an ordinary kubeconfig.
 *
 * MODELLED (behaves like a real kube-apiserver):
 * - URL layout: core `/api/v1/...`, groups `/apis/{g}/{v}/...`, namespaced and
 *   cluster-scoped resources, `/status` subresource, the legacy `/watch/`
 *   prefix, `/api/v1/namespaces/{name}[/status|/finalize]`, cluster-wide lists.
 * - Discovery: `/api`, `/api/v1`, `/apis`, `/apis/{g}`, `/apis/{g}/{v}`
 *   (APIResourceList incl. `x/status` entries, verbs, shortNames), `/version`,
 *   `/healthz`, `/readyz`, `/livez`.
 * - Bearer-token authentication (401 Status when the token is wrong).
 * - One global, monotonically increasing resourceVersion; uid,
 *   creationTimestamp, generation (bumped on changes outside metadata/status,
 *   and when deletionTimestamp is set), generateName.
 * - Verbs: get, list, watch, create (POST), update (PUT, optimistic
 *   concurrency on metadata.resourceVersion), patch with
 *   application/merge-patch+json (RFC 7386), application/json-patch+json
 *   (RFC 6902), application/apply-patch+yaml (server-side apply, YAML or
 *   JSON body), delete, deletecollection; dryRun=All.
 * - Server-side apply with managedFields per (manager, operation,
 *   subresource), rendered in the real FieldsV1 format: an applier owns the
 *   fields it sets; fields it owned before and no longer sets are removed
 *   unless someone else also owns them; a field owned by another manager with
 *   a different value is a 409 Conflict (causes `FieldManagerConflict`)
 *   unless force=true, which transfers ownership. Non-apply writes record
 *   `Update` entries for the fields they changed and take those fields away
 *   from other managers. `metadata.finalizers` is a set (`v:` keys),
 *   `metadata.ownerReferences` a map keyed by uid (`k:` keys).
 * - Status subresource: writes to the main resource never change `.status`
 *   (it is also dropped on create); writes to `/status` change only `.status`.
 * - No-op writes (nothing changed, managers unchanged) do not bump the
 *   resourceVersion and emit no event.
 * - Finalizers and graceful deletion: DELETE on an object with finalizers sets
 *   deletionTimestamp (MODIFIED event, the object is returned) and it lingers
 *   until an update removes the last finalizer (then one DELETED event). No
 *   new finalizers may be added while deleting (422). Immediate deletion
 *   returns a `Status` Success with details.
 * - Namespaces: objects in a missing namespace → 404 `namespaces "x" not
 *   found`; in a terminating one → 403 Forbidden. Deleting a namespace marks it
 *   Terminating, deletes its contents (honouring finalizers) and removes it
 *   once empty.
 * - Garbage collection (background propagation): when an owner is deleted,
 *   dependents whose ownerReferences all point to deleted owners are deleted;
 *   dangling references to deleted owners are removed from the others.
 * - Label selectors (`=`, `==`, `!=`, `in`, `notin`, exists, `!key`, `>`, `<`)
 *   and field selectors (`metadata.name`, `metadata.namespace`, plus per
 *   resource extras such as `type` for Secrets); unsupported field → 400.
 * - Lists: items sorted by namespace/name; core (built-in) list items carry no
 *   kind/apiVersion (as the real server returns them), custom resource items do;
 *   `limit`/`continue` pagination served from a consistent snapshot at the
 *   first page's resourceVersion (rebuilt from the event history); an expired
 *   continue token → 410 Expired; `resourceVersionMatch=Exact` is served from
 *   history, 410 when older than the retained window.
 * - Watch: newline-delimited JSON events over a chunked response.
 *   resourceVersion unset or "0" → synthetic ADDED for current state, then
 *   live events; `sendInitialEvents=true` adds the `k8s.io/initial-events-end`
 *   bookmark. A resourceVersion inside the retained window replays history
 *   exactly (no gaps, in order). Older than the window → HTTP 200 with one
 *   `ERROR` event carrying a Status 410 `Expired` ("too old resource
 *   version"), as the watch cache does. With a label selector an object that
 *   stops/starts matching is sent as DELETED/ADDED. BOOKMARK events (kind,
 *   apiVersion, metadata.resourceVersion only) every `bookmarkIntervalMs`
 *   when `allowWatchBookmarks=true`, and one just before `timeoutSeconds`
 *   closes the stream.
 * - Errors are real `Status` objects (reason, code, details, causes):
 *   400 BadRequest, 401, 403 Forbidden, 404 NotFound, 405, 409 AlreadyExists /
 *   Conflict, 410 Expired/Gone, 415, 422 Invalid (RFC 1123 names, required
 *   name, labels, finalizers), 429 TooManyRequests with `Retry-After`, 500,
 *   503, 504.
 *
 * SIMPLIFIED / NOT MODELLED:
 * - Mismatched `apiVersion`/`kind` in a body is 400 BadRequest ("the API
 *   version in the data (...) does not match the expected API version
 *   (...)"), which is what a real server answers — not 422.
 * - No OpenAPI/CRD schema validation, pruning, defaulting or admission
 *   webhooks (BMO's webhook is not modelled); only metadata is validated, plus
 *   Secret `data` base64 and `type` immutability.
 * - Lists other than finalizers/ownerReferences are atomic for SSA (no
 *   associative-list merge keys, no strategic merge: a strategic-merge patch
 *   is a JSON merge patch for core resources and 415 for custom resources, as
 *   in a real server). `null` in an applied configuration means "not set".
 *   Client-sent managedFields are ignored. Secret `stringData` is converted to
 *   `data` before field ownership is computed.
 * - A list with `resourceVersion=N` (NotOlderThan) returns the current state
 *   (real) unless `strictListResourceVersion` is set, in which case an N older
 *   than the retained window gets 410 (what some tests want). A resourceVersion
 *   newer than the server's is answered at once with 504 "Too large resource
 *   version" instead of after a 3 s wait.
 * - The watch history is one bounded ring of `historySize` events over all
 *   resources (real: per-resource watch cache, time based); `compact()`
 *   forgets all of it.
 * - propagationPolicy Foreground/Orphan, gracePeriodSeconds, RBAC, API
 *   priority-and-fairness (use `faults.throttle`), protobuf/CBOR, table
 *   output, aggregated discovery v2, field validation, `selfLink`: not modelled.
 * - HTTP/1.1 only; bodies are JSON (apply also accepts YAML).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomUUID, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import * as YAML from 'yaml';
import { KubeConfig } from '@kubernetes/client-node';

// ---------------------------------------------------------------------------
// Basic types and helpers
// ---------------------------------------------------------------------------

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

function apiError(code: number, reason: string, message: string, details?: StatusDetails, headers?: Record<string, string>): KubeApiError {
    return new KubeApiError(makeStatus(code, reason, message, details), headers);
}

const isPlainObject = (v: unknown): v is Record<string, any> =>
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

function clone<T>(v: T): T {
    return v === undefined ? v : JSON.parse(JSON.stringify(v));
}

/** Deep copy of a stored object without metadata.managedFields (recomputed on commit anyway). */
function cloneForWrite(obj: KObj): KObj {
    const { managedFields: _mf, ...metadata } = obj.metadata ?? {};
    return JSON.parse(JSON.stringify({ ...obj, metadata }));
}

function deepFreeze<T>(v: T): T {
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

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function subdomainError(value: string): string | undefined {
    if (value.length > 253) return 'must be no more than 253 characters';
    if (!DNS1123_SUBDOMAIN.test(value)) {
        return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    }
    return undefined;
}

function labelNameError(value: string): string | undefined {
    if (value.length > 63) return 'must be no more than 63 characters';
    if (!DNS1123_LABEL.test(value)) {
        return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    }
    return undefined;
}

function qualifiedNameError(value: string): string | undefined {
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
function randomSuffix(n = 5): string {
    const bytes = randomBytes(n);
    let s = '';
    for (let i = 0; i < n; i++) s += GENERATE_NAME_ALPHABET[bytes[i] % GENERATE_NAME_ALPHABET.length];
    return s;
}

// ---------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------

export type ListType = { type: 'set' } | { type: 'map'; key: string };

export interface ResourceDefinition {
    group: string;
    version: string;
    plural: string;
    kind: string;
    singular?: string;
    /** default true */
    namespaced?: boolean;
    /** default: true for non-core groups, false for core */
    statusSubresource?: boolean;
    shortNames?: string[];
    /** whether metadata.generation is maintained; default true for non-core */
    generation?: boolean;
    /** extra field selectors besides metadata.name / metadata.namespace */
    fieldSelectors?: string[];
    /** SSA list semantics by dotted path, e.g. { 'spec.items': { type: 'map', key: 'name' } } */
    listTypes?: Record<string, ListType>;
    /** built-in (core/apps...) vs custom resource: affects list item kind/apiVersion */
    builtin?: boolean;
}

export interface ResourceInfo extends Required<Omit<ResourceDefinition, 'listTypes'>> {
    listTypes: Record<string, ListType>;
    /** `${group}/${plural}` */
    key: string;
    apiVersion: string;
    listKind: string;
    /** e.g. `baremetalhosts.metal3.io` or `secrets` */
    qualified: string;
    /** e.g. `BareMetalHost.metal3.io` or `Secret` */
    qualifiedKind: string;
}

/** How callers of the in-process store name a resource. */
export type ResourceRef = string | { group: string; plural: string } | ResourceInfo;

const DEFAULT_LIST_TYPES: Record<string, ListType> = {
    'metadata.finalizers': { type: 'set' },
    'metadata.ownerReferences': { type: 'map', key: 'uid' },
};

const BUILTIN_RESOURCES: ResourceDefinition[] = [
    { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, statusSubresource: true, shortNames: ['ns'], fieldSelectors: ['status.phase'] },
    { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', fieldSelectors: ['type'] },
    { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', shortNames: ['cm'] },
    { group: '', version: 'v1', plural: 'services', kind: 'Service', statusSubresource: true, shortNames: ['svc'] },
    { group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', shortNames: ['sa'] },
    { group: '', version: 'v1', plural: 'pods', kind: 'Pod', statusSubresource: true, generation: true, shortNames: ['po'], fieldSelectors: ['spec.nodeName', 'status.phase'] },
    { group: '', version: 'v1', plural: 'events', kind: 'Event', shortNames: ['ev'] },
    { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, statusSubresource: true, shortNames: ['no'] },
    { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', statusSubresource: true, shortNames: ['deploy'], builtin: true },
    { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', statusSubresource: false, generation: false, builtin: true },
    { group: 'metal3.io', version: 'v1alpha1', plural: 'baremetalhosts', kind: 'BareMetalHost', shortNames: ['bmh', 'bmhost'] },
    { group: 'metal3.io', version: 'v1alpha1', plural: 'hardwaredata', kind: 'HardwareData', singular: 'hardwaredata', statusSubresource: false, shortNames: ['hd'] },
    { group: 'metal3.io', version: 'v1alpha1', plural: 'bmceventsubscriptions', kind: 'BMCEventSubscription', shortNames: ['bes', 'bmcevent'] },
    { group: 'metal3.io', version: 'v1alpha1', plural: 'firmwareschemas', kind: 'FirmwareSchema', statusSubresource: false },
    { group: 'metal3.io', version: 'v1alpha1', plural: 'hostfirmwaresettings', kind: 'HostFirmwareSettings', singular: 'hostfirmwaresettings', shortNames: ['hfs'] },
    { group: 'metal3.io', version: 'v1alpha1', plural: 'hostfirmwarecomponents', kind: 'HostFirmwareComponents', singular: 'hostfirmwarecomponents' },
    { group: 'metal3.io', version: 'v1alpha1', plural: 'preprovisioningimages', kind: 'PreprovisioningImage', shortNames: ['ppimg'] },
    { group: 'metal3.io', version: 'v1alpha1', plural: 'dataimages', kind: 'DataImage' },
    { group: 'cluster.x-k8s.io', version: 'v1beta1', plural: 'clusters', kind: 'Cluster', shortNames: ['cl'] },
    { group: 'cluster.x-k8s.io', version: 'v1beta1', plural: 'machines', kind: 'Machine', shortNames: ['ma'] },
    { group: 'infrastructure.cluster.x-k8s.io', version: 'v1beta1', plural: 'metal3machines', kind: 'Metal3Machine', shortNames: ['m3m'] },
    { group: 'infrastructure.cluster.x-k8s.io', version: 'v1beta1', plural: 'metal3clusters', kind: 'Metal3Cluster', shortNames: ['m3c'] },
];

function completeResource(def: ResourceDefinition): ResourceInfo {
    const core = def.group === '';
    const builtin = def.builtin ?? core;
    return {
        group: def.group,
        version: def.version,
        plural: def.plural,
        kind: def.kind,
        singular: def.singular ?? def.kind.toLowerCase(),
        namespaced: def.namespaced ?? true,
        statusSubresource: def.statusSubresource ?? !core,
        shortNames: def.shortNames ?? [],
        generation: def.generation ?? !builtin,
        fieldSelectors: def.fieldSelectors ?? [],
        listTypes: { ...DEFAULT_LIST_TYPES, ...(def.listTypes ?? {}) },
        builtin,
        key: `${def.group}/${def.plural}`,
        apiVersion: core ? def.version : `${def.group}/${def.version}`,
        listKind: `${def.kind}List`,
        qualified: core ? def.plural : `${def.plural}.${def.group}`,
        qualifiedKind: core ? def.kind : `${def.kind}.${def.group}`,
    };
}

export class ResourceRegistry {
    private readonly byKey = new Map<string, ResourceInfo>();

    constructor(defs: ResourceDefinition[] = []) {
        for (const d of [...BUILTIN_RESOURCES, ...defs]) this.register(d);
    }

    register(def: ResourceDefinition): ResourceInfo {
        const info = completeResource(def);
        this.byKey.set(info.key, info);
        return info;
    }

    all(): ResourceInfo[] {
        return [...this.byKey.values()];
    }

    lookup(group: string, version: string, plural: string): ResourceInfo | undefined {
        const r = this.byKey.get(`${group}/${plural}`);
        return r && r.version === version ? r : undefined;
    }

    resolve(ref: ResourceRef): ResourceInfo {
        if (typeof ref !== 'string') {
            if ('key' in ref && this.byKey.get(ref.key) === ref) return ref;
            const r = this.byKey.get(`${ref.group}/${ref.plural}`);
            if (!r) throw new Error(`unknown resource ${ref.plural}.${ref.group}`);
            return r;
        }
        const direct = this.byKey.get(`/${ref}`);
        if (direct) return direct;
        for (const r of this.byKey.values()) {
            if (r.qualified === ref || r.kind === ref || r.qualifiedKind === ref || r.plural === ref || r.shortNames.includes(ref)) return r;
        }
        throw new Error(`unknown resource ${ref}`);
    }

    groups(): Map<string, ResourceInfo[]> {
        const m = new Map<string, ResourceInfo[]>();
        for (const r of this.byKey.values()) {
            if (r.group === '') continue;
            const k = `${r.group}/${r.version}`;
            if (!m.has(k)) m.set(k, []);
            m.get(k)!.push(r);
        }
        return m;
    }
}

// ---------------------------------------------------------------------------
// Selectors
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Patches
// ---------------------------------------------------------------------------

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

function invalidPatch(message: string): KubeApiError {
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

// ---------------------------------------------------------------------------
// Field management (server-side apply)
// ---------------------------------------------------------------------------

const SEP = '\u0001';
const NON_OWNED_META = new Set([
    'name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
    'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink',
]);

type Scope = 'main' | 'status' | 'all';

interface ManagerEntry {
    manager: string;
    operation: 'Apply' | 'Update';
    subresource: string;
    apiVersion: string;
    time: string;
    fields: Set<string>;
    /** cached FieldsV1 rendering of `fields` (cleared whenever fields change) */
    rendered?: Record<string, any>;
}

const managerKey = (m: { manager: string; operation: string; subresource: string }) => `${m.manager}\u0000${m.operation}\u0000${m.subresource}`;

/** Flattens an object into owned leaf paths (segments joined by SEP) → value. */
function flattenFields(obj: KObj, scope: Scope, listTypes: Record<string, ListType>): Map<string, unknown> {
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
function renderFieldsV1(fields: Set<string>): Record<string, any> {
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
function removeFieldPath(obj: any, p: string): void {
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
function applyMerge(live: any, applied: any, names: string[], listTypes: Record<string, ListType>): any {
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

function stripNulls(v: any): any {
    if (Array.isArray(v)) return v.map(stripNulls);
    if (isPlainObject(v)) {
        const out: Record<string, any> = {};
        for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = stripNulls(x);
        return out;
    }
    return v;
}

function prettyPath(p: string): string {
    return p
        .split(SEP)
        .map((s) => (s.startsWith('f:') ? `.${s.slice(2)}` : `[${s.slice(2)}]`))
        .join('');
}

function cloneManagers(ms: ManagerEntry[]): ManagerEntry[] {
    return ms.map((m) => ({ ...m, fields: new Set(m.fields) }));
}

function managersEqual(a: ManagerEntry[], b: ManagerEntry[]): boolean {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
        const x = a[i];
        const y = b[i];
        if (managerKey(x) !== managerKey(y) || x.apiVersion !== y.apiVersion || x.fields.size !== y.fields.size) return false;
        for (const f of x.fields) if (!y.fields.has(f)) return false;
    }
    return true;
}

function renderManagedFields(ms: ManagerEntry[]): any[] {
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

// ---------------------------------------------------------------------------
// Store
// ---------------------------------------------------------------------------

interface Rec {
    res: ResourceInfo;
    ns: string;
    name: string;
    obj: KObj;
    managers: ManagerEntry[];
    json?: string;
    listJson?: string;
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface HistoryEvent {
    rv: number;
    type: EventType;
    rec: Rec;
    prev?: Rec;
}

/** What in-process subscribers receive. Objects are frozen: clone before mutating. */
export interface StoreEvent {
    type: EventType;
    resource: ResourceInfo;
    namespace: string;
    name: string;
    object: Readonly<KObj>;
    previous?: Readonly<KObj>;
    resourceVersion: string;
}

export interface WriteOptions {
    /** manager name recorded in managedFields (default "test") */
    fieldManager?: string;
    force?: boolean;
    dryRun?: boolean;
    subresource?: '' | 'status';
}

export interface ListOptions {
    namespace?: string;
    labelSelector?: string | LabelSelector;
    fieldSelector?: string;
}

export interface KubeStoreOptions {
    historySize?: number;
    autoCreateNamespaces?: boolean;
    garbageCollection?: boolean;
    namespaces?: string[];
    resources?: ResourceDefinition[];
    /** first resourceVersion handed out is this + 1 */
    initialResourceVersion?: number;
}

interface Subscriber {
    resKey: string | null;
    namespace?: string;
    labels?: LabelSelector;
    fields?: FieldSelector;
    deliver: (type: EventType | 'DELETED', rec: Rec, ev: HistoryEvent) => void;
}

const recKey = (resKey: string, ns: string, name: string) => `${resKey}|${ns}|${name}`;

/**
 * The object store behind the server. All writes — HTTP or in-process —
 * go through it, so they share resourceVersions, managedFields, history and
 * watch events.
 */
export class KubeStore {
    readonly registry: ResourceRegistry;
    private rv: number;
    private readonly objects = new Map<string, Map<string, Map<string, Rec>>>();
    private readonly history: HistoryEvent[] = [];
    private historyStart = 0;
    private oldest: number;
    private readonly historySize: number;
    private readonly subscribers = new Map<string | null, Set<Subscriber>>();
    private readonly uidIndex = new Map<string, Rec>();
    private readonly ownerIndex = new Map<string, Set<string>>();
    private readonly nsCounts = new Map<string, number>();
    private readonly pending = new Set<NodeJS.Immediate>();
    private readonly nsSwept = new Set<string>();
    private closed = false;
    autoCreateNamespaces: boolean;
    garbageCollection: boolean;

    constructor(opts: KubeStoreOptions = {}) {
        this.registry = new ResourceRegistry(opts.resources ?? []);
        this.rv = opts.initialResourceVersion ?? 1000;
        this.oldest = this.rv;
        this.historySize = opts.historySize ?? 10000;
        this.autoCreateNamespaces = opts.autoCreateNamespaces ?? false;
        this.garbageCollection = opts.garbageCollection ?? true;
        for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease', ...(opts.namespaces ?? [])]) {
            this.ensureNamespace(ns);
        }
    }

    /** Current resourceVersion (of the last write). */
    get resourceVersion(): string {
        return String(this.rv);
    }

    /** Events with a resourceVersion greater than this are still in the history. */
    get oldestResourceVersion(): string {
        return String(this.oldest);
    }

    get historyLength(): number {
        return this.history.length - this.historyStart;
    }

    resource(ref: ResourceRef): ResourceInfo {
        return this.registry.resolve(ref);
    }

    /** Forget the whole event history: older resourceVersions now give 410. */
    compact(): void {
        this.history.length = 0;
        this.historyStart = 0;
        this.oldest = this.rv;
    }

    ensureNamespace(name: string): KObj {
        const res = this.registry.resolve('namespaces');
        const existing = this.rec(res, '', name);
        if (existing) return clone(existing.obj);
        return this.create(res, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, { fieldManager: 'kube-apiserver' });
    }

    // ---- reads ---------------------------------------------------------------

    get(ref: ResourceRef, namespace: string, name: string): KObj | undefined {
        const res = this.resource(ref);
        const r = this.rec(res, res.namespaced ? namespace : '', name);
        return r ? clone(r.obj) : undefined;
    }

    list(ref: ResourceRef, opts: ListOptions = {}): KObj[] {
        return this.peekList(ref, opts).map((o) => clone(o) as KObj);
    }

    /** Like get() but returns the stored, deeply frozen object (no copy): do not mutate. */
    peek(ref: ResourceRef, namespace: string, name: string): Readonly<KObj> | undefined {
        const res = this.resource(ref);
        return this.rec(res, res.namespaced ? namespace : '', name)?.obj;
    }

    /** Like list() but returns the stored, deeply frozen objects (no copies): do not mutate. */
    peekList(ref: ResourceRef, opts: ListOptions = {}): Readonly<KObj>[] {
        const res = this.resource(ref);
        const labels = typeof opts.labelSelector === 'string' || opts.labelSelector === undefined ? LabelSelector.parse(opts.labelSelector) : opts.labelSelector;
        const fields = FieldSelector.parse(opts.fieldSelector, res);
        return this.select(res, opts.namespace, labels, fields).map((r) => r.obj);
    }

    /** Number of objects of a resource (optionally in one namespace). */
    count(ref: ResourceRef, namespace?: string): number {
        const res = this.resource(ref);
        const byNs = this.objects.get(res.key);
        if (!byNs) return 0;
        if (namespace !== undefined) return byNs.get(namespace)?.size ?? 0;
        let n = 0;
        for (const m of byNs.values()) n += m.size;
        return n;
    }

    /** @internal */
    rec(res: ResourceInfo, ns: string, name: string): Rec | undefined {
        return this.objects.get(res.key)?.get(ns)?.get(name);
    }

    /** @internal sorted records matching the filters */
    select(res: ResourceInfo, namespace: string | undefined, labels?: LabelSelector, fields?: FieldSelector): Rec[] {
        const byNs = this.objects.get(res.key);
        const out: Rec[] = [];
        if (!byNs) return out;
        const maps = namespace !== undefined && res.namespaced ? [byNs.get(namespace)].filter((m): m is Map<string, Rec> => !!m) : [...byNs.values()];
        for (const m of maps) {
            for (const r of m.values()) {
                if (labels && !labels.empty && !labels.matches(r.obj.metadata?.labels)) continue;
                if (fields && !fields.empty && !fields.matches(r.obj)) continue;
                out.push(r);
            }
        }
        out.sort((a, b) => (a.ns === b.ns ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.ns < b.ns ? -1 : 1));
        return out;
    }

    /** @internal state of a resource as of a past resourceVersion, rebuilt from history */
    snapshotAt(res: ResourceInfo, rv: number): Map<string, Rec> | undefined {
        if (rv < this.oldest || rv > this.rv) return undefined;
        const state = new Map<string, Rec>();
        const byNs = this.objects.get(res.key);
        if (byNs) for (const m of byNs.values()) for (const r of m.values()) state.set(`${r.ns}/${r.name}`, r);
        for (let i = this.history.length - 1; i >= this.historyStart; i--) {
            const ev = this.history[i];
            if (ev.rv <= rv) break;
            if (ev.rec.res !== res) continue;
            const k = `${ev.rec.ns}/${ev.rec.name}`;
            if (ev.prev) state.set(k, ev.prev);
            else state.delete(k);
        }
        return state;
    }

    /** @internal history events after rv (rv must be >= oldest) */
    eventsSince(rv: number): HistoryEvent[] {
        // binary search for first event with ev.rv > rv
        let lo = this.historyStart;
        let hi = this.history.length;
        while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (this.history[mid].rv <= rv) lo = mid + 1;
            else hi = mid;
        }
        return this.history.slice(lo);
    }

    // ---- subscriptions ---------------------------------------------------------

    /**
     * In-process watch: the listener is called synchronously for every change
     * of the resource (all resources when ref is null). Returns unsubscribe.
     */
    subscribe(ref: ResourceRef | null, listener: (ev: StoreEvent) => void, opts: { namespace?: string; labelSelector?: string } = {}): () => void {
        const res = ref === null ? null : this.resource(ref);
        const labels = LabelSelector.parse(opts.labelSelector);
        const sub: Subscriber = {
            resKey: res?.key ?? null,
            namespace: opts.namespace,
            labels,
            deliver: (type, rec, ev) =>
                listener({
                    type,
                    resource: rec.res,
                    namespace: rec.ns,
                    name: rec.name,
                    object: rec.obj,
                    previous: ev.prev?.obj,
                    resourceVersion: String(ev.rv),
                }),
        };
        return this.addSubscriber(sub);
    }

    /** @internal */
    addSubscriber(sub: Subscriber): () => void {
        let set = this.subscribers.get(sub.resKey);
        if (!set) this.subscribers.set(sub.resKey, (set = new Set()));
        set.add(sub);
        return () => {
            set!.delete(sub);
        };
    }

    /** @internal how a given event looks to a filtered watcher (null: invisible) */
    static viewFor(sub: { namespace?: string; labels?: LabelSelector; fields?: FieldSelector }, ev: HistoryEvent): { type: EventType; rec: Rec } | null {
        if (sub.namespace !== undefined && ev.rec.res.namespaced && ev.rec.ns !== sub.namespace) return null;
        const m = (r: Rec | undefined) =>
            !!r && (!sub.labels || sub.labels.empty || sub.labels.matches(r.obj.metadata?.labels)) && (!sub.fields || sub.fields.empty || sub.fields.matches(r.obj));
        const filtered = (sub.labels && !sub.labels.empty) || (sub.fields && !sub.fields.empty);
        if (!filtered) return { type: ev.type, rec: ev.rec };
        const cur = m(ev.rec);
        if (ev.type === 'ADDED') return cur ? { type: 'ADDED', rec: ev.rec } : null;
        if (ev.type === 'DELETED') return cur ? { type: 'DELETED', rec: ev.rec } : null;
        const before = m(ev.prev);
        if (cur && before) return { type: 'MODIFIED', rec: ev.rec };
        if (cur) return { type: 'ADDED', rec: ev.rec };
        if (before) {
            // previous content, stamped with the event's resourceVersion (as the watch cache does)
            const old = clone(ev.prev!.obj);
            old.metadata.resourceVersion = String(ev.rv);
            return { type: 'DELETED', rec: { ...ev.prev!, obj: old, json: undefined, listJson: undefined } };
        }
        return null;
    }

    private emit(ev: HistoryEvent): void {
        this.history.push(ev);
        if (this.history.length - this.historyStart > this.historySize) {
            const drop = this.history.length - this.historyStart - this.historySize;
            this.oldest = this.history[this.historyStart + drop - 1].rv;
            this.historyStart += drop;
            if (this.historyStart > 4096 && this.historyStart > this.history.length / 2) {
                this.history.splice(0, this.historyStart);
                this.historyStart = 0;
            }
        }
        for (const key of [ev.rec.res.key, null]) {
            const set = this.subscribers.get(key);
            if (!set) continue;
            for (const sub of [...set]) {
                if (!set.has(sub)) continue;
                const v = KubeStore.viewFor(sub, ev);
                if (!v) continue;
                try {
                    sub.deliver(v.type, v.rec, ev);
                } catch (e) {
                    // a misbehaving subscriber must not break the write path
                    // eslint-disable-next-line no-console
                    console.error('KubeStore subscriber failed:', e);
                }
            }
        }
    }

    // ---- writes ------------------------------------------------------------------

    private checkApiVersionKind(res: ResourceInfo, obj: KObj, required: boolean): void {
        if (!obj.kind) {
            // built-in endpoints default apiVersion/kind from the URL; custom resources (unstructured) need them
            if (required) throw apiError(400, 'BadRequest', `Object 'Kind' is missing in '${JSON.stringify(obj).slice(0, 200)}'`);
            if (!obj.apiVersion) return;
        }
        if (!obj.apiVersion) {
            if (required) throw apiError(400, 'BadRequest', `Object 'apiVersion' is missing in '${JSON.stringify(obj).slice(0, 200)}'`);
            return;
        }
        if (obj.apiVersion !== res.apiVersion) {
            throw apiError(400, 'BadRequest', `the API version in the data (${obj.apiVersion}) does not match the expected API version (${res.apiVersion})`);
        }
        if (obj.kind && obj.kind !== res.kind) {
            throw apiError(400, 'BadRequest', `the kind in the data (${obj.kind}) does not match the expected kind (${res.kind})`);
        }
    }

    private invalid(res: ResourceInfo, name: string, causes: StatusCause[]): KubeApiError {
        const msg = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
        return apiError(422, 'Invalid', `${res.qualifiedKind} ${JSON.stringify(name)} is invalid: ${causes.length > 1 ? `[${msg}]` : msg}`, {
            name,
            group: res.group || undefined,
            kind: res.kind,
            causes,
        });
    }

    notFound(res: ResourceInfo, name: string): KubeApiError {
        return apiError(404, 'NotFound', `${res.qualified} ${JSON.stringify(name)} not found`, { name, group: res.group || undefined, kind: res.plural });
    }

    private conflict(res: ResourceInfo, name: string, why: string): KubeApiError {
        return apiError(409, 'Conflict', `Operation cannot be fulfilled on ${res.qualified} ${JSON.stringify(name)}: ${why}`, {
            name,
            group: res.group || undefined,
            kind: res.plural,
        });
    }

    private checkNamespace(res: ResourceInfo, ns: string, name: string): void {
        if (!res.namespaced) return;
        if (!ns) throw apiError(400, 'BadRequest', 'the namespace of the object is required');
        const nsRes = this.registry.resolve('namespaces');
        let nsRec = this.rec(nsRes, '', ns);
        if (!nsRec && this.autoCreateNamespaces) {
            this.ensureNamespace(ns);
            nsRec = this.rec(nsRes, '', ns);
        }
        if (!nsRec) throw apiError(404, 'NotFound', `namespaces ${JSON.stringify(ns)} not found`, { name: ns, kind: 'namespaces' });
        if (nsRec.obj.metadata.deletionTimestamp) {
            throw apiError(
                403,
                'Forbidden',
                `${res.qualified} ${JSON.stringify(name)} is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
                { name, group: res.group || undefined, kind: res.plural, causes: [{ reason: 'NamespaceTerminating', message: `namespace ${ns} is being terminated`, field: 'metadata.namespace' }] },
            );
        }
    }

    /** Metadata validation shared by all writes. */
    private validate(res: ResourceInfo, obj: KObj, prev: Rec | undefined): void {
        const md = obj.metadata;
        const name = md.name as string;
        const causes: StatusCause[] = [];
        const nameErr = res.plural === 'namespaces' ? labelNameError(name) : subdomainError(name);
        if (nameErr) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(name)}: ${nameErr}`, field: 'metadata.name' });
        for (const [k, v] of Object.entries((md.labels ?? {}) as Record<string, unknown>)) {
            const ke = qualifiedNameError(k);
            if (ke) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(k)}: ${ke}`, field: 'metadata.labels' });
            if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) {
                causes.push({
                    reason: 'FieldValueInvalid',
                    message: `Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
                    field: `metadata.labels`,
                });
            }
        }
        for (const [k, v] of Object.entries((md.annotations ?? {}) as Record<string, unknown>)) {
            const ke = qualifiedNameError(k);
            if (ke) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(k)}: ${ke}`, field: 'metadata.annotations' });
            if (typeof v !== 'string') causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: annotation values must be strings`, field: `metadata.annotations` });
        }
        const fins: unknown[] = md.finalizers ?? [];
        if (!Array.isArray(fins)) causes.push({ reason: 'FieldValueInvalid', message: 'Invalid value: must be a list', field: 'metadata.finalizers' });
        else {
            fins.forEach((f, i) => {
                const fe = typeof f === 'string' ? qualifiedNameError(f) : 'must be a string';
                if (fe) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(f)}: ${fe}`, field: `metadata.finalizers[${i}]` });
            });
            if (prev?.obj.metadata.deletionTimestamp) {
                const old: string[] = prev.obj.metadata.finalizers ?? [];
                const added = fins.filter((f) => !old.includes(f as string));
                if (added.length > 0) {
                    causes.push({ reason: 'FieldValueForbidden', message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`, field: 'metadata.finalizers' });
                }
            }
        }
        if (res.key === '/secrets') {
            for (const [k, v] of Object.entries((obj.data ?? {}) as Record<string, unknown>)) {
                if (typeof v !== 'string' || !BASE64.test(v)) {
                    throw apiError(400, 'BadRequest', `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0 (key ${JSON.stringify(k)})`);
                }
            }
            if (prev && (prev.obj.type ?? 'Opaque') !== (obj.type ?? 'Opaque')) {
                causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(obj.type)}: field is immutable`, field: 'type' });
            }
        }
        if (causes.length > 0) throw this.invalid(res, name, causes);
    }

    /** Resource-specific normalisation on every write (before ownership is computed). */
    private normalize(res: ResourceInfo, obj: KObj, mode: 'create' | 'update' | 'applyConfig'): void {
        if (res.key === '/secrets') {
            if (isPlainObject(obj.stringData)) {
                obj.data = { ...(obj.data ?? {}) };
                for (const [k, v] of Object.entries(obj.stringData)) obj.data[k] = Buffer.from(String(v), 'utf8').toString('base64');
            }
            delete obj.stringData;
            if (!obj.type && mode !== 'applyConfig') obj.type = 'Opaque';
        }
        if (res.key === '/namespaces' && mode !== 'applyConfig') {
            obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name };
            if (mode === 'create') {
                obj.spec = { finalizers: ['kubernetes'] };
                obj.status = { phase: 'Active' };
            }
        }
    }

    private newEntry(manager: string, operation: 'Apply' | 'Update', subresource: string, apiVersion: string): ManagerEntry {
        return { manager, operation, subresource, apiVersion, time: k8sTime(), fields: new Set() };
    }

    private scopeFor(res: ResourceInfo, subresource: string): Scope {
        if (subresource === 'status') return 'status';
        return res.statusSubresource ? 'main' : 'all';
    }

    /** Ownership bookkeeping for non-apply writes. */
    private updateManagers(res: ResourceInfo, prev: Rec | undefined, next: KObj, manager: string, subresource: string): ManagerEntry[] {
        const scope = this.scopeFor(res, subresource);
        const ms = prev ? cloneManagers(prev.managers) : [];
        const before = prev ? flattenFields(prev.obj, scope, res.listTypes) : new Map<string, unknown>();
        const after = flattenFields(next, scope, res.listTypes);
        const changed = new Set<string>();
        for (const [p, v] of after) if (!before.has(p) || !deepEqual(before.get(p), v)) changed.add(p);
        const removed = new Set<string>();
        for (const p of before.keys()) if (!after.has(p)) removed.add(p);
        if (changed.size === 0 && removed.size === 0) return ms;
        const key = managerKey({ manager, operation: 'Update', subresource });
        let own = ms.find((m) => managerKey(m) === key);
        for (const m of ms) {
            if (m === own) continue;
            for (const p of changed) if (m.fields.delete(p)) m.rendered = undefined;
            for (const p of removed) if (m.fields.delete(p)) m.rendered = undefined;
        }
        if (changed.size > 0) {
            if (!own) {
                own = this.newEntry(manager, 'Update', subresource, res.apiVersion);
                ms.push(own);
            }
            for (const p of changed) {
                if (!own.fields.has(p)) {
                    own.fields.add(p);
                    own.rendered = undefined;
                }
            }
            own.time = k8sTime();
        }
        if (own) for (const p of removed) if (own.fields.delete(p)) own.rendered = undefined;
        return ms.filter((m) => m.fields.size > 0);
    }

    private bumpGeneration(res: ResourceInfo, prev: Rec | undefined, next: KObj): void {
        if (!res.generation) {
            delete next.metadata.generation;
            return;
        }
        if (!prev) {
            next.metadata.generation = 1;
            return;
        }
        const strip = (o: KObj) => {
            const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
            return rest;
        };
        let gen = prev.obj.metadata.generation ?? 1;
        if (!deepEqual(strip(prev.obj), strip(next))) gen++;
        if (next.metadata.deletionTimestamp && !prev.obj.metadata.deletionTimestamp) gen++;
        next.metadata.generation = gen;
    }

    /** Commits a new version of an object (or finishes a deletion). */
    private commit(res: ResourceInfo, prev: Rec | undefined, draft: KObj, managers: ManagerEntry[], dryRun: boolean, remove = false): { obj: KObj; created: boolean } {
        const md = draft.metadata;
        // namespaces also wait for spec.finalizers (the namespace controller's "kubernetes")
        const pendingFinalizers = (md.finalizers?.length ?? 0) + (res.key === '/namespaces' ? (draft.spec?.finalizers?.length ?? 0) : 0);
        const finishDelete = remove || (!!md.deletionTimestamp && pendingFinalizers === 0);
        if (Array.isArray(md.finalizers) && md.finalizers.length === 0) delete md.finalizers;
        if (Array.isArray(md.ownerReferences) && md.ownerReferences.length === 0) delete md.ownerReferences;
        if (isPlainObject(md.labels) && Object.keys(md.labels).length === 0) delete md.labels;
        if (isPlainObject(md.annotations) && Object.keys(md.annotations).length === 0) delete md.annotations;
        if (prev && !finishDelete) {
            const a = { ...prev.obj, metadata: { ...prev.obj.metadata, resourceVersion: undefined, managedFields: undefined } };
            const b = { ...draft, metadata: { ...draft.metadata, resourceVersion: undefined, managedFields: undefined } };
            if (deepEqual(a, b) && managersEqual(prev.managers, managers)) {
                return { obj: prev.obj, created: false };
            }
        }
        if (dryRun) {
            const out = clone(draft);
            if (managers.length > 0) out.metadata.managedFields = renderManagedFields(managers);
            return { obj: out, created: !prev };
        }
        const rv = ++this.rv;
        // canonical key order: apiVersion, kind, metadata, ...rest
        const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = draft;
        const meta: Record<string, any> = {};
        for (const k of ['name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields']) {
            if (k === 'resourceVersion') meta[k] = String(rv);
            else if (k === 'managedFields') {
                if (managers.length > 0) meta[k] = renderManagedFields(managers);
            } else if (md[k] !== undefined) meta[k] = md[k];
        }
        for (const [k, v] of Object.entries(md)) if (!(k in meta) && v !== undefined && k !== 'managedFields' && k !== 'resourceVersion') meta[k] = v;
        if (!res.namespaced) delete meta.namespace;
        const obj = deepFreeze({ apiVersion: res.apiVersion, kind: res.kind, metadata: meta, ...rest });
        const rec: Rec = { res, ns: res.namespaced ? meta.namespace : '', name: meta.name, obj, managers };
        let byNs = this.objects.get(res.key);
        if (!byNs) this.objects.set(res.key, (byNs = new Map()));
        let m = byNs.get(rec.ns);
        if (!m) byNs.set(rec.ns, (m = new Map()));
        if (prev) this.unindex(prev);
        if (finishDelete) {
            m.delete(rec.name);
            if (m.size === 0) byNs.delete(rec.ns);
            if (rec.ns) this.nsCounts.set(rec.ns, (this.nsCounts.get(rec.ns) ?? 1) - 1);
            this.emit({ rv, type: 'DELETED', rec, prev });
            this.afterDelete(rec);
        } else {
            m.set(rec.name, rec);
            this.index(rec);
            if (!prev && rec.ns) this.nsCounts.set(rec.ns, (this.nsCounts.get(rec.ns) ?? 0) + 1);
            this.emit({ rv, type: prev ? 'MODIFIED' : 'ADDED', rec, prev });
        }
        return { obj, created: !prev };
    }

    private index(rec: Rec): void {
        const uid = rec.obj.metadata.uid;
        this.uidIndex.set(uid, rec);
        for (const o of rec.obj.metadata.ownerReferences ?? []) {
            if (!o?.uid) continue;
            let s = this.ownerIndex.get(o.uid);
            if (!s) this.ownerIndex.set(o.uid, (s = new Set()));
            s.add(recKey(rec.res.key, rec.ns, rec.name));
        }
    }

    private unindex(rec: Rec): void {
        this.uidIndex.delete(rec.obj.metadata.uid);
        for (const o of rec.obj.metadata.ownerReferences ?? []) {
            const s = this.ownerIndex.get(o?.uid);
            if (!s) continue;
            s.delete(recKey(rec.res.key, rec.ns, rec.name));
            if (s.size === 0) this.ownerIndex.delete(o.uid);
        }
    }

    private later(fn: () => void): void {
        if (this.closed) return;
        const h = setImmediate(() => {
            this.pending.delete(h);
            if (!this.closed) fn();
        });
        this.pending.add(h);
    }

    /** Stops background work (garbage collector, namespace controller). */
    close(): void {
        this.closed = true;
        for (const h of this.pending) clearImmediate(h);
        this.pending.clear();
    }

    private afterDelete(rec: Rec): void {
        const uid = rec.obj.metadata.uid;
        if (this.garbageCollection) {
            const deps = this.ownerIndex.get(uid);
            if (deps) for (const k of [...deps]) this.later(() => this.collectGarbage(k));
        }
        if (rec.ns) {
            const nsRec = this.rec(this.registry.resolve('namespaces'), '', rec.ns);
            if (nsRec?.obj.metadata.deletionTimestamp) this.later(() => this.reconcileNamespace(rec.ns));
        }
    }

    private collectGarbage(key: string): void {
        const [resKey, ns, name] = key.split('|');
        const res = this.registry.all().find((r) => r.key === resKey);
        if (!res) return;
        const rec = this.rec(res, ns, name);
        if (!rec) return;
        const owners: any[] = rec.obj.metadata.ownerReferences ?? [];
        const alive = owners.filter((o) => this.uidIndex.has(o.uid));
        if (alive.length === owners.length) return;
        try {
            if (alive.length === 0) {
                if (!rec.obj.metadata.deletionTimestamp) this.delete(res, ns, name, { fieldManager: 'generic-garbage-collector' });
            } else {
                this.patch(res, ns, name, 'merge', { metadata: { ownerReferences: alive } }, { fieldManager: 'generic-garbage-collector' });
            }
        } catch {
            // raced with another writer: the next owner deletion retries
        }
    }

    private reconcileNamespace(ns: string): void {
        const nsRes = this.registry.resolve('namespaces');
        const nsRec = this.rec(nsRes, '', ns);
        if (!nsRec || !nsRec.obj.metadata.deletionTimestamp) return;
        if ((this.nsCounts.get(ns) ?? 0) > 0) {
            // one sweep is enough: nothing new can be created in a terminating namespace
            if (this.nsSwept.has(nsRec.obj.metadata.uid)) return;
            this.nsSwept.add(nsRec.obj.metadata.uid);
            for (const res of this.registry.all()) {
                if (!res.namespaced) continue;
                for (const r of this.select(res, ns)) {
                    if (!r.obj.metadata.deletionTimestamp) this.delete(res, ns, r.name, { fieldManager: 'namespace-controller' });
                }
            }
            if ((this.nsCounts.get(ns) ?? 0) > 0) return;
        }
        // empty: the namespace controller removes spec.finalizers and the namespace goes away
        this.nsSwept.delete(nsRec.obj.metadata.uid);
        const draft = clone(nsRec.obj);
        draft.spec = { ...(draft.spec ?? {}), finalizers: [] };
        if ((nsRec.obj.metadata.finalizers ?? []).length > 0) this.commit(nsRes, nsRec, draft, nsRec.managers, false);
        else this.commit(nsRes, nsRec, draft, nsRec.managers, false, true);
    }

    /** Create (POST). The body must carry metadata.namespace for namespaced resources. */
    create(ref: ResourceRef, body: KObj, opts: WriteOptions = {}): KObj {
        return clone(this.createInternal(this.resource(ref), body, opts).obj);
    }

    /** @internal */
    createInternal(res: ResourceInfo, body: KObj, opts: WriteOptions, applyManager?: { manager: string; fields?: Set<string> }): { obj: KObj; created: boolean } {
        if (!isPlainObject(body)) throw apiError(400, 'BadRequest', 'the body of the request was in an unknown format');
        this.checkApiVersionKind(res, body, !res.builtin);
        const draft = clone(body);
        draft.apiVersion = res.apiVersion;
        draft.kind = res.kind;
        const md = (draft.metadata = isPlainObject(draft.metadata) ? draft.metadata : {});
        if (!md.name && md.generateName) md.name = `${md.generateName}${randomSuffix()}`;
        const ns = res.namespaced ? (md.namespace ?? '') : '';
        if (!md.name) {
            throw this.invalid(res, '', [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }]);
        }
        if (res.namespaced) md.namespace = ns;
        else delete md.namespace;
        this.checkNamespace(res, ns, md.name);
        if (this.rec(res, ns, md.name)) {
            throw apiError(409, 'AlreadyExists', `${res.qualified} ${JSON.stringify(md.name)} already exists`, {
                name: md.name,
                group: res.group || undefined,
                kind: res.plural,
            });
        }
        for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'selfLink', 'generation']) delete md[k];
        md.uid = randomUUID();
        md.creationTimestamp = k8sTime();
        if (res.statusSubresource) delete draft.status;
        this.normalize(res, draft, 'create');
        this.validate(res, draft, undefined);
        this.bumpGeneration(res, undefined, draft);
        let managers: ManagerEntry[];
        if (applyManager) {
            const e = this.newEntry(applyManager.manager, 'Apply', '', body.apiVersion ?? res.apiVersion);
            e.fields = applyManager.fields ?? new Set(flattenFields(draft, this.scopeFor(res, ''), res.listTypes).keys());
            managers = e.fields.size > 0 ? [e] : [];
        } else {
            managers = this.updateManagers(res, undefined, draft, opts.fieldManager ?? 'test', '');
        }
        return this.commit(res, undefined, draft, managers, !!opts.dryRun);
    }

    /** Replace (PUT); honours metadata.resourceVersion as a precondition when set. */
    update(ref: ResourceRef, body: KObj, opts: WriteOptions = {}): KObj {
        const res = this.resource(ref);
        if (!isPlainObject(body)) throw apiError(400, 'BadRequest', 'the body of the request was in an unknown format');
        this.checkApiVersionKind(res, body, !res.builtin);
        const ns = res.namespaced ? (body.metadata?.namespace ?? '') : '';
        const name = body.metadata?.name;
        if (!name) throw this.invalid(res, '', [{ reason: 'FieldValueRequired', message: 'Required value: name is required', field: 'metadata.name' }]);
        const prev = this.rec(res, ns, name);
        if (!prev) throw this.notFound(res, name);
        const rv = body.metadata?.resourceVersion;
        if (rv !== undefined && rv !== '' && rv !== prev.obj.metadata.resourceVersion) {
            throw this.conflict(res, name, 'the object has been modified; please apply your changes to the latest version and try again');
        }
        return clone(this.replaceFrom(res, prev, body, opts).obj);
    }

    /** Update status only (PUT .../status). */
    updateStatus(ref: ResourceRef, body: KObj, opts: WriteOptions = {}): KObj {
        return this.update(ref, body, { ...opts, subresource: 'status' });
    }

    /** @internal shared tail of PUT and non-apply PATCH */
    replaceFrom(res: ResourceInfo, prev: Rec, candidate: KObj, opts: WriteOptions, owned = false): { obj: KObj; created: boolean } {
        const sub = opts.subresource ?? '';
        if (sub === 'status' && !res.statusSubresource) throw this.notFound(res, prev.name);
        let draft: KObj;
        if (sub === 'status') {
            draft = cloneForWrite(prev.obj);
            if (candidate.status === undefined) delete draft.status;
            else draft.status = clone(candidate.status);
        } else {
            draft = owned ? candidate : clone(candidate);
            draft.apiVersion = res.apiVersion;
            draft.kind = res.kind;
            draft.metadata = isPlainObject(draft.metadata) ? draft.metadata : {};
            const pm = prev.obj.metadata;
            for (const k of ['name', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation']) {
                if (pm[k] === undefined) delete draft.metadata[k];
                else draft.metadata[k] = clone(pm[k]);
            }
            if (res.statusSubresource) {
                if (prev.obj.status === undefined) delete draft.status;
                else draft.status = clone(prev.obj.status);
            }
            if (res.key === '/namespaces') draft.spec = clone(prev.obj.spec);
            this.normalize(res, draft, 'update');
        }
        this.validate(res, draft, prev);
        this.bumpGeneration(res, prev, draft);
        const managers = this.updateManagers(res, prev, draft, opts.fieldManager ?? 'test', sub);
        return this.commit(res, prev, draft, managers, !!opts.dryRun);
    }

    /** Non-apply PATCH. */
    patch(ref: ResourceRef, namespace: string, name: string, type: 'merge' | 'json' | 'strategic', patch: unknown, opts: WriteOptions = {}): KObj {
        return clone(this.patchInternal(this.resource(ref), namespace, name, type, patch, opts).obj);
    }

    /** @internal */
    patchInternal(res: ResourceInfo, namespace: string, name: string, type: 'merge' | 'json' | 'strategic', patch: unknown, opts: WriteOptions): { obj: KObj; created: boolean } {
        const ns = res.namespaced ? namespace : '';
        const prev = this.rec(res, ns, name);
        if (type === 'json' && !Array.isArray(patch)) jsonPatch({}, patch); // throws the decode error
        if (!prev) throw this.notFound(res, name);
        if (type !== 'json' && !isPlainObject(patch)) throw apiError(400, 'BadRequest', 'json: cannot unmarshal non-object into Go value of type map[string]interface {}');
        const patched = type === 'json' ? jsonPatch(cloneForWrite(prev.obj), patch) : jsonMergePatch(cloneForWrite(prev.obj), patch);
        if (!isPlainObject(patched)) throw invalidPatch('patch produced a non-object');
        const wantRv = type === 'json' ? patched.metadata?.resourceVersion : (patch as any)?.metadata?.resourceVersion;
        if (wantRv !== undefined && wantRv !== null && wantRv !== prev.obj.metadata.resourceVersion) {
            throw this.conflict(res, name, 'the object has been modified; please apply your changes to the latest version and try again');
        }
        if (patched.metadata?.name !== undefined && patched.metadata.name !== name) {
            throw apiError(400, 'BadRequest', `the name of the object (${patched.metadata.name}) does not match the name on the URL (${name})`);
        }
        return this.replaceFrom(res, prev, patched, opts, true);
    }

    /**
     * Server-side apply. `config` is the applied configuration (apiVersion,
     * kind, metadata.name required). Creates the object when missing.
     */
    apply(ref: ResourceRef, config: KObj, opts: WriteOptions & { fieldManager: string }): KObj {
        const res = this.resource(ref);
        const ns = res.namespaced ? (config?.metadata?.namespace ?? '') : '';
        return clone(this.applyInternal(res, ns, config?.metadata?.name, config, opts).obj);
    }

    /** @internal */
    applyInternal(res: ResourceInfo, namespace: string, name: string, config: unknown, opts: WriteOptions): { obj: KObj; created: boolean } {
        if (!isPlainObject(config)) throw apiError(400, 'BadRequest', 'error decoding YAML: the applied configuration must be an object');
        const manager = opts.fieldManager;
        if (!manager) throw apiError(400, 'BadRequest', 'PATCH, application/apply-patch+yaml requests require a fieldManager query parameter');
        if (!config.apiVersion || !config.kind) {
            throw apiError(400, 'BadRequest', `invalid object type: ${config.apiVersion ?? ''}, Kind=${config.kind ?? ''}`);
        }
        this.checkApiVersionKind(res, config, true);
        const cfgMeta = isPlainObject(config.metadata) ? config.metadata : {};
        if (cfgMeta.name !== undefined && cfgMeta.name !== name) {
            throw apiError(400, 'BadRequest', `the name of the object (${cfgMeta.name}) does not match the name on the URL (${name})`);
        }
        if (res.namespaced && cfgMeta.namespace !== undefined && cfgMeta.namespace !== namespace) {
            throw apiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
        }
        const ns = res.namespaced ? namespace : '';
        const sub = opts.subresource ?? '';
        const scope = this.scopeFor(res, sub);
        const existing = this.rec(res, ns, name);
        if (cfgMeta.resourceVersion !== undefined && cfgMeta.resourceVersion !== null && cfgMeta.resourceVersion !== existing?.obj.metadata.resourceVersion) {
            if (!existing) throw this.notFound(res, name);
            throw this.conflict(res, name, 'the object has been modified; please apply your changes to the latest version and try again');
        }
        // the applied configuration, restricted to the scope being written
        let cfg: KObj = stripNulls(config);
        cfg.metadata = { ...(cfg.metadata ?? {}), name };
        if (res.namespaced) cfg.metadata.namespace = ns;
        if (scope === 'main') delete cfg.status;
        if (scope === 'status') cfg = { apiVersion: cfg.apiVersion, kind: cfg.kind, metadata: { name, namespace: cfg.metadata.namespace }, ...(cfg.status !== undefined ? { status: cfg.status } : {}) };
        this.normalize(res, cfg, 'applyConfig');
        const applied = flattenFields(cfg, scope, res.listTypes);
        const prev = this.rec(res, ns, name);
        if (!prev) {
            if (sub === 'status') throw this.notFound(res, name);
            return this.createInternal(res, { ...cfg, apiVersion: res.apiVersion, kind: res.kind }, opts, { manager, fields: new Set(applied.keys()) });
        }
        const live = flattenFields(prev.obj, scope, res.listTypes);
        const ms = cloneManagers(prev.managers);
        const ownKey = managerKey({ manager, operation: 'Apply', subresource: sub });
        const conflicts: { m: ManagerEntry; path: string }[] = [];
        for (const m of ms) {
            if (managerKey(m) === ownKey) continue;
            for (const q of m.fields) {
                if (applied.has(q)) {
                    if (!deepEqual(applied.get(q), live.get(q))) conflicts.push({ m, path: q });
                    continue;
                }
                // the applier sets an atomic value above a field someone else owns
                const segs = q.split(SEP);
                for (let i = segs.length - 1; i > 0; i--) {
                    const anc = segs.slice(0, i).join(SEP);
                    if (applied.has(anc)) {
                        if (!deepEqual(applied.get(anc), cfgValueAt(prev.obj, anc))) conflicts.push({ m, path: q });
                        break;
                    }
                }
            }
        }
        if (conflicts.length > 0 && !opts.force) throw conflictError(conflicts);
        for (const c of conflicts) {
            c.m.fields.delete(c.path);
            c.m.rendered = undefined;
        }
        let own = ms.find((m) => managerKey(m) === ownKey);
        const previouslyOwned = own ? new Set(own.fields) : new Set<string>();
        if (!own) {
            own = this.newEntry(manager, 'Apply', sub, config.apiVersion as string);
            ms.push(own);
        }
        own.fields = new Set(applied.keys());
        own.rendered = undefined;
        own.apiVersion = config.apiVersion as string;
        own.time = k8sTime();
        // merge
        let draft: KObj;
        if (scope === 'status') {
            draft = cloneForWrite(prev.obj);
            if (cfg.status !== undefined) draft.status = applyMerge(prev.obj.status, cfg.status, ['status'], res.listTypes);
        } else {
            const { apiVersion: _a, kind: _k, ...cfgRest } = cfg;
            draft = applyMerge(cloneForWrite(prev.obj), cfgRest, [], res.listTypes);
        }
        // remove what the applier dropped and nobody else owns
        const appliedPrefixes = new Set<string>();
        for (const p of applied.keys()) {
            const segs = p.split(SEP);
            for (let i = 1; i < segs.length; i++) appliedPrefixes.add(segs.slice(0, i).join(SEP));
        }
        for (const q of previouslyOwned) {
            if (applied.has(q) || appliedPrefixes.has(q)) continue;
            if (ms.some((m) => m !== own && m.fields.has(q))) continue;
            const segs = q.split(SEP);
            let underApplied = false;
            for (let i = segs.length - 1; i > 0 && !underApplied; i--) if (applied.has(segs.slice(0, i).join(SEP))) underApplied = true;
            if (underApplied) continue;
            removeFieldPath(draft, q);
        }
        const pm = prev.obj.metadata;
        for (const k of ['name', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'resourceVersion']) {
            if (pm[k] === undefined) delete draft.metadata[k];
            else draft.metadata[k] = pm[k];
        }
        this.validate(res, draft, prev);
        this.bumpGeneration(res, prev, draft);
        return this.commit(
            res,
            prev,
            draft,
            ms.filter((m) => m.fields.size > 0),
            !!opts.dryRun,
        );
    }

    /**
     * DELETE. With finalizers the object gets a deletionTimestamp and is
     * returned (`pending: true`); otherwise it is removed at once.
     */
    delete(
        ref: ResourceRef,
        namespace: string,
        name: string,
        opts: WriteOptions & { preconditions?: { uid?: string; resourceVersion?: string } } = {},
    ): { pending: boolean; object: Readonly<KObj> } {
        const res = this.resource(ref);
        const ns = res.namespaced ? namespace : '';
        const prev = this.rec(res, ns, name);
        if (!prev) throw this.notFound(res, name);
        const pre = opts.preconditions;
        if (pre?.uid && pre.uid !== prev.obj.metadata.uid) {
            throw this.conflict(res, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${prev.obj.metadata.uid}`);
        }
        if (pre?.resourceVersion && pre.resourceVersion !== prev.obj.metadata.resourceVersion) {
            throw this.conflict(res, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in meta: ${prev.obj.metadata.resourceVersion}`);
        }
        if (prev.obj.metadata.deletionTimestamp) return { pending: true, object: prev.obj };
        const draft = clone(prev.obj);
        const hasFinalizers = (prev.obj.metadata.finalizers ?? []).length > 0;
        if (!hasFinalizers && res.key !== '/namespaces') {
            // immediate deletion: one DELETED event carrying the last state
            const r = this.commit(res, prev, draft, prev.managers, !!opts.dryRun, true);
            return { pending: false, object: r.obj };
        }
        draft.metadata.deletionTimestamp = k8sTime();
        draft.metadata.deletionGracePeriodSeconds = 0;
        if (res.key === '/namespaces') {
            draft.status = { ...(draft.status ?? {}), phase: 'Terminating' };
            const r = this.commit(res, prev, draft, prev.managers, !!opts.dryRun);
            if (!opts.dryRun) this.later(() => this.reconcileNamespace(name));
            return { pending: true, object: r.obj };
        }
        this.bumpGeneration(res, prev, draft);
        const r = this.commit(res, prev, draft, prev.managers, !!opts.dryRun);
        return { pending: true, object: r.obj };
    }

    /**
     * Read-modify-write helper for in-process controllers: `mutate` edits a
     * clone of the current object; the result is written as an update of the
     * main resource or of `/status`. Returns the stored (frozen) result, or
     * undefined when the object is gone.
     */
    mutate(ref: ResourceRef, namespace: string, name: string, mutate: (obj: KObj) => void, opts: WriteOptions = {}): Readonly<KObj> | undefined {
        const res = this.resource(ref);
        const prev = this.rec(res, res.namespaced ? namespace : '', name);
        if (!prev) return undefined;
        const draft = cloneForWrite(prev.obj);
        mutate(draft);
        return this.replaceFrom(res, prev, draft, opts, true).obj;
    }
}

function cfgValueAt(obj: any, p: string): unknown {
    let cur = obj;
    for (const seg of p.split(SEP)) {
        if (!seg.startsWith('f:') || !isPlainObject(cur)) return undefined;
        cur = cur[seg.slice(2)];
    }
    return cur;
}

function conflictError(conflicts: { m: ManagerEntry; path: string }[]): KubeApiError {
    const byManager = new Map<ManagerEntry, string[]>();
    for (const c of conflicts) {
        if (!byManager.has(c.m)) byManager.set(c.m, []);
        byManager.get(c.m)!.push(prettyPath(c.path));
    }
    const who = (m: ManagerEntry, plural: boolean) =>
        `conflict${plural ? 's' : ''} with ${JSON.stringify(m.manager)}${m.operation === 'Update' ? '' : ''}${m.subresource ? ` with subresource ${JSON.stringify(m.subresource)}` : ''} using ${m.apiVersion}`;
    let message: string;
    if (conflicts.length === 1) {
        message = `Apply failed with 1 conflict: ${who(conflicts[0].m, false)}: ${prettyPath(conflicts[0].path)}`;
    } else {
        const parts = [...byManager].map(([m, paths]) => `${who(m, true)}:\n${paths.map((p) => `- ${p}`).join('\n')}`);
        message = `Apply failed with ${conflicts.length} conflicts: ${parts.join('\n')}`;
    }
    return apiError(409, 'Conflict', message, {
        causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: who(c.m, false), field: prettyPath(c.path) })),
    });
}

// ---------------------------------------------------------------------------
// Request log and fault injection
// ---------------------------------------------------------------------------

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'apply' | 'delete' | 'deletecollection' | 'discovery' | 'other';

/** What the server understood of a request (also passed to fault matchers). */
export interface RequestInfo {
    method: string;
    path: string;
    query: Record<string, string>;
    verb: Verb;
    group?: string;
    version?: string;
    resource?: string;
    namespace?: string;
    name?: string;
    subresource?: string;
    fieldManager?: string;
    userAgent?: string;
}

export interface RequestLogEntry extends RequestInfo {
    status: number;
    /** Date.now() when the request arrived */
    at: number;
    durationMs: number;
}

export type RequestMatcher =
    | ((r: RequestInfo) => boolean)
    | Partial<{
          method: string;
          verb: Verb | Verb[];
          resource: string;
          namespace: string;
          name: string;
          subresource: string;
          path: string | RegExp;
      }>;

function matches(m: RequestMatcher | undefined, r: RequestInfo): boolean {
    if (!m) return true;
    if (typeof m === 'function') return m(r);
    if (m.method && m.method.toUpperCase() !== r.method) return false;
    if (m.verb && !(Array.isArray(m.verb) ? m.verb : [m.verb]).includes(r.verb)) return false;
    if (m.resource && m.resource !== r.resource) return false;
    if (m.namespace && m.namespace !== r.namespace) return false;
    if (m.name && m.name !== r.name) return false;
    if (m.subresource !== undefined && m.subresource !== (r.subresource ?? '')) return false;
    if (m.path && (typeof m.path === 'string' ? !r.path.startsWith(m.path) : !m.path.test(r.path))) return false;
    return true;
}

interface Fault {
    remaining: number;
    match?: RequestMatcher;
    kind: 'throttle' | 'fail' | 'delay';
    status?: number;
    retryAfterSeconds?: number;
    delayMs?: number;
    message?: string;
}

/** Fault injection for the HTTP API (in-process store calls are not affected). */
export class FaultInjector {
    private faults: Fault[] = [];

    constructor(private readonly server: KubeApiTestServer) {}

    /** The next `count` matching requests get 429 TooManyRequests with Retry-After. */
    throttle(count: number, retryAfterSeconds = 1, match?: RequestMatcher): this {
        this.faults.push({ kind: 'throttle', remaining: count, retryAfterSeconds, match });
        return this;
    }

    /** The next `count` matching requests fail with `status` (500, 503, 504...). */
    fail(count: number, status = 500, match?: RequestMatcher, message?: string): this {
        this.faults.push({ kind: 'fail', remaining: count, status, match, message });
        return this;
    }

    /** Adds latency to the next `count` matching requests (default: all). */
    delay(ms: number, match?: RequestMatcher, count = Infinity): this {
        this.faults.push({ kind: 'delay', remaining: count, delayMs: ms, match });
        return this;
    }

    /** Closes every open watch connection abruptly (socket destroyed). */
    dropWatches(): number {
        return this.server.dropWatches();
    }

    /** Forgets the event history: older resourceVersions get 410. */
    compact(): void {
        this.server.compact();
    }

    clear(): void {
        this.faults = [];
    }

    /** Faults still armed. */
    get pending(): number {
        return this.faults.filter((f) => f.remaining > 0).length;
    }

    /** @internal */
    take(r: RequestInfo): { delayMs: number; error?: KubeApiError } {
        let delayMs = 0;
        let error: KubeApiError | undefined;
        for (const f of this.faults) {
            if (f.remaining <= 0 || !matches(f.match, r)) continue;
            if (f.kind === 'delay') {
                f.remaining--;
                delayMs += f.delayMs ?? 0;
                continue;
            }
            if (error) continue;
            f.remaining--;
            if (f.kind === 'throttle') {
                const s = f.retryAfterSeconds ?? 1;
                error = apiError(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: s }, { 'Retry-After': String(s) });
            } else {
                const code = f.status ?? 500;
                const reason = code === 503 ? 'ServiceUnavailable' : code === 504 ? 'Timeout' : 'InternalError';
                const msg = f.message ?? (code === 503 ? 'the server is currently unable to handle the request' : code === 504 ? 'the server was unable to return a response in the time allotted, but may still be processing the request' : 'Internal error occurred: injected fault');
                error = apiError(code, reason, msg, code === 500 ? { causes: [{ message: f.message ?? 'injected fault' }] } : undefined);
            }
        }
        this.faults = this.faults.filter((f) => f.remaining > 0);
        return { delayMs, error };
    }
}

// ---------------------------------------------------------------------------
// HTTP server
// ---------------------------------------------------------------------------

export interface KubeApiTestServerOptions extends KubeStoreOptions {
    /** serve HTTPS with a throw-away self-signed certificate made by openssl (default false) */
    tls?: boolean;
    /** bearer token required from clients; null disables authentication (default "test-token") */
    token?: string | null;
    host?: string;
    port?: number;
    /** interval of BOOKMARK events on watches that allow them (default 1000 ms; real servers: ~1 min) */
    bookmarkIntervalMs?: number;
    /** watch duration when the client sends no timeoutSeconds (default 1800 s) */
    defaultWatchTimeoutSeconds?: number;
    /** answer 410 to lists whose resourceVersion is older than the retained window (default false = real behaviour) */
    strictListResourceVersion?: boolean;
    /** register unknown plurals of non-core groups on first use (default true) */
    autoRegisterResources?: boolean;
    /** keep the request log (default true) */
    logRequests?: boolean;
    /** reported by /version */
    kubernetesVersion?: string;
}

interface ActiveWatch {
    res: http.ServerResponse;
    socket: Duplex | null;
    close: () => void;
}

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

export class KubeApiTestServer {
    readonly store: KubeStore;
    readonly faults: FaultInjector;
    readonly requests: RequestLogEntry[] = [];
    readonly token: string | null;
    readonly options: KubeApiTestServerOptions;
    private server?: http.Server | https.Server;
    private baseUrl?: string;
    private caPem?: string;
    private readonly watches = new Set<ActiveWatch>();
    private readonly sockets = new Set<Duplex>();
    bookmarkIntervalMs: number;

    constructor(opts: KubeApiTestServerOptions = {}) {
        this.options = opts;
        this.store = new KubeStore(opts);
        this.faults = new FaultInjector(this);
        this.token = opts.token === undefined ? 'test-token' : opts.token;
        this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 1000;
    }

    /** Starts listening; resolves to the base URL. */
    async start(): Promise<string> {
        if (this.baseUrl) return this.baseUrl;
        const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
            this.handle(req, res).catch((e) => {
                if (!res.headersSent) this.sendStatus(res, apiError(500, 'InternalError', `Internal error occurred: ${(e as Error).message}`).status);
                else res.destroy();
            });
        };
        if (this.options.tls) {
            const { key, cert } = makeSelfSignedCert();
            this.caPem = cert;
            this.server = https.createServer({ key, cert }, handler);
        } else {
            this.server = http.createServer(handler);
        }
        this.server.keepAliveTimeout = 60_000;
        (this.server as http.Server).on('connection', (s: Duplex) => {
            this.sockets.add(s);
            s.on('close', () => this.sockets.delete(s));
        });
        const host = this.options.host ?? '127.0.0.1';
        await new Promise<void>((resolve, reject) => {
            this.server!.once('error', reject);
            this.server!.listen(this.options.port ?? 0, host, () => resolve());
        });
        const port = (this.server.address() as AddressInfo).port;
        this.baseUrl = `${this.options.tls ? 'https' : 'http'}://${host}:${port}`;
        return this.baseUrl;
    }

    /** Closes all connections and stops background work. */
    async stop(): Promise<void> {
        this.store.close();
        for (const w of [...this.watches]) w.close();
        const srv = this.server;
        this.server = undefined;
        this.baseUrl = undefined;
        if (!srv) return;
        for (const s of this.sockets) s.destroy();
        await new Promise<void>((resolve) => srv.close(() => resolve()));
    }

    get url(): string {
        if (!this.baseUrl) throw new Error('KubeApiTestServer not started');
        return this.baseUrl;
    }

    /** PEM of the serving certificate (TLS only). */
    get caCertificate(): string | undefined {
        return this.caPem;
    }

    /**
     * A kubeconfig for this server. Plain HTTP needs
     * `insecure-skip-tls-verify: true`: client-node 1.4 refuses http:// otherwise.
     */
    kubeconfigYaml(opts: { namespace?: string; context?: string } = {}): string {
        const ctx = opts.context ?? 'metal3-test';
        const cluster: Record<string, unknown> = { server: this.url };
        if (this.caPem) cluster['certificate-authority-data'] = Buffer.from(this.caPem).toString('base64');
        else cluster['insecure-skip-tls-verify'] = true;
        const user: Record<string, unknown> = this.token ? { token: this.token } : {};
        return YAML.stringify({
            apiVersion: 'v1',
            kind: 'Config',
            clusters: [{ name: ctx, cluster }],
            users: [{ name: ctx, user }],
            contexts: [{ name: ctx, context: { cluster: ctx, user: ctx, namespace: opts.namespace ?? 'default' } }],
            'current-context': ctx,
            preferences: {},
        });
    }

    kubeConfig(opts: { namespace?: string } = {}): KubeConfig {
        const kc = new KubeConfig();
        kc.loadFromString(this.kubeconfigYaml(opts));
        return kc;
    }

    /** Abruptly closes every open watch (socket destroyed mid-stream). */
    dropWatches(): number {
        const ws = [...this.watches];
        for (const w of ws) {
            this.watches.delete(w);
            w.close();
            (w.socket ?? w.res.socket)?.destroy();
        }
        return ws.length;
    }

    /** Ends every open watch cleanly (as when timeoutSeconds expires). */
    endWatches(): number {
        const ws = [...this.watches];
        for (const w of ws) {
            w.close();
            if (!w.res.writableEnded) w.res.end();
        }
        return ws.length;
    }

    get activeWatches(): number {
        return this.watches.size;
    }

    compact(): void {
        this.store.compact();
    }

    ensureNamespace(name: string): KObj {
        return this.store.ensureNamespace(name);
    }

    // ---- request log helpers ------------------------------------------------------

    /** Requests matching a filter (same matcher type as fault injection; extra: status). */
    requestsMatching(filter?: RequestMatcher & { status?: number }): RequestLogEntry[] {
        return this.requests.filter((r) => matches(filter, r) && (typeof filter === 'function' || filter?.status === undefined || filter.status === r.status));
    }

    countRequests(filter?: RequestMatcher & { status?: number }): number {
        return this.requestsMatching(filter).length;
    }

    /** e.g. { apply: 100, get: 3, watch: 2 } */
    countsByVerb(filter?: RequestMatcher): Record<string, number> {
        const out: Record<string, number> = {};
        for (const r of this.requestsMatching(filter)) out[r.verb] = (out[r.verb] ?? 0) + 1;
        return out;
    }

    /** e.g. { GET: 10, PATCH: 100 } */
    countsByMethod(filter?: RequestMatcher): Record<string, number> {
        const out: Record<string, number> = {};
        for (const r of this.requestsMatching(filter)) out[r.method] = (out[r.method] ?? 0) + 1;
        return out;
    }

    /** Requests that addressed one object by name (e.g. per-host request counts). */
    requestsFor(name: string, filter?: RequestMatcher): RequestLogEntry[] {
        return this.requestsMatching(filter).filter((r) => r.name === name);
    }

    /** name → number of requests addressed to it (optionally filtered). */
    countsByName(filter?: RequestMatcher): Map<string, number> {
        const out = new Map<string, number>();
        for (const r of this.requestsMatching(filter)) if (r.name) out.set(r.name, (out.get(r.name) ?? 0) + 1);
        return out;
    }

    clearRequests(): void {
        this.requests.length = 0;
    }

    // ---- request handling --------------------------------------------------------

    private parse(req: http.IncomingMessage, url: URL): RequestInfo & { isWatchPath?: boolean; discovery?: string; segments?: string[] } {
        const method = (req.method ?? 'GET').toUpperCase();
        const query: Record<string, string> = {};
        for (const [k, v] of url.searchParams) query[k] = v;
        const ua = req.headers['user-agent'];
        const info: RequestInfo & { isWatchPath?: boolean; discovery?: string } = {
            method,
            path: url.pathname,
            query,
            verb: 'other',
            userAgent: Array.isArray(ua) ? ua[0] : ua,
            fieldManager: query.fieldManager,
        };
        let segs: string[];
        try {
            segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
        } catch {
            return info;
        }
        let rest: string[];
        if (segs[0] === 'api') {
            if (segs.length === 1) return { ...info, verb: 'discovery', discovery: 'api' };
            info.group = '';
            info.version = segs[1];
            rest = segs.slice(2);
        } else if (segs[0] === 'apis') {
            if (segs.length === 1) return { ...info, verb: 'discovery', discovery: 'apis' };
            if (segs.length === 2) return { ...info, verb: 'discovery', discovery: 'group', group: segs[1] };
            info.group = segs[1];
            info.version = segs[2];
            rest = segs.slice(3);
        } else {
            return info;
        }
        if (rest.length === 0) return { ...info, verb: 'discovery', discovery: 'resources' };
        if (rest[0] === 'watch') {
            info.isWatchPath = true;
            rest = rest.slice(1);
        }
        if (rest[0] === 'namespaces' && rest.length >= 3 && !(rest.length === 3 && NAMESPACE_SUBRESOURCES.has(rest[2]))) {
            info.namespace = rest[1];
            rest = rest.slice(2);
        }
        if (rest.length === 0 || rest.length > 3) return info;
        info.resource = rest[0];
        info.name = rest[1];
        info.subresource = rest[2];
        const isWatch = info.isWatchPath || query.watch === 'true' || query.watch === '1';
        switch (method) {
            case 'GET':
                info.verb = info.name ? (isWatch ? 'watch' : 'get') : isWatch ? 'watch' : 'list';
                break;
            case 'POST':
                info.verb = 'create';
                break;
            case 'PUT':
                info.verb = 'update';
                break;
            case 'PATCH': {
                const ct = String(req.headers['content-type'] ?? '');
                info.verb = ct.startsWith('application/apply-patch') ? 'apply' : 'patch';
                break;
            }
            case 'DELETE':
                info.verb = info.name ? 'delete' : 'deletecollection';
                break;
            default:
                info.verb = 'other';
        }
        return info;
    }

    private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const at = Date.now();
        const url = new URL(req.url ?? '/', 'http://localhost');
        const info = this.parse(req, url);
        const { isWatchPath: _w, discovery: _d, ...logged } = info;
        const log = (status: number) => {
            if (this.options.logRequests === false) return;
            const entry = { ...logged, status, at, durationMs: Date.now() - at } as RequestLogEntry;
            for (const k of Object.keys(entry) as (keyof RequestLogEntry)[]) if (entry[k] === undefined) delete entry[k];
            this.requests.push(entry);
        };
        const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
            log(status);
            this.sendJson(res, status, body, headers);
        };
        try {
            if (this.token) {
                const auth = req.headers.authorization ?? '';
                if (auth !== `Bearer ${this.token}` && !['/healthz', '/readyz', '/livez'].includes(url.pathname)) {
                    throw apiError(401, 'Unauthorized', 'Unauthorized');
                }
            }
            const body = await readBody(req);
            const fault = this.faults.take(info);
            if (fault.delayMs > 0) await new Promise((r) => setTimeout(r, fault.delayMs));
            if (fault.error) throw fault.error;
            if (['/healthz', '/readyz', '/livez'].includes(url.pathname)) {
                log(200);
                res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
                res.end('ok');
                return;
            }
            if (url.pathname === '/version') {
                const v = this.options.kubernetesVersion ?? 'v1.31.0';
                const [maj, min] = v.replace(/^v/, '').split('.');
                return send(200, {
                    major: maj,
                    minor: min,
                    gitVersion: v,
                    gitCommit: '0000000000000000000000000000000000000000',
                    gitTreeState: 'clean',
                    buildDate: '2024-08-13T07:28:49Z',
                    goVersion: 'go1.22.5',
                    compiler: 'gc',
                    platform: 'linux/amd64',
                });
            }
            if (info.discovery) return send(200, this.discovery(info, req));
            if (!info.resource || info.version === undefined || info.group === undefined) throw pathNotFound();
            let res0 = this.store.registry.lookup(info.group, info.version, info.resource);
            if (!res0 && info.group !== '' && this.options.autoRegisterResources !== false) {
                let kind: string | undefined;
                try {
                    kind = JSON.parse(body.toString('utf8') || '{}')?.kind;
                } catch {
                    kind = undefined;
                }
                const sing = info.resource.endsWith('ies') ? `${info.resource.slice(0, -3)}y` : info.resource.replace(/e?s$/, '');
                res0 = this.store.registry.register({
                    group: info.group,
                    version: info.version,
                    plural: info.resource,
                    kind: kind ?? sing.charAt(0).toUpperCase() + sing.slice(1),
                    namespaced: info.namespace !== undefined,
                });
            }
            if (!res0) throw pathNotFound();
            const resInfo = res0;
            if (info.namespace !== undefined && !resInfo.namespaced) throw pathNotFound();
            if (resInfo.namespaced && info.namespace === undefined && info.name !== undefined) throw pathNotFound();
            if (info.subresource && !(info.subresource === 'status' && resInfo.statusSubresource) && !(info.subresource === 'finalize' && resInfo.key === '/namespaces')) {
                throw pathNotFound();
            }
            const ns = info.namespace ?? '';
            const q = info.query;
            const dryRun = q.dryRun === 'All';
            if (q.dryRun !== undefined && q.dryRun !== 'All') throw apiError(400, 'BadRequest', `dryRun: Unsupported value: "${q.dryRun}": supported values: "All"`);
            const sub = info.subresource === 'status' ? 'status' : '';
            switch (info.verb) {
                case 'get': {
                    const r = this.store.rec(resInfo, resInfo.namespaced ? ns : '', info.name!);
                    if (!r) throw this.store.notFound(resInfo, info.name!);
                    log(200);
                    return this.sendRaw(res, 200, objJson(r));
                }
                case 'list':
                    return this.serveList(resInfo, info, res, log);
                case 'watch':
                    return this.serveWatch(resInfo, info, req, res, log);
                case 'create': {
                    if (info.name) throw apiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
                    const obj = parseJson(body);
                    if (!isPlainObject(obj)) throw apiError(400, 'BadRequest', 'the body of the request was in an unknown format');
                    obj.metadata = isPlainObject(obj.metadata) ? obj.metadata : {};
                    if (resInfo.namespaced) {
                        if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== ns) {
                            throw apiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
                        }
                        obj.metadata.namespace = ns;
                    }
                    const r = this.store.createInternal(resInfo, obj, { fieldManager: this.managerFor(info), dryRun });
                    return send(201, r.obj);
                }
                case 'update': {
                    const obj = parseJson(body);
                    if (!isPlainObject(obj)) throw apiError(400, 'BadRequest', 'the body of the request was in an unknown format');
                    obj.metadata = isPlainObject(obj.metadata) ? obj.metadata : {};
                    if (obj.metadata.name !== undefined && obj.metadata.name !== info.name) {
                        throw apiError(400, 'BadRequest', `the name of the object (${obj.metadata.name}) does not match the name on the URL (${info.name})`);
                    }
                    if (resInfo.namespaced && obj.metadata.namespace !== undefined && obj.metadata.namespace !== ns) {
                        throw apiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
                    }
                    obj.metadata.name = info.name;
                    if (resInfo.namespaced) obj.metadata.namespace = ns;
                    if (info.subresource === 'finalize') {
                        // namespace finalize: only spec.finalizers changes
                        const prev = this.store.rec(resInfo, '', info.name!);
                        if (!prev) throw this.store.notFound(resInfo, info.name!);
                        const draft = clone(prev.obj);
                        draft.spec = { ...(draft.spec ?? {}), finalizers: obj.spec?.finalizers ?? [] };
                        const out = this.store.replaceFrom(resInfo, prev, draft, { fieldManager: this.managerFor(info), dryRun });
                        return send(200, out.obj);
                    }
                    const out = this.store.update(resInfo, obj, { fieldManager: this.managerFor(info), dryRun, subresource: sub });
                    return send(200, out);
                }
                case 'apply':
                case 'patch': {
                    if (q.force !== undefined && info.verb !== 'apply') throw apiError(400, 'BadRequest', 'force: Forbidden: may not be specified for non-apply patch');
                    const ct = String(req.headers['content-type'] ?? '').split(';')[0].trim();
                    if (info.verb === 'apply') {
                        if (ct !== 'application/apply-patch+yaml') throw unsupportedMediaType(ct);
                        let cfg: unknown;
                        try {
                            cfg = YAML.parse(body.toString('utf8'));
                        } catch (e) {
                            throw apiError(400, 'BadRequest', `error decoding YAML: ${(e as Error).message}`);
                        }
                        const r = this.store.applyInternal(resInfo, ns, info.name!, cfg, {
                            fieldManager: q.fieldManager,
                            force: q.force === 'true' || q.force === '1',
                            dryRun,
                            subresource: sub,
                        });
                        return send(r.created ? 201 : 200, r.obj);
                    }
                    let type: 'merge' | 'json' | 'strategic';
                    if (ct === 'application/merge-patch+json') type = 'merge';
                    else if (ct === 'application/json-patch+json') type = 'json';
                    else if (ct === 'application/strategic-merge-patch+json' && resInfo.builtin) type = 'strategic';
                    else throw unsupportedMediaType(ct);
                    const patch = parseJson(body);
                    const r = this.store.patchInternal(resInfo, ns, info.name!, type, patch, { fieldManager: this.managerFor(info), dryRun, subresource: sub });
                    return send(200, r.obj);
                }
                case 'delete': {
                    let opts: any = {};
                    if (body.length > 0) opts = parseJson(body) ?? {};
                    const r = this.store.delete(resInfo, ns, info.name!, { dryRun, preconditions: opts?.preconditions, fieldManager: this.managerFor(info) });
                    if (r.pending) return send(200, r.object);
                    return send(200, {
                        kind: 'Status',
                        apiVersion: 'v1',
                        metadata: {},
                        status: 'Success',
                        details: { name: info.name, group: resInfo.group || undefined, kind: resInfo.plural, uid: r.object.metadata.uid },
                    });
                }
                case 'deletecollection': {
                    const labels = LabelSelector.parse(q.labelSelector);
                    const fields = FieldSelector.parse(q.fieldSelector, resInfo);
                    const items: KObj[] = [];
                    for (const r of this.store.select(resInfo, info.namespace, labels, fields)) {
                        items.push(this.store.delete(resInfo, r.ns, r.name, { dryRun }).object);
                    }
                    return send(200, { kind: resInfo.listKind, apiVersion: resInfo.apiVersion, metadata: { resourceVersion: this.store.resourceVersion }, items });
                }
                default:
                    throw apiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
            }
        } catch (e) {
            const err = e instanceof KubeApiError ? e : apiError(500, 'InternalError', `Internal error occurred: ${(e as Error)?.message ?? String(e)}`);
            log(err.status.code);
            if (res.headersSent) {
                res.destroy();
                return;
            }
            this.sendStatus(res, err.status, err.headers);
        }
    }

    private managerFor(info: RequestInfo): string {
        if (info.fieldManager) return info.fieldManager;
        const ua = info.userAgent ?? 'unknown';
        return ua.split('/')[0] || 'unknown';
    }

    private sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
        this.sendRaw(res, status, JSON.stringify(body), headers);
    }

    private sendRaw(res: http.ServerResponse, status: number, json: string, headers: Record<string, string> = {}): void {
        if (res.destroyed) return;
        res.writeHead(status, {
            'Content-Type': 'application/json',
            'Cache-Control': 'no-cache, private',
            'Content-Length': String(Buffer.byteLength(json)),
            ...headers,
        });
        res.end(json);
    }

    private sendStatus(res: http.ServerResponse, status: KubeStatus, headers: Record<string, string> = {}): void {
        this.sendJson(res, status.code, status, headers);
    }

    private discovery(info: RequestInfo & { discovery?: string }, req: http.IncomingMessage): unknown {
        const reg = this.store.registry;
        const groups = reg.groups();
        switch (info.discovery) {
            case 'api':
                return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: req.headers.host ?? '' }] };
            case 'apis':
                return {
                    kind: 'APIGroupList',
                    apiVersion: 'v1',
                    groups: [...groups.keys()].map((gv) => {
                        const [g, v] = gv.split('/');
                        return { name: g, versions: [{ groupVersion: gv, version: v }], preferredVersion: { groupVersion: gv, version: v } };
                    }),
                };
            case 'group': {
                const gv = [...groups.keys()].find((k) => k.split('/')[0] === info.group);
                if (!gv) throw pathNotFound();
                const v = gv.split('/')[1];
                return { kind: 'APIGroup', apiVersion: 'v1', name: info.group, versions: [{ groupVersion: gv, version: v }], preferredVersion: { groupVersion: gv, version: v } };
            }
            default: {
                const list = reg.all().filter((r) => r.group === info.group && r.version === info.version);
                if (list.length === 0) throw pathNotFound();
                const resources: unknown[] = [];
                for (const r of list) {
                    resources.push({
                        name: r.plural,
                        singularName: r.singular,
                        namespaced: r.namespaced,
                        kind: r.kind,
                        verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
                        ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
                        storageVersionHash: Buffer.from(r.key).toString('base64').slice(0, 11),
                    });
                    if (r.statusSubresource) {
                        resources.push({ name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] });
                    }
                }
                return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: list[0].apiVersion, resources };
            }
        }
    }

    private serveList(res: ResourceInfo, info: RequestInfo, out: http.ServerResponse, log: (s: number) => void): void {
        const q = info.query;
        const labels = LabelSelector.parse(q.labelSelector);
        const fields = FieldSelector.parse(q.fieldSelector, res);
        const limit = q.limit ? parseInt(q.limit, 10) : 0;
        if (q.limit !== undefined && (!Number.isFinite(limit) || limit < 0)) throw apiError(400, 'BadRequest', `invalid limit ${q.limit}`);
        let snapshotRv = this.store.resourceVersion;
        let startAfter: string | undefined;
        let recs: Rec[];
        const current = Number(this.store.resourceVersion);
        const oldest = Number(this.store.oldestResourceVersion);
        const parseRv = (s: string) => {
            const n = Number(s);
            if (!/^\d+$/.test(s)) throw apiError(400, 'BadRequest', `resourceVersion: Invalid value: ${JSON.stringify(s)}: must be a non-negative integer`);
            return n;
        };
        if (q.continue) {
            let token: { rv: number; start: string };
            try {
                token = JSON.parse(Buffer.from(q.continue, 'base64').toString('utf8'));
                if (typeof token.rv !== 'number' || typeof token.start !== 'string') throw new Error('bad');
            } catch {
                throw apiError(400, 'BadRequest', 'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
            }
            if (token.rv < oldest) {
                throw apiError(
                    410,
                    'Expired',
                    'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
                );
            }
            recs = this.snapshotRecs(res, token.rv, info.namespace, labels, fields);
            snapshotRv = String(token.rv);
            startAfter = token.start;
        } else if (q.resourceVersion && q.resourceVersion !== '0') {
            const rv = parseRv(q.resourceVersion);
            if (rv > current) {
                throw apiError(504, 'Timeout', `Too large resource version: ${rv}, current: ${current}`, { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 });
            }
            if (q.resourceVersionMatch === 'Exact') {
                if (rv < oldest) throw apiError(410, 'Expired', `too old resource version: ${rv} (${oldest})`);
                recs = this.snapshotRecs(res, rv, info.namespace, labels, fields);
                snapshotRv = String(rv);
            } else {
                if (this.options.strictListResourceVersion && rv < oldest) throw apiError(410, 'Expired', `too old resource version: ${rv} (${oldest})`);
                recs = this.store.select(res, info.namespace, labels, fields);
            }
        } else {
            recs = this.store.select(res, info.namespace, labels, fields);
        }
        if (startAfter !== undefined) {
            const sa = startAfter;
            recs = recs.filter((r) => `${r.ns}/${r.name}` > sa);
        }
        let cont: string | undefined;
        let remaining: number | undefined;
        if (limit > 0 && recs.length > limit) {
            remaining = recs.length - limit;
            recs = recs.slice(0, limit);
            const last = recs[recs.length - 1];
            cont = Buffer.from(JSON.stringify({ rv: Number(snapshotRv), start: `${last.ns}/${last.name}` })).toString('base64');
        }
        const meta: Record<string, unknown> = { resourceVersion: snapshotRv };
        if (cont) {
            meta.continue = cont;
            meta.remainingItemCount = remaining;
        }
        const items = recs.map((r) => (res.builtin ? listItemJson(r) : objJson(r))).join(',');
        log(200);
        this.sendRaw(out, 200, `{"kind":${JSON.stringify(res.listKind)},"apiVersion":${JSON.stringify(res.apiVersion)},"metadata":${JSON.stringify(meta)},"items":[${items}]}`);
    }

    private snapshotRecs(res: ResourceInfo, rv: number, namespace: string | undefined, labels: LabelSelector, fields: FieldSelector): Rec[] {
        const snap = this.store.snapshotAt(res, rv);
        if (!snap) throw apiError(410, 'Expired', `too old resource version: ${rv} (${this.store.oldestResourceVersion})`);
        const out = [...snap.values()].filter(
            (r) => (namespace === undefined || !res.namespaced || r.ns === namespace) && (labels.empty || labels.matches(r.obj.metadata?.labels)) && (fields.empty || fields.matches(r.obj)),
        );
        out.sort((a, b) => (a.ns === b.ns ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.ns < b.ns ? -1 : 1));
        return out;
    }

    private serveWatch(res: ResourceInfo, info: RequestInfo, req: http.IncomingMessage, out: http.ServerResponse, log: (s: number) => void): void {
        const q = info.query;
        const labels = LabelSelector.parse(q.labelSelector);
        let fields = FieldSelector.parse(q.fieldSelector, res);
        if (info.name) fields = FieldSelector.parse(`metadata.name=${info.name}`, res);
        const bookmarks = q.allowWatchBookmarks === 'true' || q.allowWatchBookmarks === '1';
        const rvParam = q.resourceVersion ?? '';
        let since: number | undefined;
        if (rvParam !== '' && rvParam !== '0') {
            if (!/^\d+$/.test(rvParam)) throw apiError(400, 'BadRequest', `resourceVersion: Invalid value: ${JSON.stringify(rvParam)}: must be a non-negative integer`);
            since = Number(rvParam);
        }
        const timeoutSeconds = q.timeoutSeconds !== undefined ? Number(q.timeoutSeconds) : (this.options.defaultWatchTimeoutSeconds ?? 1800);
        const sendInitial = q.sendInitialEvents === 'true';
        out.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
        out.flushHeaders();
        log(200);
        const write = (line: string) => {
            if (!out.destroyed && !out.writableEnded) out.write(line);
        };
        const eventLine = (type: string, rec: Rec) => `{"type":"${type}","object":${objJson(rec)}}\n`;
        const bookmark = (extraAnnotations?: Record<string, string>) =>
            write(
                `${JSON.stringify({
                    type: 'BOOKMARK',
                    object: {
                        kind: res.kind,
                        apiVersion: res.apiVersion,
                        metadata: { resourceVersion: this.store.resourceVersion, creationTimestamp: null, ...(extraAnnotations ? { annotations: extraAnnotations } : {}) },
                    },
                })}\n`,
            );
        const errorEvent = (status: KubeStatus) => {
            write(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
            out.end();
        };
        const filter = { namespace: res.namespaced ? info.namespace : undefined, labels, fields };
        if (since !== undefined) {
            const oldest = Number(this.store.oldestResourceVersion);
            const current = Number(this.store.resourceVersion);
            if (since < oldest) return errorEvent(makeStatus(410, 'Expired', `too old resource version: ${since} (${oldest})`));
            if (since > current) {
                return errorEvent(makeStatus(504, 'Timeout', `Too large resource version: ${since}, current: ${current}`, { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 }));
            }
            for (const ev of this.store.eventsSince(since)) {
                if (ev.rec.res !== res) continue;
                const v = KubeStore.viewFor(filter, ev);
                if (v) write(eventLine(v.type, v.rec));
            }
        } else {
            for (const r of this.store.select(res, filter.namespace, labels, fields)) write(eventLine('ADDED', r));
            if (sendInitial && bookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
        }
        const w: ActiveWatch = { res: out, socket: req.socket, close: () => undefined };
        const unsubscribe = this.store.addSubscriber({
            resKey: res.key,
            ...filter,
            deliver: (type, rec) => write(eventLine(type, rec)),
        });
        const timers: NodeJS.Timeout[] = [];
        if (bookmarks && this.bookmarkIntervalMs > 0) timers.push(setInterval(() => bookmark(), this.bookmarkIntervalMs));
        if (timeoutSeconds > 0) {
            const ms = timeoutSeconds * 1000;
            if (bookmarks && ms > 200) timers.push(setTimeout(() => bookmark(), ms - 100));
            timers.push(
                setTimeout(() => {
                    cleanup();
                    if (!out.writableEnded) out.end();
                }, ms),
            );
        }
        let cleaned = false;
        const cleanup = () => {
            if (cleaned) return;
            cleaned = true;
            unsubscribe();
            for (const t of timers) clearTimeout(t);
            this.watches.delete(w);
        };
        w.close = cleanup;
        this.watches.add(w);
        out.on('close', cleanup);
    }
}

function objJson(r: Rec): string {
    return (r.json ??= JSON.stringify(r.obj));
}

function listItemJson(r: Rec): string {
    if (r.listJson === undefined) {
        const { apiVersion: _a, kind: _k, ...rest } = r.obj;
        r.listJson = JSON.stringify(rest);
    }
    return r.listJson;
}

function pathNotFound(): KubeApiError {
    return apiError(404, 'NotFound', 'the server could not find the requested resource');
}

function unsupportedMediaType(ct: string): KubeApiError {
    return apiError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format${ct ? ` (${ct})` : ''} - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
    );
}

function parseJson(body: Buffer): any {
    const text = body.toString('utf8');
    if (text.trim() === '') return undefined;
    try {
        return JSON.parse(text);
    } catch (e) {
        throw apiError(400, 'BadRequest', `the body of the request was in an unknown format: ${(e as Error).message}`);
    }
}

const MAX_BODY = 3 * 1024 * 1024;

function readBody(req: http.IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        req.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_BODY) {
                reject(apiError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728'));
                req.destroy();
                return;
            }
            chunks.push(c);
        });
        req.on('end', () => resolve(Buffer.concat(chunks)));
        req.on('error', reject);
    });
}

/** A throw-away EC certificate for 127.0.0.1/localhost, made with the openssl CLI. */
function makeSelfSignedCert(): { key: string; cert: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-test-cert-'));
    try {
        const keyFile = path.join(dir, 'key.pem');
        const certFile = path.join(dir, 'cert.pem');
        execFileSync(
            'openssl',
            ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
            { stdio: 'ignore' },
        );
        return { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8') };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
