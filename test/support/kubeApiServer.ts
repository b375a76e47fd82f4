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
// The implementation lives in ./kube/, one module per concern; this file is the public entry.
export { KObj, StatusCause, StatusDetails, KubeStatus, KubeApiError, makeStatus, deepEqual, k8sTime } from './kube/objects';
export { ListType, ResourceDefinition, ResourceInfo, ResourceRef, ResourceRegistry } from './kube/registry';
export { LabelSelector, FieldSelector } from './kube/selectors';
export { jsonMergePatch, jsonPatch } from './kube/patches';
export { KubeStore, KubeStoreOptions, StoreEvent, WriteOptions, ListOptions } from './kube/store';
export { Verb, RequestInfo, RequestLogEntry, RequestMatcher, FaultInjector } from './kube/faults';
export { KubeApiTestServer, KubeApiTestServerOptions } from './kube/server';
