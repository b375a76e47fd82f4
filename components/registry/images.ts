// Where upstream images live once mirrored into the lab's registry (pure).
import { ImageName, ImagesConfig } from "../config/types";

export interface ImageRef {
    /** Registry host (with port) or undefined for Docker Hub. */
    readonly registry?: string;
    /** Repository path inside the registry, e.g. `metal3-io/ironic`. */
    readonly repository: string;
    readonly tag?: string;
    /** `sha256:<64 hex>` */
    readonly digest?: string;
}

/**
 * Splits a reference the way Docker does: the first path segment is a registry
 * only if it has a dot or a port or is `localhost`; a `:` after the last `/`
 * starts the tag; `@` starts the digest.
 */
export function parseImageRef(ref: string): ImageRef {
    const at = ref.indexOf("@");
    const digest = at >= 0 ? ref.slice(at + 1) : undefined;
    const named = at >= 0 ? ref.slice(0, at) : ref;
    if (digest !== undefined && !/^sha256:[a-f0-9]{64}$/.test(digest)) throw new Error(`bad digest in image reference ${ref}`);
    const slash = named.lastIndexOf("/");
    const colon = named.lastIndexOf(":");
    const tag = colon > slash ? named.slice(colon + 1) : undefined;
    const path = colon > slash ? named.slice(0, colon) : named;
    const first = path.split("/")[0];
    const hasRegistry = path.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
    const registry = hasRegistry ? first : undefined;
    const repository = hasRegistry ? path.slice(first.length + 1) : path;
    if (!repository || (tag !== undefined && !/^[\w][\w.-]{0,127}$/.test(tag))) throw new Error(`bad image reference ${ref}`);
    return { registry, repository, tag, digest };
}

/** A reference split for tools that take repository and tag apart (Helm values, clusterctl overrides). */
export interface ImageParts {
    /** Registry, path and name: everything before the tag/digest. */
    readonly repository: string;
    /** Last path segment ("cert-manager-controller"). */
    readonly name: string;
    /** Registry and path without the name ("172.22.0.1:5000/localimages"). */
    readonly prefix: string;
    readonly tag?: string;
    readonly digest?: string;
}

export function imageParts(ref: string): ImageParts {
    const parsed = parseImageRef(ref.trim());
    const repository = parsed.registry ? `${parsed.registry}/${parsed.repository}` : parsed.repository;
    const slash = repository.lastIndexOf("/");
    return { repository, name: repository.slice(slash + 1), prefix: slash >= 0 ? repository.slice(0, slash) : "", tag: parsed.tag, digest: parsed.digest };
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

/**
 * The mirror of `upstream` in the registry at `registryAddress` (host:port):
 * `<registryAddress>/localimages/<repository basename>:<tag>`. A digest-pinned
 * image is tagged `sha256-<hex>`: a push stores the platform manifest, whose
 * digest differs from an upstream manifest list, so the digest cannot be kept
 * as a reference, but the tag still names exactly one upstream image.
 */
export function localImageRef(upstream: string, registryAddress: string): string {
    const ref = parseImageRef(upstream);
    const basename = ref.repository.slice(ref.repository.lastIndexOf("/") + 1);
    const tag = ref.digest ? ref.digest.replace(":", "-") : ref.tag;
    if (!tag) throw new Error(`image ${upstream} is not pinned to a tag or digest: mirroring it would not be reproducible`);
    return `${registryAddress}/localimages/${basename}:${tag}`;
}

/** Images mirrored into the registry: all of them but the registry's own. */
export type MirroredImageName = Exclude<ImageName, "registry">;

export interface MirrorEntry {
    readonly name: MirroredImageName;
    readonly upstream: string;
    /** Reference the registry host's daemon pushes to (loopback: no TLS needed). */
    readonly pushRef: string;
    /** Reference the lab's consumers pull (minikube, containers). */
    readonly localRef: string;
}

/** Images that would be mirrored to the same local name as an earlier, different upstream image. */
export function mirrorCollisions(images: ImagesConfig): { name: MirroredImageName; other: MirroredImageName; localName: string }[] {
    const byLocal = new Map<string, MirroredImageName>();
    const collisions: { name: MirroredImageName; other: MirroredImageName; localName: string }[] = [];
    for (const name of Object.keys(images) as ImageName[]) {
        if (name === "registry") continue;
        const localName = localImageRef(images[name], "").slice(1);
        const other = byLocal.get(localName);
        if (other && images[other] !== images[name]) collisions.push({ name, other, localName });
        else byLocal.set(localName, name);
    }
    return collisions;
}

/** One entry per mirrored image; two different upstream images may not land on one local name. */
export function mirrorPlan(images: ImagesConfig, pushAddress: string, registryAddress: string): MirrorEntry[] {
    const [collision] = mirrorCollisions(images);
    if (collision) {
        const { name, other, localName } = collision;
        throw new Error(`images.${other} (${images[other]}) and images.${name} (${images[name]}) would both be mirrored as ${registryAddress}/${localName}`);
    }
    return (Object.keys(images) as ImageName[])
        .filter((n): n is MirroredImageName => n !== "registry")
        .map((name) => ({ name, upstream: images[name], pushRef: localImageRef(images[name], pushAddress), localRef: localImageRef(images[name], registryAddress) }));
}
