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
 * - Garbage collection (./kube/gc.ts), lagging `gcDelayMs` (default 50 ms)
 *   behind the change and deciding on the LATEST owners when it runs: a
 *   dependent with no live owner left is deleted, dangling references are
 *   removed from the others (so a dependent re-claimed by a re-created owner
 *   of the same name survives); an object created with a reference to a
 *   missing owner is collected. propagationPolicy Background (default),
 *   Foreground (`foregroundDeletion` finalizer until the blockOwnerDeletion
 *   dependents are gone) and Orphan (`orphan` finalizer; dependents lose the
 *   reference). `store.gc.hold()/release()` model a collector lagging behind.
 * - Validating admission webhooks (./kube/admission.ts,
 *   `store.admission.register/denyBareMetalHosts`): a denial is 403 Forbidden
 *   `admission webhook "<name>" denied the request: <reason>` (`[a, b]` for
 *   several), as the apiserver relays a controller-runtime validator's
 *   (BMO's `baremetalhost.metal3.io`). Main resource only, CREATE and UPDATE.
 * - Label selectors (`=`, `==`, `!=`, `in`, `notin`, exists, `!key`, `>`, `<`)
 *   and field selectors (`metadata.name`, `metadata.namespace`, plus per
 *   resource extras such as `type` for Secrets); unsupported field → 400.
 * - Lists: items sorted by namespace/name; core (built-in) list items carry no
 *   kind/apiVersion (as the real server returns them), custom resource items do;
 *   `limit`/`continue` pagination served from a consistent snapshot at the
 *   first page's resourceVersion (rebuilt from the event history). Tokens
 *   are the apiserver's (`{"v":"meta.k8s.io/v1","rv":N,"start":...}`): one
 *   whose revision is older than etcd's compaction (the revision current
 *   `historyWindowMs` ago) → 410 Expired with the "inconsistent" token
 *   (rv -1) in `metadata.continue`, which lists the rest at the latest
 *   state; `resourceVersionMatch=Exact` is served from history, 410 when
 *   older than the retained window.
 * - Watch: newline-delimited JSON events over a chunked response.
 *   resourceVersion unset or "0" → synthetic ADDED for current state, then
 *   live events; `sendInitialEvents=true` adds the `k8s.io/initial-events-end`
 *   bookmark. A resourceVersion inside the retained window replays history
 *   exactly (no gaps, in order). Older than the window → HTTP 200 with one
 *   `ERROR` event carrying a Status 410 `Expired` ("too old resource
 *   version"), as the watch cache does. With a label selector an object that
 *   stops/starts matching is sent as DELETED/ADDED. BOOKMARK events (kind,
 *   apiVersion, metadata.resourceVersion only) every `bookmarkIntervalMs`
 *   when `allowWatchBookmarks=true`, and one just before the watch ends.
 *   Every watch ends (./kube/watch.ts): after `timeoutSeconds` ×
 *   `watchTimeoutScale` when given, else after a random duration in [T, 2T)
 *   with T = `minRequestTimeoutSeconds` (apiserver --min-request-timeout,
 *   1800 s; default here 30 s).
 * - History per resource and time based (./kube/watch.ts): events older than
 *   `historyWindowMs` (default 5 s; real: etcd compaction every 5 min, the
 *   watch cache ~75 s) or beyond `historySize` per resource are forgotten;
 *   `compact()` forgets all of it. `clock` replaces Date.now for the window.
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
 * - No mutating webhooks; BMO's validation rules are not reproduced (a test
 *   gives the webhook's verdict per object).
 * - CRD structural schemas only for the kinds that carry one (./kube/schemaBmh.ts:
 *   BareMetalHost in full; ./kube/schemaCapi.ts: required fields of the CAPI/CAPM3
 *   kinds we render, Metal3MachineTemplate in full): unknown fields pruned
 *   (fieldValidation Warn, the default: one `Warning: 299` header each; Strict:
 *   400; in-process writes are Strict), nulls pruned, defaults set,
 *   types/enums/patterns/required checked (422 with causes). No CEL rules, no
 *   ratcheting, no OpenAPI for built-in kinds (only metadata, Secret `data`
 *   base64 and `type` immutability are validated).
 * - Only registered resources are served (others 404; `autoRegisterResources`
 *   re-enables registering unknown plurals on first use); `crdGroups` limits the
 *   installed CRDs (e.g. BMO's only).
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
 * - The watch cache forgets events by age even on a quiet resource (real:
 *   only when its buffer fills), so it is stricter: a watch resuming from an
 *   old resourceVersion without bookmarks relists.
 * - gracePeriodSeconds, RBAC, API
 *   priority-and-fairness (use `faults.throttle`), protobuf/CBOR, table
 *   output, aggregated discovery v2, `selfLink`: not modelled.
 * - HTTP/1.1 only; bodies are JSON (apply also accepts YAML).
 */
// The implementation lives in ./kube/, one module per concern; this file is the public entry.
export { KObj, StatusCause, StatusDetails, KubeStatus, KubeApiError, makeStatus, deepEqual, k8sTime } from './kube/objects';
export { ListType, ResourceDefinition, ResourceInfo, ResourceRef, ResourceRegistry } from './kube/registry';
export { LabelSelector, FieldSelector } from './kube/selectors';
export { jsonMergePatch, jsonPatch } from './kube/patches';
export { KubeStore, KubeStoreOptions, StoreEvent, WriteOptions, ListOptions } from './kube/store';
export { Verb, RequestInfo, RequestLogEntry, RequestMatcher, FaultInjector } from './kube/faults';
export { KubeApiTestServer, KubeApiTestServerOptions } from './kube/server';
