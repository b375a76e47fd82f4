// Contract: the structural schemas the Kubernetes API test server holds custom
// resources to are the pinned releases' CRDs (each fact names the upstream file
// and line it was read from). BMO v0.13.2:
// baremetal-operator@v0.13.2:config/base/crds/bases/metal3.io_baremetalhosts.yaml ("CRD:<line>").
import { strict as assert } from "node:assert";
import type { Schema } from "../support/kube/schema";
import { BARE_METAL_HOST_SCHEMA, PROVISIONING_STATES } from "../support/kube/schemaBmh";
import { KUBEADM_CONTROL_PLANE_SCHEMA, MACHINE_SCHEMA, METAL3_MACHINE_TEMPLATE_SCHEMA } from "../support/kube/schemaCapi";
import { ResourceRegistry } from "../support/kube/registry";
import { DEFAULT_IMAGES } from "../../components/config/defaults";
import { releaseVersion } from "../../components/registry/images";

/** The schema at a dotted path; `[]` steps into array items. */
function at(root: Schema, path: string): Schema {
    let s = root;
    for (const step of path.split(".")) {
        const next = step === "[]" ? s.items : s.properties?.[step];
        assert.ok(next, `${path}: no ${step}`);
        s = next;
    }
    return s;
}

describe("contract: BareMetalHost schema of baremetal-operator v0.13.2", () => {
    const bmh = (path: string) => at(BARE_METAL_HOST_SCHEMA, path);

    it("is the release the lab pins, served as metal3.io/v1alpha1 with a status subresource (CRD:1367-1370)", () => {
        assert.equal(releaseVersion(DEFAULT_IMAGES.bmo, "bmo"), "v0.13.2");
        const res = new ResourceRegistry().resolve("baremetalhosts");
        assert.equal(res.apiVersion, "metal3.io/v1alpha1");
        assert.equal(res.statusSubresource, true);
        assert.equal(res.schema, BARE_METAL_HOST_SCHEMA);
    });

    it("declares the spec's required fields, enums, pattern and default", () => {
        assert.deepEqual(bmh("spec").required, ["online"]); // CRD:632-633
        assert.deepEqual(bmh("spec.bmc").required, ["address", "credentialsName"]); // CRD:113-115
        assert.deepEqual(bmh("spec.bootMode").enum, ["UEFI", "UEFISecureBoot", "legacy"]); // CRD:130-133
        assert.deepEqual(bmh("spec.automatedCleaningMode").enum, ["metadata", "disabled"]); // CRD:86-88
        assert.equal(bmh("spec.automatedCleaningMode").default, "metadata"); // CRD:82
        assert.deepEqual(bmh("spec.inspectionMode").enum, ["disabled", "agent"]); // CRD:312-314
        assert.equal(bmh("spec.bootMACAddress").pattern, "[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}"); // CRD:122
        assert.equal(bmh("spec.online").type, "boolean"); // CRD:348-353
        assert.deepEqual(bmh("spec.image").required, ["url"]); // CRD:304-305
        assert.deepEqual(bmh("spec.image.checksumType").enum, ["md5", "sha256", "sha512", "auto"]); // CRD:276-280
        assert.deepEqual(bmh("spec.image.format").enum, ["raw", "qcow2", "vdi", "vmdk", "live-iso"]); // CRD:287-292
        assert.deepEqual(bmh("spec.customDeploy").required, ["method"]); // CRD:195-196
        assert.deepEqual(bmh("spec.raid.hardwareRAIDVolumes.[].level").enum, ["0", "1", "2", "5", "6", "1+0", "5+0", "6+0"]); // CRD:384-392
        assert.deepEqual(bmh("spec.raid.softwareRAIDVolumes.[].level").enum, ["0", "1", "1+0"]); // CRD:449-452
        assert.deepEqual(bmh("spec.taints.[]").required, ["effect", "key"]); // CRD:610-612
        assert.equal(bmh("spec.hardwareProfile").type, "string"); // CRD:253: a plain string, no enum
    });

    it("declares the status's required fields and enums", () => {
        assert.deepEqual(bmh("status").required, ["errorCount", "errorMessage", "operationalStatus", "poweredOn", "provisioning"]); // CRD:1359-1364
        assert.equal(bmh("status.errorCount").default, 0); // CRD:700
        assert.deepEqual(bmh("status.operationalStatus").enum, ["", "OK", "discovered", "error", "delayed", "detached", "servicing"]); // CRD:1001-1008
        assert.deepEqual(bmh("status.errorType").enum, [
            "provisioned registration error",
            "registration error",
            "inspection error",
            "preparation error",
            "provisioning error",
            "power management error",
            "servicing error",
        ]); // CRD:711-718
        assert.deepEqual(bmh("status.provisioning").required, ["ID", "state"]); // CRD:1334-1336
        assert.deepEqual(bmh("status.conditions.[]").required, ["lastTransitionTime", "message", "reason", "status", "type"]); // CRD:687-692
        assert.deepEqual(bmh("status.hardware.storage.[].type").enum, ["HDD", "SSD", "NVME"]); // CRD:898-901
        assert.equal(bmh("status.operationHistory.provision.start").nullable, true); // CRD:970-983
    });

    it("leaves status.provisioning.state free text (CRD:1330-1333) and lists BMO's states (baremetalhost_types.go:298-346)", () => {
        assert.equal(bmh("status.provisioning.state").enum, undefined);
        assert.equal(PROVISIONING_STATES.length, 14);
        for (const s of ["registering", "inspecting", "preparing", "available", "provisioning", "provisioned", "deprovisioning", "externally provisioned", "powering off before delete", "deleting"]) {
            assert.ok((PROVISIONING_STATES as readonly string[]).includes(s), s);
        }
    });
});

describe("contract: Cluster API v1.13.5 and CAPM3 v1.13.2 schemas (required fields of what we render)", () => {
    it("Machine: spec requires bootstrap, clusterName, infrastructureRef; references require apiGroup, kind, name", () => {
        // cluster-api@v1.13.5:config/crd/bases/cluster.x-k8s.io_machines.yaml:1071-1074 and :926-929
        assert.deepEqual(at(MACHINE_SCHEMA, "spec").required, ["bootstrap", "clusterName", "infrastructureRef"]);
        assert.deepEqual(at(MACHINE_SCHEMA, "spec.infrastructureRef").required, ["apiGroup", "kind", "name"]);
    });

    it("KubeadmControlPlane: spec requires machineTemplate and version", () => {
        // cluster-api@v1.13.5:controlplane/kubeadm/config/crd/bases/controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml:5648-5650 (v1beta2)
        assert.deepEqual(at(KUBEADM_CONTROL_PLANE_SCHEMA, "spec").required, ["machineTemplate", "version"]);
    });

    it("Metal3MachineTemplate v1beta2: image requires checksum and url, and its format field is diskFormat", () => {
        // cluster-api-provider-metal3@v1.13.2:config/crd/bases/infrastructure.cluster.x-k8s.io_metal3machinetemplates.yaml:464 and :480-481
        const image = at(METAL3_MACHINE_TEMPLATE_SCHEMA, "spec.template.spec.image");
        assert.deepEqual(image.required, ["checksum", "url"]);
        assert.deepEqual(Object.keys(image.properties!).sort(), ["checksum", "checksumType", "diskFormat", "url"]);
    });
});
