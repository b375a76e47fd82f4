// Which image pins the lab can run, and which overrides are known not to work
// together (pure; the loader reports every finding with the other problems).
// Each rule names the upstream evidence it rests on (shared/reference/versions.md).
import { parseImageRef } from "../registry/images";
import { ImageName, ImagesConfig, Mode } from "./types";

/** A release tag: `v1.2.3`, `2.8.3`, `capm3-v1.11.0`, with an optional pre-release or build suffix. */
const RELEASE_TAG = /^(?:[a-z0-9]+-)?v?(\d+)\.(\d+)\.(\d+)(?:[-+.][0-9A-Za-z.-]+)?$/;
/**
 * An image built from a branch, tagged `<branch>_<UTC date>_<40-hex sha>`: the
 * Metal3 image workflows push it next to the moving branch tag, and it never
 * moves (project-infra .github/workflows/container-image-build.yml:150-160).
 */
const DATED_BUILD_TAG = /^([A-Za-z0-9.-]+)_(\d{4}-\d{2}-\d{2})_([0-9a-f]{40})$/;

export interface Version {
    readonly major: number;
    readonly minor: number;
    readonly patch: number;
}

/** What a pin says about the upstream build it names. */
export type Pin =
    | { readonly kind: "digest" }
    | { readonly kind: "release"; readonly version: Version; readonly prerelease: boolean }
    | { readonly kind: "dated"; readonly branch: string; readonly date: string; readonly sha: string }
    | { readonly kind: "moving"; readonly tag: string | undefined };

export function classifyPin(ref: string): Pin {
    const { tag, digest } = parseImageRef(ref);
    if (digest) return { kind: "digest" };
    const release = tag ? RELEASE_TAG.exec(tag) : null;
    if (release) {
        const [, major, minor, patch] = release.map(Number);
        return { kind: "release", version: { major, minor, patch }, prerelease: /\d-(alpha|beta|rc)/.test(tag!) };
    }
    const dated = tag ? DATED_BUILD_TAG.exec(tag) : null;
    if (dated) return { kind: "dated", branch: dated[1], date: dated[2], sha: dated[3] };
    return { kind: "moving", tag };
}

/** Release tags, dated branch builds and digests never change what they name; `main`, `latest`, `release-0.13` do. */
export function isImmutablePin(ref: string): boolean {
    return classifyPin(ref).kind !== "moving";
}

function compare(a: Version, b: Version): number {
    return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

function show(v: Version): string {
    return `v${v.major}.${v.minor}.${v.patch}`;
}

/** The release an image is built from: its release tag, or `release-X.Y` in a dated branch build; main builds are newest. */
function releaseOf(ref: string): Version | "main" | undefined {
    const pin = classifyPin(ref);
    if (pin.kind === "release") return pin.version;
    if (pin.kind === "dated") {
        if (pin.branch === "main" || pin.branch === "master") return "main";
        const m = /^release-v?(\d+)\.(\d+)$/.exec(pin.branch);
        if (m) return { major: Number(m[1]), minor: Number(m[2]), patch: 0 };
    }
    return undefined;
}

/** true when `ref` is at least `min`; undefined when the pin does not say (a digest: the user vouches for it). */
function atLeast(ref: string, min: Version): boolean | undefined {
    const release = releaseOf(ref);
    if (release === undefined) return undefined;
    return release === "main" || compare(release, min) >= 0;
}

export interface ImageFinding {
    readonly image: ImageName;
    readonly allowed: string;
}

interface MinimumRule {
    readonly image: ImageName;
    readonly min: Version;
    readonly modes: readonly Mode[];
    readonly why: string;
}

const ALL_MODES: readonly Mode[] = ["ironic", "bmo", "capi"];

/** Oldest releases whose interfaces the lab renders for. */
export const MINIMUM_RELEASES: readonly MinimumRule[] = [
    {
        image: "ironic",
        min: { major: 32, minor: 0, patch: 0 },
        modes: ALL_MODES,
        why:
            "the lab renders for ironic-image >= v32: JSON-RPC credentials in /auth/ironic-rpc (v28), /auth/mariadb and IRONIC_SKIP_DBSYNC (v29), " +
            "DEPLOY_KERNEL_URL (v31), IRONIC_JSON_RPC_PORT (v32); ironic-inspector, which older images need, was removed in v25",
    },
    {
        image: "mariadb",
        min: { major: 1, minor: 9, patch: 4 },
        modes: ALL_MODES,
        why: "the database password is mounted at /auth/mariadb, which mariadb-image reads from capm3-v1.9.4 on (runmariadb)",
    },
    {
        image: "sushyTools",
        min: { major: 37, minor: 0, patch: 0 },
        modes: ALL_MODES,
        why:
            "the rendered conf.py sets SUSHY_EMULATOR_NO_MEMOIZE, which sushy-tools honours from commit 428b213; the image installs it from v37.0.0 on " +
            "(ironic-image@v37.0.0:resources/sushy-tools/Dockerfile:16), v35 and older install sushy-tools 2.2.0 or older, which ignore it",
    },
    {
        image: "capiController",
        min: { major: 1, minor: 11, patch: 0 },
        modes: ["capi"],
        why:
            "FKAS builds from main after 2026-02-16 (CAPM3 8735de17, the only ones published since) read Machines as v1beta2, " +
            "which Cluster API serves from v1.11.0 on (CAPI@v1.11.0:config/crd/bases/cluster.x-k8s.io_machines.yaml)",
    },
];

function minorOfRelease(ref: string): Version | undefined {
    const release = releaseOf(ref);
    return release === undefined || release === "main" ? undefined : release;
}

/** Everything wrong with this image set for this mode, each finding against the image the user must change. */
export function imageCompatibility(images: ImagesConfig, mode: Mode): ImageFinding[] {
    const findings: ImageFinding[] = [];
    for (const rule of MINIMUM_RELEASES) {
        if (!rule.modes.includes(mode)) continue;
        if (atLeast(images[rule.image], rule.min) === false) findings.push({ image: rule.image, allowed: `be ${show(rule.min)} or newer: ${rule.why}` });
    }
    if (mode !== "capi") return findings;

    const capi = minorOfRelease(images.capiController);
    const capm3 = minorOfRelease(images.capm3Controller);
    const ipam = minorOfRelease(images.ipamController);
    const bmo = minorOfRelease(images.bmo);
    // CAPM3 vX.Y is built and tested against CAPI vX.Y (metal3-dev-env lib/releases.sh:93-96; CAPM3@v1.13.2 go.mod: CAPI v1.13.4).
    if (capi && capm3 && (capi.major !== capm3.major || capi.minor !== capm3.minor)) {
        findings.push({ image: "capm3Controller", allowed: `share its minor release with images.capiController (v${capi.major}.${capi.minor}): CAPM3 v${capm3.major}.${capm3.minor} is built against CAPI v${capm3.major}.${capm3.minor}` });
    }
    // IPAM is released with CAPM3 (CAPM3@v1.13.2 go.mod requires IPAM v1.13.2).
    if (capm3 && ipam && (capm3.major !== ipam.major || capm3.minor !== ipam.minor)) {
        findings.push({ image: "ipamController", allowed: `share its minor release with images.capm3Controller (v${capm3.major}.${capm3.minor}), as CAPM3 releases require` });
    }
    // CAPM3 1.N pairs with BMO 0.N (metal3-dev-env lib/common.sh:309-332; CAPM3@v1.13.2 go.mod: BMO apis v0.13.2).
    if (capm3 && bmo && capm3.major === 1 && (bmo.major !== 0 || bmo.minor !== capm3.minor)) {
        findings.push({ image: "bmo", allowed: `be a v0.${capm3.minor}.x release to pair with CAPM3 v1.${capm3.minor} (metal3-dev-env pairs CAPM3 1.N with BMO 0.N)` });
    }
    return findings;
}

/**
 * Oldest management-cluster Kubernetes minor each CAPI core minor supports as
 * a management cluster (CAPI@v1.13.5:docs/book/src/reference/versions.md,
 * "Core provider" matrix: rows marked "only workload" do not count).
 */
export const CAPI_MANAGEMENT_KUBERNETES_MIN: Readonly<Record<string, number>> = {
    "1.11": 30,
    "1.12": 31,
    "1.13": 32,
};

/** The management cluster's Kubernetes version is too old for the pinned CAPI core; undefined when fine or unknown. */
export function managementKubernetesProblem(images: ImagesConfig, kubernetesVersion: string): string | undefined {
    const capi = minorOfRelease(images.capiController);
    const k8s = /^v1\.(\d+)\./.exec(kubernetesVersion);
    if (!capi || !k8s) return undefined;
    const min = CAPI_MANAGEMENT_KUBERNETES_MIN[`${capi.major}.${capi.minor}`];
    if (min === undefined || Number(k8s[1]) >= min) return undefined;
    return `be v1.${min} or newer: Cluster API v${capi.major}.${capi.minor} supports management clusters from Kubernetes v1.${min} on (older ones only as workload clusters)`;
}
