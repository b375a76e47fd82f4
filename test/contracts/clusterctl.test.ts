// Contract: what the clusterctl Command relies on in kubernetes-sigs/cluster-api
// at v1.13.5 (clusterctl's CLI, inventory, config and release assets) and in
// metal3-dev-env's `clusterctl init`. Each fact names the upstream file and line
// it was read from; the assertions are on our rendered scripts and config.
import { strict as assert } from "node:assert";
import {
    CAPI_RELEASES,
    CLUSTERCTL_ASSETS,
    CLUSTERCTL_IMAGES,
    CLUSTERCTL_PROVIDERS,
    ClusterctlImage,
    clusterctlConfig,
    clusterctlKnowsMetal3Ipam,
    clusterctlProviderFlags,
    clusterctlScripts,
    clusterctlVersions,
} from "../../components/capi/render";
import { DEFAULT_IMAGES } from "../../components/config/defaults";
import { releaseVersion } from "../../components/registry/images";
import { PROVIDER_NAMESPACES, alreadyInstalledError } from "../support/fakeClusterctl";
import { fakeImages } from "../support/clusterFixtures";

const CAPI_RELEASE = "v1.13.5";
const CAPM3_RELEASE = "v1.13.2";

describe("contract: clusterctl v1.13.5 (kubernetes-sigs/cluster-api)", () => {
    const versions = clusterctlVersions(DEFAULT_IMAGES);
    const scripts = clusterctlScripts(versions);
    const local = fakeImages(DEFAULT_IMAGES);
    const config = JSON.parse(clusterctlConfig(Object.fromEntries(CLUSTERCTL_IMAGES.map((k) => [k, local[k]])) as Record<ClusterctlImage, string>, versions.capiController));

    it("is the release set the lab pins, and clusterctl is the core's release", () => {
        assert.deepEqual(versions, {
            capiController: CAPI_RELEASE,
            kubeadmBootstrapController: CAPI_RELEASE,
            kubeadmControlPlaneController: CAPI_RELEASE,
            capm3Controller: CAPM3_RELEASE,
            ipamController: CAPM3_RELEASE,
        });
        assert.ok(scripts.create.includes(`${CAPI_RELEASES.download}/${CAPI_RELEASE}/$asset`));
        assert.ok(scripts.create.includes(`if [ "$got" != '${CAPI_RELEASE}' ]`));
        // cluster-api@v1.13.5:cmd/clusterctl/client/config/cert_manager_client.go:32 CertManagerDefaultVersion = "v1.21.1".
        assert.equal(releaseVersion(DEFAULT_IMAGES.certManagerController, "cert-manager"), "v1.21.1");
    });

    it("installs what metal3-dev-env's clusterctl init installs", () => {
        // metal3-dev-env@ac77fc92:03_launch_mgmt_cluster.sh:616-617
        //   clusterctl init --core cluster-api:$CAPIRELEASE --bootstrap kubeadm:$CAPIRELEASE
        //     --control-plane kubeadm:$CAPIRELEASE --infrastructure=metal3:$CAPM3RELEASE --ipam=metal3:$IPAMRELEASE
        assert.deepEqual(clusterctlProviderFlags(versions), [
            "--core", `cluster-api:${CAPI_RELEASE}`,
            "--bootstrap", `kubeadm:${CAPI_RELEASE}`,
            "--control-plane", `kubeadm:${CAPI_RELEASE}`,
            "--infrastructure", `metal3:${CAPM3_RELEASE}`,
            "--ipam", `metal3:${CAPM3_RELEASE}`,
        ]);
    });

    it("passes providers as <flag> <name>:<version>, and '-' to opt out of an installed one", () => {
        // cmd/clusterctl/cmd/init.go:98-106 and cmd/upgrade_apply.go:78-86 (--core/--infrastructure/--bootstrap/
        // --control-plane/--ipam take name:version; upgrade_apply.go:56: namespace/name:version is deprecated).
        assert.ok(scripts.create.includes('install="$install $4" init="$init $1 $3:$5"'));
        assert.ok(scripts.create.includes('upgrade="$upgrade $1 $3:$5"'));
        assert.ok(scripts.create.includes("cc upgrade apply $upgrade"));
        // cmd/clusterctl/client/init.go:34 NoopProvider = "-", skipped at :310-315 (any type but core).
        assert.ok(scripts.create.includes('[ "$1" = --core ] || init="$init $1 -"'));
        for (const key of CLUSTERCTL_IMAGES) {
            const { flag, type, provider, component } = CLUSTERCTL_PROVIDERS[key];
            assert.ok(scripts.create.includes(`\nensure ${flag} ${type} ${provider} ${component} ${versions[key]}\n`));
        }
    });

    it("never asks init for an installed provider (init refuses another version of it)", () => {
        // cmd/clusterctl/client/init.go:329-337 skips only a provider of the same name, namespace, type and version;
        // anything else fails validation: client/cluster/installer.go:372, wrapped at :189.
        assert.equal(
            alreadyInstalledError("infrastructure-metal3", "capm3-system"),
            'installing provider "infrastructure-metal3" can lead to a non functioning management cluster: there is already an instance of the "infrastructure-metal3" provider installed in the "capm3-system" namespace',
        );
        assert.ok(scripts.create.includes('if [ -z "$have" ]; then'), "init only gets providers the inventory lacks");
    });

    it("reads clusterctl's provider inventory", () => {
        // cmd/clusterctl/config/manifest/clusterctl-api.yaml:6,16 (providers.clusterctl.cluster.x-k8s.io, Namespaced);
        // cmd/clusterctl/api/v1alpha3/provider_type.go:42,47,51 (providerName, type, version), :114-130 (type values).
        assert.ok(scripts.create.includes(
            `k get providers.clusterctl.cluster.x-k8s.io -A -o jsonpath='{range .items[*]}{.type}{" "}{.providerName}{" "}{.version}{" "}{.metadata.namespace}{"\\n"}{end}'`,
        ));
        assert.deepEqual(CLUSTERCTL_IMAGES.map((k) => CLUSTERCTL_PROVIDERS[k].type), ["CoreProvider", "BootstrapProvider", "ControlPlaneProvider", "InfrastructureProvider", "IPAMProvider"]);
    });

    it("names providers by clusterctl's ManifestLabel, the cluster.x-k8s.io/provider label of their objects", () => {
        // cmd/clusterctl/api/v1alpha3/labels.go:46-58 (core: name; others: <type prefix>-<name>);
        // client/repository/components.go:544-562 sets cluster.x-k8s.io/provider=<ManifestLabel> on every object.
        assert.deepEqual(CLUSTERCTL_IMAGES.map((k) => CLUSTERCTL_PROVIDERS[k].component), ["cluster-api", "bootstrap-kubeadm", "control-plane-kubeadm", "infrastructure-metal3", "ipam-metal3"]);
        assert.ok(scripts.create.includes('-l "cluster.x-k8s.io/provider=$4"'));
    });

    it("re-homes images with the `images` config key, per <ManifestLabel>/<image name>", () => {
        // client/config/imagemeta_client.go:32 (key "images"), :111 and :120 ("<component>/<image name>"),
        // :126-132 (repository, name, tag); client/repository/components.go:219 (component = ManifestLabel).
        for (const key of CLUSTERCTL_IMAGES) {
            const { component, image } = CLUSTERCTL_PROVIDERS[key];
            assert.deepEqual(Object.keys(config.images[`${component}/${image}`]).sort(), ["repository", "tag"]);
        }
        assert.equal(config["cert-manager"], undefined, "the lab's own cert-manager is left to itself (client/cluster/cert_manager.go:157,246-248)");
    });

    it("relies on clusterctl's built-in metal3 IPAM provider", () => {
        // client/config/providers_client.go:110,460-462 (Metal3IPAMProviderName, ip-address-manager ipam-components.yaml):
        // present from v1.12.0, absent in v1.11.0.
        assert.equal(config.providers, undefined);
        assert.ok(clusterctlKnowsMetal3Ipam(CAPI_RELEASE) && clusterctlKnowsMetal3Ipam("v1.12.0") && !clusterctlKnowsMetal3Ipam("v1.11.0"));
    });

    it("downloads a published Linux binary and verifies it against the digest GitHub publishes for it", () => {
        // Makefile:1137-1142 (release-binaries): clusterctl-{linux-amd64,linux-arm64,darwin-amd64,darwin-arm64,
        // windows-amd64.exe,linux-ppc64le}. .github/workflows/release.yaml:103,112 uploads `make release`'s out/*,
        // and no release target writes a checksum file, so CAPI publishes none (metal3-dev-env@ac77fc92 lib/download.sh:211-213
        // notes the same). GitHub computes a SHA-256 `digest` of every release asset at upload and serves it with the
        // release (GitHub changelog 2025-06-03 "Releases now expose digests for release assets").
        const published = ["clusterctl-linux-amd64", "clusterctl-linux-arm64", "clusterctl-linux-ppc64le"];
        assert.deepEqual([...new Set(Object.values(CLUSTERCTL_ASSETS))].sort(), published.sort());
        assert.ok(scripts.create.includes(`'${CAPI_RELEASES.api}/${CAPI_RELEASE}'`));
        assert.ok(scripts.create.includes('/^sha256:([0-9a-f]{64})$/.exec((a && a.digest) || "")'));
        // cmd/clusterctl/cmd/version.go:52,66-67: `version -o short` prints GitVersion alone.
        assert.ok(scripts.create.includes('got="$("$work/clusterctl" version -o short)"'));
    });

    it("takes --kubeconfig on each command and --config as a root flag", () => {
        // cmd/clusterctl/cmd/root.go:132 (--config, persistent); init.go:94, upgrade_apply.go:71, delete.go:94 (--kubeconfig).
        assert.ok(scripts.create.includes('"$work/clusterctl" "$@" --kubeconfig "$work/kubeconfig" --config "$work/clusterctl.yaml"'));
    });

    it("deletes the lab's providers with their CRDs, core last", () => {
        // cmd/clusterctl/cmd/delete.go:99-112 (--include-namespace, --include-crd, --core/--infrastructure/--bootstrap/
        // --control-plane/--ipam <name>). client/delete.go:78 checks the core's clusters CRD on every run
        // (client/cluster/inventory.go:410-414), so the core goes last; with --include-crd, delete.go:160-170 refuses
        // while objects exist (client/cluster/components.go:308), so clusters are never wiped in passing.
        assert.ok(scripts.delete.includes('cc delete "$1" "$3" --include-crd --include-namespace'));
        assert.ok(scripts.delete.includes('cc delete "$1" "$3" --include-crd\n'));
        const order = scripts.delete.split("\n").filter((l) => l.startsWith("remove ")).map((l) => l.split(" ")[4]);
        assert.deepEqual(order, ["ipam-metal3", "infrastructure-metal3", "control-plane-kubeadm", "bootstrap-kubeadm", "cluster-api"]);
        // CAPM3@v1.13.2:config/default/capm3/kustomization.yaml:2 and ip-address-manager config/default/kustomization.yaml:6
        // both use capm3-system: IPAM's delete must leave the namespace to CAPM3.
        assert.equal(PROVIDER_NAMESPACES["infrastructure-metal3"], PROVIDER_NAMESPACES["ipam-metal3"]);
        assert.ok(scripts.delete.includes(`'$4 == ns && !($1 == t && $2 == n)'`));
    });
});
