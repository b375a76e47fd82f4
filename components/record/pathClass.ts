// Request paths as the record keeps them: the query dropped (it may carry
// filters such as a batch marker) and every id replaced by a placeholder, so
// requests group by what they do: /v1/nodes/{node}/states/provision.

/** Ironic: /v1/<collection>/<id>/... -> /v1/<collection>/{<singular>}/... (`detail` is not an id; what follows an id is kept). */
function ironicClass(segments: string[]): string[] {
    const [version, collection, id, ...rest] = segments;
    if (id === undefined || id === "detail" || !/^[a-z_]+s$/.test(collection)) return segments;
    return [version, collection, `{${collection.slice(0, -1)}}`, ...rest];
}

/** Kubernetes: /api/v1 or /apis/<group>/<version>, then [namespaces/{namespace}/]<resource>[/{name}[/<subresource>]]. */
function kubernetesClass(segments: string[]): string[] {
    const prefix = segments[0] === "api" ? 2 : segments[0] === "apis" ? 3 : 0;
    if (prefix === 0) return segments;
    const out = segments.slice(0, prefix);
    let rest = segments.slice(prefix);
    if (rest[0] === "namespaces" && rest.length > 2) {
        out.push("namespaces", "{namespace}");
        rest = rest.slice(2);
    }
    if (rest.length > 0) out.push(rest[0]);
    if (rest.length > 1) out.push("{name}");
    out.push(...rest.slice(2));
    return out;
}

export function pathClass(api: "ironic" | "kubernetes" | "fkas", path: string): string {
    const bare = path.split("?")[0].split("#")[0];
    const segments = bare.split("/").filter((s) => s !== "");
    const classed = api === "ironic" ? ironicClass(segments) : api === "kubernetes" ? kubernetesClass(segments) : segments;
    return `/${classed.join("/")}`;
}
