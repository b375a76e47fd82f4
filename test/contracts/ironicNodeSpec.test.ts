// Contract: the Ironic node the lab enrolls in ironic mode (specs.ts redfishNodeSpec)
// pins only interfaces that metal3-io/ironic-image at the pinned release v35.0.2
// enables (ironic-config/ironic.conf.j2), and inspects the way that image does.
import { strict as assert } from "node:assert";
import { DEFAULT_IMAGES } from "../../components/config/defaults";
import { loadLabConfig } from "../../components/config/load";
import { ironicBatchArgs } from "../../components/enroll/hostEnrollment";
import { DeclaredNodes, expandHosts } from "../../components/enroll/nodeDefaults";
import { REDFISH_NODE_INTERFACES, redfishNodeSpec } from "../../components/enroll/specs";
import { buildInventory } from "../../components/inventory/inventory";
import { releaseVersion } from "../../components/registry/images";
import { ipaImageUrls } from "../../components/registry/ipaImages";

describe("contract: Ironic node spec for ironic-image v35.0.2", () => {
    const cfg = loadLabConfig({ mode: "ironic", nodes: "4" }, "dev");
    const host = buildInventory(cfg)[0];
    const spec = redfishNodeSpec(host, cfg, "admin");

    it("is the release the lab pins", () => {
        assert.equal(releaseVersion(DEFAULT_IMAGES.ironic, "ironic"), "v35.0.2");
    });

    it("inspects in-band by the agent, as the image's default, which fake-ipa serves", () => {
        // metal3-io/ironic-image@v35.0.2:ironic-config/ironic.conf.j2:5 default_inspect_interface = agent
        // metal3-io/ironic-image@v35.0.2:ironic-config/ironic.conf.j2:18 enabled_inspect_interfaces = agent,fake,redfish
        // metal3-io/utility-images@ff1d62ee:fake-ipa/conf.py:2 fake-ipa posts the inventory to /v1/continue_inspection (agent inspection)
        assert.equal(spec.interfaces?.inspect_interface, "agent");
    });

    it("deploys with direct, the image's default", () => {
        // metal3-io/ironic-image@v35.0.2:ironic-config/ironic.conf.j2:4 default_deploy_interface = direct
        // metal3-io/ironic-image@v35.0.2:ironic-config/ironic.conf.j2:13 enabled_deploy_interfaces = direct,fake,ramdisk,custom-agent,bootc
        assert.equal(spec.interfaces?.deploy_interface, "direct");
    });

    it("boots with ipxe, as BMO does for a redfish:// BMC", () => {
        // metal3-io/ironic-image@v35.0.2:ironic-config/ironic.conf.j2:12 enabled_boot_interfaces = ipxe,pxe,fake,redfish-virtual-media,...
        //   (no default_boot_interface: Ironic would take the hardware type's first enabled one)
        // metal3-io/baremetal-operator@v0.13.2:pkg/hardwareutils/bmc/redfish.go:109-111 BootInterface() returns ipxe (access.go:14)
        assert.equal(spec.interfaces?.boot_interface, "ipxe");
    });

    it("drives power and management over Redfish (sushy-tools)", () => {
        // metal3-io/ironic-image@v35.0.2:ironic-config/ironic.conf.j2:17 enabled_hardware_types = ipmi,idrac,fake-hardware,redfish,manual-management
        // metal3-io/ironic-image@v35.0.2:ironic-config/ironic.conf.j2:19 enabled_management_interfaces = ipmitool,fake,redfish,idrac-redfish,noop
        // metal3-io/ironic-image@v35.0.2:ironic-config/ironic.conf.j2:25 enabled_power_interfaces = ipmitool,fake,redfish,idrac-redfish
        assert.equal(spec.driver, "redfish");
        assert.equal(spec.interfaces?.management_interface, "redfish");
        assert.equal(spec.interfaces?.power_interface, "redfish");
    });

    it("pins nothing else (every pinned interface is covered above)", () => {
        assert.deepEqual(Object.keys(REDFISH_NODE_INTERFACES).sort(), ["boot_interface", "deploy_interface", "inspect_interface", "management_interface", "power_interface"]);
        assert.deepEqual(spec.interfaces, REDFISH_NODE_INTERFACES);
    });

    it("names the IPA kernel and ramdisk the lab host's image cache serves", () => {
        const ipa = ipaImageUrls(cfg);
        assert.equal(spec.driverInfo.deploy_kernel, ipa.kernel);
        assert.equal(spec.driverInfo.deploy_ramdisk, ipa.ramdisk);
        assert.match(spec.driverInfo.deploy_kernel, new RegExp(`^http://${cfg.network.provisioningHostIp.replace(/\./g, "\\.")}:${cfg.ports.imageCache}/images/`));
    });

    it("HostEnrollment's ironic batches inspect exactly when inspectHosts says so", () => {
        const access = { endpoints: ["https://172.22.0.2:6385"], username: "u", password: "p", caPem: "" };
        const args = (config: typeof cfg) => ironicBatchArgs({ config, hosts: [host], bmc: { username: "admin", password: "x" }, ironic: access }, "dev/ironic-batch-000", [host], 600);
        assert.equal(args(cfg).inspect, true);
        assert.equal(args(loadLabConfig({ mode: "ironic", nodes: "4", inspectHosts: "false" }, "dev")).inspect, false);
        assert.deepEqual(expandHosts(args(cfg) as DeclaredNodes), [spec]);
    });
});
