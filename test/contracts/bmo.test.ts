// Contract: what our BMO rendering relies on in metal3-io/baremetal-operator at
// the pinned release v0.13.2 (each fact names the upstream file it was read from).
import { strict as assert } from "node:assert";
import { bareMetalHostSpec } from "../../components/enroll/specs";
import { bmhManifest } from "../../components/enroll/bareMetalHostBatch";
import { BMO_AUTH_DIR, BMO_CA_DIR, BMO_CRDS_BY_MINOR, BMO_HEALTH_PORT, bmoCrdUrls, bmoDeploymentSpec, bmoIronicEnv } from "../../components/bmo/render";
import { DEFAULT_IMAGES } from "../../components/config/defaults";
import { releaseVersion } from "../../components/registry/images";
import { ipaImageUrls } from "../../components/registry/ipaImages";
import { buildInventory } from "../../components/inventory/inventory";
import { labConfig } from "../support/clusterFixtures";

const BMO_RELEASE = "v0.13.2";

describe("contract: baremetal-operator v0.13.2", () => {
    const config = labConfig("dev");
    const ipa = ipaImageUrls(config);
    const env = bmoIronicEnv(config, { ironicEndpoint: "https://172.22.0.2:6385", deployKernelUrl: ipa.kernel, deployRamdiskUrl: ipa.ramdisk });
    const spec = bmoDeploymentSpec({
        instance: "bmo",
        image: DEFAULT_IMAGES.bmo,
        concurrency: config.bmo.concurrency,
        configMapName: "ironic",
        credentialsSecretName: "ironic-credentials",
        caSecretName: "ironic-cacert",
        serviceAccountName: "bmo",
    });
    const manager = (spec.template as any).spec.containers[0];

    it("is the release the lab pins", () => {
        assert.equal(releaseVersion(DEFAULT_IMAGES.bmo, "bmo"), BMO_RELEASE);
    });

    it("installs exactly the CRDs of config/base/crds/kustomization.yaml", () => {
        // baremetal-operator@v0.13.2:config/base/crds/kustomization.yaml:7-17 (HostClaim and HostDeployPolicy are new in v0.13).
        assert.deepEqual(BMO_CRDS_BY_MINOR["v0.13"], [
            "baremetalhosts",
            "hostfirmwarecomponents",
            "hostfirmwaresettings",
            "firmwareschemas",
            "preprovisioningimages",
            "bmceventsubscriptions",
            "hardwaredata",
            "dataimages",
            "hostupdatepolicies",
            "hostclaims",
            "hostdeploypolicies",
        ]);
        // The plain bases, at the tag: config/base/crds/bases/metal3.io_<plural>.yaml.
        assert.equal(bmoCrdUrls(BMO_RELEASE)[0], "https://raw.githubusercontent.com/metal3-io/baremetal-operator/v0.13.2/config/base/crds/bases/metal3.io_baremetalhosts.yaml");
    });

    it("gives the environment pkg/provisioner/ironic/factory.go and main.go read", () => {
        // factory.go:230 IRONIC_ENDPOINT; :238-240 IRONIC_CACERT_FILE (default /opt/metal3/certs/ca/tls.crt); :251 IRONIC_INSECURE.
        assert.match(env.IRONIC_ENDPOINT, /^https:\/\/.*\/v1\/$/);
        assert.equal(env.IRONIC_CACERT_FILE, `${BMO_CA_DIR}/tls.crt`);
        assert.equal(env.IRONIC_CACERT_FILE, "/opt/metal3/certs/ca/tls.crt");
        assert.equal(env.IRONIC_INSECURE, "false");
        // factory.go:176-188: DEPLOY_KERNEL_URL and DEPLOY_RAMDISK_URL are optional since v0.11, but only together.
        assert.equal(env.DEPLOY_KERNEL_URL, ipa.kernel);
        assert.equal(env.DEPLOY_RAMDISK_URL, ipa.ramdisk);
        // factory.go:192 PROVISIONING_LIMIT; main.go:504 BMO_CONCURRENCY.
        assert.match(env.PROVISIONING_LIMIT, /^\d+$/);
        assert.match(env.BMO_CONCURRENCY, /^\d+$/);
        // Not read by BMO; named as metal3-dev-env's ironic.env does (metal3-dev-env@ac77fc92:03_launch_mgmt_cluster.sh:153).
        assert.equal(env.PROVISIONING_INTERFACE, "ironicendpoint");
    });

    it("mounts credentials where pkg/provisioner/ironic/clients/auth.go reads them", () => {
        // auth.go:30-35 authRoot() = /opt/metal3/auth; LoadAuth joins "ironic" and reads "username" and "password".
        assert.equal(BMO_AUTH_DIR, "/opt/metal3/auth/ironic");
        const mounts = manager.volumeMounts.map((m: { mountPath: string }) => m.mountPath);
        assert.ok(mounts.includes(BMO_AUTH_DIR));
        assert.ok(mounts.includes(BMO_CA_DIR));
    });

    it("passes only flags main.go defines", () => {
        // main.go:160-166: --health-addr (default :9440), --webhook-port (0 disables), --kube-api-qps, --kube-api-burst.
        const names = manager.args.map((a: string) => a.split("=")[0]);
        assert.deepEqual(names.sort(), ["--health-addr", "--kube-api-burst", "--kube-api-qps", "--webhook-port"]);
        assert.ok(manager.args.includes("--webhook-port=0"));
        assert.ok(manager.args.includes(`--health-addr=:${BMO_HEALTH_PORT}`));
    });

    it("writes BareMetalHosts the v0.13.2 CRD accepts", () => {
        // config/base/crds/bases/metal3.io_baremetalhosts.yaml:113-115 bmc requires address and credentialsName;
        // apis/metal3.io/v1alpha1/baremetalhost_types.go:599-600 inspectionMode Enum=disabled;agent (InspectionDisabled() reads it first, :944-953).
        const host = buildInventory(config)[0];
        const inputs = { namespace: "metal3", stack: "dev", batch: 0, label: "dev/bmh-batch-000" } as any;
        const inspected = bmhManifest(inputs, bareMetalHostSpec(host, config)).spec as Record<string, any>;
        assert.ok(inspected.bmc.address && inspected.bmc.credentialsName);
        assert.equal(inspected.inspectionMode, undefined, "BMO's default is agent inspection");
        const skipped = bmhManifest(inputs, bareMetalHostSpec(host, { ...config, inspectHosts: false })).spec as Record<string, any>;
        assert.equal(skipped.inspectionMode, "disabled");
    });
});
