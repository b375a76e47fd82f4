// Pure rendering for the capi mode: clusterctl provider versions, its config
// (image overrides to the local registry), the scripts the clusterctl Command
// runs, and the FKAS (Metal3 fake Kubernetes API server) manifests.
import type * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@pulumi/kubernetes";
import { ImagesConfig, LabConfig } from "../config/types";
import { imageParts, releaseVersion } from "../registry/images";
import { shScript } from "../shell";

/** An RBAC rule as plain data (assignable to the provider's PolicyRule input). */
export interface Rule {
    readonly apiGroups: string[];
    readonly resources: string[];
    readonly verbs: string[];
}
type StatefulSetSpec = k8s.types.input.apps.v1.StatefulSetSpec;

/**
 * The providers clusterctl installs, keyed by the image each one runs:
 * `flag` of `clusterctl init`/`upgrade apply`/`delete`, the inventory `type`
 * and `provider` name, and `component`, clusterctl's ManifestLabel (the
 * `cluster.x-k8s.io/provider` label and the image-override key prefix).
 */
export const CLUSTERCTL_PROVIDERS = {
    capiController: { flag: "--core", type: "CoreProvider", provider: "cluster-api", component: "cluster-api", image: "cluster-api-controller" },
    kubeadmBootstrapController: { flag: "--bootstrap", type: "BootstrapProvider", provider: "kubeadm", component: "bootstrap-kubeadm", image: "kubeadm-bootstrap-controller" },
    kubeadmControlPlaneController: { flag: "--control-plane", type: "ControlPlaneProvider", provider: "kubeadm", component: "control-plane-kubeadm", image: "kubeadm-control-plane-controller" },
    capm3Controller: { flag: "--infrastructure", type: "InfrastructureProvider", provider: "metal3", component: "infrastructure-metal3", image: "cluster-api-provider-metal3" },
    ipamController: { flag: "--ipam", type: "IPAMProvider", provider: "metal3", component: "ipam-metal3", image: "ip-address-manager" },
} as const;
export type ClusterctlImage = keyof typeof CLUSTERCTL_PROVIDERS;
/** In clusterctl's install order (core first); deletion runs the other way round. */
export const CLUSTERCTL_IMAGES = Object.keys(CLUSTERCTL_PROVIDERS) as ClusterctlImage[];

/** IPAM's clusterctl repository, for clusterctl releases that do not list the metal3 IPAM provider themselves. */
export const METAL3_IPAM_REPOSITORY = "https://github.com/metal3-io/ip-address-manager/releases/latest/ipam-components.yaml";

/** Provider versions = the tags of the pinned upstream images. */
export function clusterctlVersions(images: Pick<ImagesConfig, ClusterctlImage>): Record<ClusterctlImage, string> {
    const out = {} as Record<ClusterctlImage, string>;
    for (const key of CLUSTERCTL_IMAGES) out[key] = releaseVersion(images[key], CLUSTERCTL_PROVIDERS[key].component);
    if (out.kubeadmBootstrapController !== out.capiController || out.kubeadmControlPlaneController !== out.capiController) {
        throw new Error(`CAPI core and kubeadm providers must share one release (core ${out.capiController}, bootstrap ${out.kubeadmBootstrapController}, control plane ${out.kubeadmControlPlaneController})`);
    }
    return out;
}

/** `--core cluster-api:v1.13.5 --bootstrap kubeadm:v1.13.5 ...` */
export function clusterctlProviderFlags(versions: Record<ClusterctlImage, string>): string[] {
    return CLUSTERCTL_IMAGES.flatMap((key) => [CLUSTERCTL_PROVIDERS[key].flag, `${CLUSTERCTL_PROVIDERS[key].provider}:${versions[key]}`]);
}

/** clusterctl lists the metal3 IPAM provider itself from v1.12.0 on. */
export function clusterctlKnowsMetal3Ipam(clusterctlVersion: string): boolean {
    const m = /^v(\d+)\.(\d+)\./.exec(clusterctlVersion);
    if (!m) throw new Error(`not a clusterctl release version: ${clusterctlVersion}`);
    return Number(m[1]) > 1 || Number(m[2]) >= 12;
}

/**
 * clusterctl's config: per-image overrides so every controller runs from the
 * local registry (repository and tag; the local ref keeps the upstream image
 * name), and the metal3 IPAM repository only for a clusterctl that lacks it.
 * Returned as JSON (valid YAML) to need no YAML library at run time.
 */
export function clusterctlConfig(localRefs: Record<ClusterctlImage, string>, clusterctlVersion: string): string {
    const images: Record<string, { repository: string; tag: string }> = {};
    for (const key of CLUSTERCTL_IMAGES) {
        const { component, image } = CLUSTERCTL_PROVIDERS[key];
        const ref = imageParts(localRefs[key]);
        if (ref.name !== image) throw new Error(`clusterctl can only re-home ${image}: local image "${localRefs[key]}" must keep that name`);
        if (!ref.tag || ref.digest) throw new Error(`clusterctl image overrides take a tag: local image "${localRefs[key]}" must be pinned by tag`);
        images[`${component}/${image}`] = { repository: ref.prefix, tag: ref.tag };
    }
    const providers = clusterctlKnowsMetal3Ipam(clusterctlVersion) ? [] : [{ name: "metal3", url: METAL3_IPAM_REPOSITORY, type: "IPAMProvider" }];
    return JSON.stringify(providers.length ? { providers, images } : { images }, null, 2);
}

/** Environment variables the scripts read (the kubeconfig one is a secret). */
export const CLUSTERCTL_ENV = { kubeconfig: "LAB_KUBECONFIG", config: "LAB_CLUSTERCTL_CONFIG" } as const;

/** Where clusterctl releases live; the binary is `clusterctl-<os>-<arch>` among the release assets. */
export const CAPI_RELEASES = {
    download: "https://github.com/kubernetes-sigs/cluster-api/releases/download",
    api: "https://api.github.com/repos/kubernetes-sigs/cluster-api/releases/tags",
} as const;

/** The Linux clusterctl binaries a CAPI release publishes, by `uname -m` (the lab host is Linux). */
export const CLUSTERCTL_ASSETS: Readonly<Record<string, string>> = {
    x86_64: "clusterctl-linux-amd64",
    aarch64: "clusterctl-linux-arm64",
    ppc64le: "clusterctl-linux-ppc64le",
};

/**
 * The lab's own record, in the management cluster, of the providers it set out
 * to install; written before `clusterctl init` so an interrupted first create
 * that is run again still knows them from providers that were there before.
 */
export const CLUSTERCTL_JOURNAL = { namespace: "kube-system", name: "metal3-scale-lab-clusterctl", key: "installed" } as const;

/** create/update print `<prefix> installed=<labels|-> adopted=<labels|->`; delete reads it back. */
export const CLUSTERCTL_RECORD = "metal3-scale-lab clusterctl";

/** The inventory CRD clusterctl keeps one Provider object per installed provider in. */
const INVENTORY = "providers.clusterctl.cluster.x-k8s.io";

// Reads the `digest` ("sha256:<hex>") GitHub computed for one release asset when it was uploaded.
const READ_ASSET_DIGEST = [
    'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));',
    "const a = (r.assets || []).find((x) => x.name === process.argv[2]);",
    'const m = /^sha256:([0-9a-f]{64})$/.exec((a && a.digest) || "");',
    "if (!m) process.exit(3);",
    "console.log(m[1]);",
].join(" ");

/** Shell shared by the scripts: private temp dir, kubectl, inventory, a verified clusterctl. */
function preamble(version: string): string[] {
    const assetCases = Object.entries(CLUSTERCTL_ASSETS).map(([machine, asset]) => `    Linux/${machine}) asset=${asset} ;;`);
    return [
        "umask 077",
        'work="$(mktemp -d)"',
        "trap 'rm -rf \"$work\"' EXIT",
        "trap 'exit 1' HUP INT TERM",
        // Never echoed: the kubeconfig only exists in this private temp directory.
        `printf '%s\\n' "$${CLUSTERCTL_ENV.kubeconfig}" > "$work/kubeconfig"`,
        `printf '%s\\n' "$${CLUSTERCTL_ENV.config}" > "$work/clusterctl.yaml"`,
        'k() { kubectl --kubeconfig "$work/kubeconfig" "$@"; }',
        // One line per installed provider: <type> <name> <version> <namespace>.
        "inventory() {",
        '  : > "$work/inventory"',
        `  crd="$(k get crd ${INVENTORY} --ignore-not-found -o name)"`,
        '  if [ -n "$crd" ]; then',
        `    k get ${INVENTORY} -A -o jsonpath='{range .items[*]}{.type}{" "}{.providerName}{" "}{.version}{" "}{.metadata.namespace}{"\\n"}{end}' > "$work/inventory"`,
        "  fi",
        "}",
        `field() { awk -v t="$1" -v n="$2" -v f="$3" '$1 == t && $2 == n { print $f; exit }' "$work/inventory"; }`,
        'listed() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }',
        // CAPI publishes no checksum file; GitHub computes a SHA-256 digest of every
        // release asset at upload and publishes it with the release.
        "fetch_clusterctl() {",
        '  case "$(uname -s)/$(uname -m)" in',
        ...assetCases,
        `    *) echo "clusterctl: ${version} has no release binary for $(uname -s)/$(uname -m)" >&2; exit 1 ;;`,
        "  esac",
        "  command -v node >/dev/null || { echo 'clusterctl: node (which runs this Pulumi program) is needed to read the release metadata' >&2; exit 1; }",
        `  if ! curl -fsSL --retry 3 -H 'Accept: application/vnd.github+json' -o "$work/release.json" '${CAPI_RELEASES.api}/${version}'; then`,
        `    echo "clusterctl: cannot read the ${version} release metadata from api.github.com, which publishes the checksum of $asset" >&2; exit 1`,
        "  fi",
        `  if ! want="$(node -e '${READ_ASSET_DIGEST}' "$work/release.json" "$asset")"; then`,
        `    echo "clusterctl: GitHub publishes no SHA-256 digest for $asset of ${version}; refusing to run an unverified binary" >&2; exit 1`,
        "  fi",
        `  curl -fsSL --retry 3 -o "$work/clusterctl" "${CAPI_RELEASES.download}/${version}/$asset"`,
        '  got="$(sha256sum "$work/clusterctl")"',
        '  got="${got%% *}"',
        '  if [ "$got" != "$want" ]; then',
        `    echo "clusterctl: checksum mismatch for $asset ${version}: downloaded sha256 $got, published sha256 $want; not running it" >&2; exit 1`,
        "  fi",
        '  chmod 0700 "$work/clusterctl"',
        '  got="$("$work/clusterctl" version -o short)"',
        `  if [ "$got" != '${version}' ]; then echo "clusterctl: downloaded $got, wanted ${version}" >&2; exit 1; fi`,
        "}",
        'cc() { [ -x "$work/clusterctl" ] || fetch_clusterctl; "$work/clusterctl" "$@" --kubeconfig "$work/kubeconfig" --config "$work/clusterctl.yaml"; }',
    ];
}

export interface ClusterctlScripts {
    readonly create: string;
    readonly update: string;
    readonly delete: string;
}

/**
 * create = update: bring the pinned providers into the cluster from whatever
 *   is there, so an interrupted run can simply run again. A missing provider
 *   is installed (`clusterctl init` refuses one at another version), an older
 *   one upgraded (`clusterctl upgrade apply`), a newer one kept with a
 *   warning (clusterctl does not downgrade). Providers found that the lab did
 *   not install (not in its journal) are adopted. Then every provider's
 *   Deployment must be Available, and the record line is printed last.
 * delete: `clusterctl delete --include-crd` of the providers the record says
 *   the lab installed, core last (clusterctl checks the core's CRDs on every
 *   run); adopted providers and their CRDs stay. clusterctl refuses to delete
 *   CRDs that still have objects, so clusters are never wiped in passing.
 */
export function clusterctlScripts(versions: Record<ClusterctlImage, string>, waitSeconds = 900): ClusterctlScripts {
    const head = preamble(versions.capiController);
    const args = (key: ClusterctlImage) => {
        const { flag, type, provider, component } = CLUSTERCTL_PROVIDERS[key];
        return `${flag} ${type} ${provider} ${component}`;
    };
    const ensure: string[] = [
        ...head,
        // v1.2.3[-pre] older than the other? Numeric per field; a pre-release is older than its release.
        "older() {",
        `  awk -v a="$1" -v b="$2" 'function parse(v, o,  c, i) { sub(/^v/, "", v); i = index(v, "-"); o[4] = i ? 0 : 1; if (i) v = substr(v, 1, i - 1); split(v, c, "."); o[1] = c[1] + 0; o[2] = c[2] + 0; o[3] = c[3] + 0 }`,
        `    BEGIN { parse(a, x); parse(b, y); for (i = 1; i <= 4; i++) if (x[i] != y[i]) exit !(x[i] < y[i]); exit 1 }'`,
        "}",
        // ensure <flag> <type> <name> <label> <version>: plans one provider into $init/$upgrade, notes adoption.
        "ensure() {",
        '  have="$(field "$2" "$3" 3)"',
        '  if [ -z "$have" ]; then',
        '    install="$install $4" init="$init $1 $3:$5"',
        '    listed "$4" "$journal" || journal="$journal $4"',
        "    return 0",
        "  fi",
        '  listed "$4" "$journal" || adopted="$adopted $4"',
        // Opt out of an installed provider: clusterctl adds no defaults once a core is installed.
        '  [ "$1" = --core ] || init="$init $1 -"',
        '  if [ "$have" = "$5" ]; then',
        '    echo "clusterctl: $4 $5 is installed"',
        '  elif older "$have" "$5"; then',
        '    upgrade="$upgrade $1 $3:$5"',
        '    echo "clusterctl: $4 $have is older than $5: upgrading"',
        "  else",
        `    echo "clusterctl: WARNING $4 is at $have, newer than the lab's $5: kept (clusterctl does not downgrade)" >&2`,
        "  fi",
        "}",
        'ready() { k wait --for=condition=Available deployment -n "$(field "$2" "$3" 4)" -l "cluster.x-k8s.io/provider=$4" --timeout=' + `${waitSeconds}s; }`,
        'csv() { if [ $# -eq 0 ]; then echo -; else (IFS=,; echo "$*"); fi; }',
        "inventory",
        `journal="$(k get configmap -n ${CLUSTERCTL_JOURNAL.namespace} ${CLUSTERCTL_JOURNAL.name} --ignore-not-found -o jsonpath='{.data.${CLUSTERCTL_JOURNAL.key}}')"`,
        'install="" adopted="" init="" upgrade=""',
        ...CLUSTERCTL_IMAGES.map((key) => `ensure ${args(key)} ${versions[key]}`),
        // Verified before anything is written to the cluster; nothing to do needs no clusterctl.
        '[ -z "$upgrade$install" ] || fetch_clusterctl',
        'if [ -n "$upgrade" ]; then',
        "  if ! cc upgrade apply $upgrade; then",
        '    echo "clusterctl: upgrade apply$upgrade failed (clusterctl says why above)" >&2; exit 1',
        "  fi",
        "fi",
        'if [ -n "$install" ]; then',
        // Journal first: if init is cut short, the next run still counts these as the lab's.
        `  printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s","namespace":"%s","labels":{"app.kubernetes.io/managed-by":"metal3-scale-lab"}},"data":{"%s":"%s"}}\\n' ${CLUSTERCTL_JOURNAL.name} ${CLUSTERCTL_JOURNAL.namespace} ${CLUSTERCTL_JOURNAL.key} "$(echo $journal)" > "$work/journal.json"`,
        '  k apply -f "$work/journal.json" >/dev/null',
        "  cc init $init",
        "fi",
        "inventory",
        ...CLUSTERCTL_IMAGES.map((key) => `ready ${args(key)}`),
        `echo "${CLUSTERCTL_RECORD} installed=$(csv $journal) adopted=$(csv $adopted)"`,
    ];

    const remove: string[] = [
        ...head,
        // remove <flag> <type> <name> <label>: deletes one provider the lab installed, with its CRDs.
        "remove() {",
        '  if ! listed "$4" "$installed"; then echo "clusterctl: leaving $4: it was there before the lab (adopted)"; return 0; fi',
        '  ns="$(field "$2" "$3" 4)"',
        '  if [ -z "$ns" ]; then echo "clusterctl: $4 is already gone"; return 0; fi',
        // Its namespace goes too unless another provider still lives there (CAPM3 and IPAM share one).
        `  if [ -z "$(awk -v ns="$ns" -v t="$2" -v n="$3" '$4 == ns && !($1 == t && $2 == n)' "$work/inventory")" ]; then`,
        '    cc delete "$1" "$3" --include-crd --include-namespace',
        "  else",
        '    cc delete "$1" "$3" --include-crd',
        "  fi",
        "  inventory",
        "}",
        `record="$(printf '%s\\n' "\${PULUMI_COMMAND_STDOUT:-}" | sed -n 's/^${CLUSTERCTL_RECORD} installed=\\([^ ]*\\) adopted=.*$/\\1/p' | tail -n 1)"`,
        'if [ -z "$record" ]; then',
        "  echo 'clusterctl: no record of the providers the lab installed: leaving every provider in place' >&2; exit 0",
        "fi",
        `installed="$(echo "$record" | tr , ' ')"`,
        'if [ "$installed" = - ]; then echo "clusterctl: every provider was there before the lab: leaving them"; exit 0; fi',
        "inventory",
        // Core last: clusterctl checks the core's CRDs on every run.
        ...[...CLUSTERCTL_IMAGES].reverse().map((key) => `remove ${args(key)}`),
        `k delete configmap -n ${CLUSTERCTL_JOURNAL.namespace} ${CLUSTERCTL_JOURNAL.name} --ignore-not-found`,
    ];

    const create = shScript(ensure);
    return { create, update: create, delete: shScript(remove) };
}

/** The mode rules for the cluster side. */
export function modeRunsCapi(mode: LabConfig["mode"]): boolean {
    return mode === "capi";
}
