// A fake management cluster for running the clusterctl Command's scripts for
// real: `clusterctl`, `kubectl` and `curl` executables on PATH that share one
// state directory (clusterctl's provider inventory, provider Deployments and
// CRDs, the lab's journal ConfigMap). The fake clusterctl behaves like
// clusterctl v1.13.5 where the scripts depend on it (see the comments); it is
// also what the fake curl "downloads", so the real sha256sum checks it.
// Holds no tests itself.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Default namespaces of the providers' components (CAPI@v1.13.5 config/default, CAPM3 and IPAM@v1.13.2 config/default). */
export const PROVIDER_NAMESPACES: Record<string, string> = {
    "cluster-api": "capi-system",
    "bootstrap-kubeadm": "capi-kubeadm-bootstrap-system",
    "control-plane-kubeadm": "capi-kubeadm-control-plane-system",
    "infrastructure-metal3": "capm3-system",
    "ipam-metal3": "capm3-system",
};

/** The upstream error `clusterctl init` gives for a provider installed at another version or namespace. */
export function alreadyInstalledError(label: string, namespace: string): string {
    // kubernetes-sigs/cluster-api@v1.13.5:cmd/clusterctl/client/cluster/installer.go:372, wrapped at :189.
    return `installing provider "${label}" can lead to a non functioning management cluster: there is already an instance of the "${label}" provider installed in the "${namespace}" namespace`;
}

// POSIX sh; state in $FAKE_STATE. Labels follow clusterctl's ManifestLabel (api/v1alpha3/labels.go).
const FAKE_CLUSTERCTL = String.raw`#!/bin/sh
set -eu
S="$FAKE_STATE"
echo "$*" >> "$S/clusterctl-calls"
if [ "$1" = version ]; then echo "${"$"}{FAKE_CLUSTERCTL_VERSION:-v1.13.5}"; exit 0; fi
kc="" cfg="" prev=""
for a in "$@"; do
  case "$prev" in --kubeconfig) kc="$a" ;; --config) cfg="$a" ;; esac
  prev="$a"
done
if [ ! -f "$kc" ] || [ "$(stat -c %a "$kc")" != 600 ] || ! grep -q "kind: Config" "$kc"; then echo "fake clusterctl: no private kubeconfig" >&2; exit 2; fi
[ -f "$cfg" ] || { echo "fake clusterctl: no --config file" >&2; exit 2; }
typeof() { case "$1" in --core) echo CoreProvider ;; --bootstrap) echo BootstrapProvider ;; --control-plane) echo ControlPlaneProvider ;; --infrastructure) echo InfrastructureProvider ;; --ipam) echo IPAMProvider ;; *) echo "fake clusterctl: unknown flag $1" >&2; exit 2 ;; esac; }
label() { case "$1" in CoreProvider) echo "$2" ;; BootstrapProvider) echo "bootstrap-$2" ;; ControlPlaneProvider) echo "control-plane-$2" ;; InfrastructureProvider) echo "infrastructure-$2" ;; IPAMProvider) echo "ipam-$2" ;; esac; }
nsof() { case "$1" in ${Object.entries(PROVIDER_NAMESPACES).map(([l, ns]) => `${l}) echo ${ns} ;;`).join(" ")} esac; }
current() { awk -v t="$1" -v n="$2" '$1 == t && $2 == n { print $3 " " $4 }' "$S/inventory"; }
drop() { awk -v t="$1" -v n="$2" '!($1 == t && $2 == n)' "$S/inventory" > "$S/inventory.new"; mv "$S/inventory.new" "$S/inventory"; }
sub="$1"; shift
[ "$sub" != upgrade ] || { [ "$1" = apply ] || exit 2; shift; sub="upgrade apply"; }
items="" flags="" crd=no nsdel=no
while [ $# -gt 0 ]; do
  case "$1" in
    --kubeconfig|--config) shift 2 ;;
    --include-crd) crd=yes; shift ;;
    --include-namespace) nsdel=yes; shift ;;
    --*) flags="$flags $1"; t="$(typeof "$1")"; [ "$2" = - ] || items="$items $t:$2"; shift 2 ;;
    *) echo "fake clusterctl: unexpected argument $1" >&2; exit 2 ;;
  esac
done
case "$sub" in
init)
  if ! grep -q '^CoreProvider ' "$S/inventory"; then
    # client/init.go addDefaultProviders: with no core, missing bootstrap/control-plane flags mean "install the latest".
    case "$flags" in *--core*) ;; *) echo "fake clusterctl: no core provider" >&2; exit 2 ;; esac
    case "$flags" in *--bootstrap*--control-plane*) ;; *) echo "fake clusterctl: would install clusterctl's default (latest) kubeadm providers" >&2; exit 2 ;; esac
  fi
  for it in $items; do
    t="${"$"}{it%%:*}" rest="${"$"}{it#*:}"; n="${"$"}{rest%%:*}" v="${"$"}{rest#*:}"; l="$(label "$t" "$n")"
    cur="$(current "$t" "$n")"
    if [ -n "$cur" ] && [ "$cur" != "$v $(nsof "$l")" ]; then
      printf 'Error: ${alreadyInstalledError("%s", "%s")}\n' "$l" "${"$"}{cur#* }" >&2
      exit 1
    fi
  done
  touch "$S/inventory-crd"
  done_count=0
  for it in $items; do
    t="${"$"}{it%%:*}" rest="${"$"}{it#*:}"; n="${"$"}{rest%%:*}" v="${"$"}{rest#*:}"; l="$(label "$t" "$n")"; ns="$(nsof "$l")"
    # client/init.go:329-337: a provider of the same name, namespace, type and version is skipped.
    [ -z "$(current "$t" "$n")" ] || continue
    echo "$t $n $v $ns" >> "$S/inventory"
    echo "$ns $l" >> "$S/deployments"
    grep -qx "$l" "$S/crds" || echo "$l" >> "$S/crds"
    echo "installed $l $v" >> "$S/events"
    done_count=$((done_count + 1))
    if [ "$done_count" = "${"$"}{FAKE_INTERRUPT_AFTER:-0}" ]; then echo "fake clusterctl: interrupted" >&2; exit 130; fi
  done
  ;;
"upgrade apply")
  if [ -n "${"$"}{FAKE_UPGRADE_ERROR:-}" ]; then echo "Error: $FAKE_UPGRADE_ERROR" >&2; exit 1; fi
  for it in $items; do
    t="${"$"}{it%%:*}" rest="${"$"}{it#*:}"; n="${"$"}{rest%%:*}" v="${"$"}{rest#*:}"; l="$(label "$t" "$n")"
    cur="$(current "$t" "$n")"
    [ -n "$cur" ] || { echo "Error: unable to perform upgrade: the provider $l in not part of the management cluster" >&2; exit 1; }
    drop "$t" "$n"
    echo "$t $n $v ${"$"}{cur#* }" >> "$S/inventory"
    echo "upgraded $l $v" >> "$S/events"
  done
  ;;
delete)
  for it in $items; do
    t="${"$"}{it%%:*}" n="${"$"}{it#*:}"; l="$(label "$t" "$n")"
    cur="$(current "$t" "$n")"
    [ -n "$cur" ] || { echo "Error: failed to identify the namespace for the \"$n\" provider" >&2; exit 1; }
    ns="${"$"}{cur#* }"
    drop "$t" "$n"
    grep -vx "$ns $l" "$S/deployments" > "$S/deployments.new" || true; mv "$S/deployments.new" "$S/deployments"
    if [ "$crd" = yes ]; then grep -vx "$l" "$S/crds" > "$S/crds.new" || true; mv "$S/crds.new" "$S/crds"; fi
    if [ "$nsdel" = yes ]; then
      if awk -v ns="$ns" '$4 == ns { found = 1 } END { exit !found }' "$S/inventory"; then echo "namespace $ns deleted under another provider" >> "$S/violations"; fi
      echo "namespace $ns" >> "$S/events"
    fi
    echo "deleted $l crd=$crd" >> "$S/events"
  done
  ;;
*) echo "fake clusterctl: unexpected command $sub" >&2; exit 2 ;;
esac
`;

const FAKE_KUBECTL = String.raw`#!/bin/sh
set -eu
S="$FAKE_STATE"
if [ -n "${"$"}{FAKE_KUBECTL_DOWN:-}" ]; then echo "The connection to the server 192.168.39.2:8443 was refused - did you specify the right host or port?" >&2; exit 1; fi
if [ "$1" != --kubeconfig ] || [ ! -f "$2" ]; then echo "fake kubectl: --kubeconfig <file> first" >&2; exit 2; fi
shift 2
echo "$*" >> "$S/kubectl-calls"
case "$1 $2" in
"get crd")
  if [ -f "$S/inventory-crd" ]; then echo "customresourcedefinition.apiextensions.k8s.io/$3"; fi ;;
"get providers.clusterctl.cluster.x-k8s.io")
  [ -f "$S/inventory-crd" ] || { echo 'error: the server does not have a resource type "providers"' >&2; exit 1; }
  cat "$S/inventory" ;;
"get configmap")
  if [ -f "$S/journal" ]; then printf '%s' "$(cat "$S/journal")"; fi ;;
"apply -f")
  node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); if (c.kind !== "ConfigMap" || c.metadata.namespace !== "kube-system" || c.metadata.name !== "metal3-scale-lab-clusterctl") process.exitCode = 2; else process.stdout.write(c.data.installed);' "$3" > "$S/journal.new"
  mv "$S/journal.new" "$S/journal" ;;
"delete configmap")
  rm -f "$S/journal" ;;
"wait --for=condition=Available")
  ns="" sel="" prev=""
  for a in "$@"; do
    case "$prev" in -n) ns="$a" ;; -l) sel="${"$"}{a#cluster.x-k8s.io/provider=}" ;; esac
    prev="$a"
  done
  grep -qx "$ns $sel" "$S/deployments" || { echo "error: no matching resources found" >&2; exit 1; } ;;
*) echo "fake kubectl: unexpected: $*" >&2; exit 2 ;;
esac
`;

const FAKE_CURL = String.raw`#!/bin/sh
set -eu
S="$FAKE_STATE"
out="" url=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o|-H|--retry) [ "$1" != -o ] || out="$2"; shift 2 ;;
    -*) shift ;;
    *) url="$1"; shift ;;
  esac
done
echo "$url" >> "$S/curl-calls"
case "$url" in
https://api.github.com/repos/kubernetes-sigs/cluster-api/releases/tags/*)
  f="$S/release-${"$"}{url##*/}.json"
  [ -f "$f" ] || { echo "curl: (22) The requested URL returned error: 404" >&2; exit 22; }
  cp "$f" "$out" ;;
https://github.com/kubernetes-sigs/cluster-api/releases/download/*/clusterctl-linux-*)
  cp "$S/served-clusterctl" "$out" ;;
*) echo "curl: (6) Could not resolve host" >&2; exit 6 ;;
esac
`;

export interface Provider {
    readonly type: string;
    readonly name: string;
    readonly version: string;
    readonly namespace?: string;
}

export interface ScriptRun {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

/** One fake cluster + release server in a private temp directory; `dispose()` removes it. */
export class FakeClusterctlWorld {
    readonly root = fs.mkdtempSync(path.join(os.tmpdir(), "fake-clusterctl-"));
    readonly state = path.join(this.root, "state");
    readonly bin = path.join(this.root, "bin");
    /** TMPDIR of the scripts: must be empty again after every run. */
    readonly tmp = path.join(this.root, "tmp");
    /** The clusterctl the release publishes; its SHA-256 is in the release metadata. */
    readonly published = FAKE_CLUSTERCTL;

    constructor(providers: Provider[] = [], version = "v1.13.5") {
        for (const dir of [this.state, this.bin, this.tmp]) fs.mkdirSync(dir);
        for (const [name, text] of [["kubectl", FAKE_KUBECTL], ["curl", FAKE_CURL]]) fs.writeFileSync(path.join(this.bin, name), text, { mode: 0o755 });
        for (const file of ["inventory", "deployments", "crds", "clusterctl-calls", "kubectl-calls", "curl-calls", "events", "violations"]) this.write(file, "");
        this.publish(version, this.published);
        this.serve(this.published);
        if (providers.length) this.preinstall(providers);
    }

    /** Release metadata as api.github.com returns it: every asset with the digest GitHub computed at upload. */
    publish(version: string, binary: string | undefined): void {
        const digest = binary === undefined ? null : `sha256:${createHash("sha256").update(binary).digest("hex")}`;
        const assets = ["clusterctl-linux-amd64", "clusterctl-linux-arm64", "clusterctl-linux-ppc64le", "core-components.yaml"].map((name, i) => ({
            url: `https://api.github.com/repos/kubernetes-sigs/cluster-api/releases/assets/${i}`,
            name,
            label: "",
            uploader: { login: "k8s-ci-robot", type: "User" },
            content_type: "application/octet-stream",
            state: "uploaded",
            size: binary?.length ?? 0,
            digest: name.startsWith("clusterctl-") ? digest : "sha256:" + "0".repeat(64),
            browser_download_url: `https://github.com/kubernetes-sigs/cluster-api/releases/download/${version}/${name}`,
        }));
        this.write(`release-${version}.json`, JSON.stringify({ tag_name: version, body: 'notes mentioning "name": "clusterctl-linux-amd64"', assets }, null, 2));
    }

    /** What the download URL serves (the published binary, or something else). */
    serve(binary: string): void {
        this.write("served-clusterctl", binary);
    }

    /** Providers installed by clusterctl before the lab (or by an earlier run). */
    preinstall(providers: Provider[]): void {
        const label = (p: Provider) => ({ CoreProvider: p.name, BootstrapProvider: `bootstrap-${p.name}`, ControlPlaneProvider: `control-plane-${p.name}`, InfrastructureProvider: `infrastructure-${p.name}`, IPAMProvider: `ipam-${p.name}` })[p.type]!;
        this.write("inventory-crd", "");
        for (const p of providers) {
            const ns = p.namespace ?? PROVIDER_NAMESPACES[label(p)];
            this.append("inventory", `${p.type} ${p.name} ${p.version} ${ns}\n`);
            this.append("deployments", `${ns} ${label(p)}\n`);
            this.append("crds", `${label(p)}\n`);
        }
    }

    run(script: string, env: Record<string, string> = {}): ScriptRun {
        const result = spawnSync("sh", ["-c", script], {
            encoding: "utf8",
            timeout: 60_000,
            env: {
                PATH: [this.bin, path.dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
                HOME: this.root,
                TMPDIR: this.tmp,
                FAKE_STATE: this.state,
                ...env,
            },
        });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    }

    /** Provider lines `<type> <name> <version> <namespace>`, sorted. */
    inventory(): string[] {
        return this.lines("inventory").sort();
    }

    lines(file: string): string[] {
        return this.read(file).split("\n").filter((l) => l !== "");
    }

    read(file: string): string {
        const p = path.join(this.state, file);
        return fs.existsSync(p) ? fs.readFileSync(p, "utf8") : "";
    }

    write(file: string, text: string): void {
        fs.writeFileSync(path.join(this.state, file), text);
    }

    append(file: string, text: string): void {
        fs.appendFileSync(path.join(this.state, file), text);
    }

    dispose(): void {
        fs.rmSync(this.root, { recursive: true, force: true });
    }
}
