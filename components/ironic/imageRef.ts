// Pure helpers for container image references ("registry[:port]/path/name[:tag][@sha256:...]").
// Used to turn the local-registry refs we receive into Helm values, clusterctl
// image overrides, and to read release versions off the pinned upstream refs.

export interface ImageRef {
    /** Everything before the tag/digest: registry, path and name. */
    readonly repository: string;
    /** Last path segment ("cert-manager-controller"). */
    readonly name: string;
    /** Registry and path without the name ("172.22.0.1:5000/localimages"). */
    readonly prefix: string;
    readonly tag?: string;
    /** "sha256:<hex>" when pinned by digest. */
    readonly digest?: string;
}

/** Splits an image reference; a ':' before the last '/' is a registry port, not a tag. */
export function parseImageRef(ref: string): ImageRef {
    const trimmed = ref.trim();
    if (trimmed === "" || /\s/.test(trimmed)) throw new Error(`not an image reference: "${ref}"`);
    const at = trimmed.indexOf("@");
    const digest = at >= 0 ? trimmed.slice(at + 1) : undefined;
    const withoutDigest = at >= 0 ? trimmed.slice(0, at) : trimmed;
    const lastSlash = withoutDigest.lastIndexOf("/");
    const colon = withoutDigest.lastIndexOf(":");
    const hasTag = colon > lastSlash;
    const repository = hasTag ? withoutDigest.slice(0, colon) : withoutDigest;
    const tag = hasTag ? withoutDigest.slice(colon + 1) : undefined;
    if (digest !== undefined && !/^sha256:[a-f0-9]{64}$/.test(digest)) throw new Error(`bad digest in image reference "${ref}"`);
    const slash = repository.lastIndexOf("/");
    return {
        repository,
        name: repository.slice(slash + 1),
        prefix: slash >= 0 ? repository.slice(0, slash) : "",
        tag,
        digest,
    };
}

/**
 * The release version an upstream image is pinned to (its tag, e.g. "v1.9.4").
 * Manifests, charts and clusterctl providers are fetched at this version, so the
 * image and the manifests around it never drift apart.
 */
export function releaseVersion(ref: string, what: string): string {
    const { tag } = parseImageRef(ref);
    if (!tag || !/^v\d+\.\d+\.\d+([-+.][0-9A-Za-z.-]+)?$/.test(tag)) {
        throw new Error(`${what}: image "${ref}" must be pinned to a release tag like v1.2.3 (the manifests are fetched at that version)`);
    }
    return tag;
}

/** "v0.9.0" -> "v0.9" */
export function minorOf(version: string): string {
    const m = /^v(\d+)\.(\d+)\./.exec(version);
    if (!m) throw new Error(`not a release version: ${version}`);
    return `v${m[1]}.${m[2]}`;
}
