// Contract: what the workload-cluster rendering and the FKAS client rely on in
// metal3-io/cluster-api-provider-metal3 v1.13.2 (its clusterctl template),
// kubernetes-sigs/cluster-api v1.13.5 (v1beta2 types) and FKAS at CAPM3 main
// ac63ce02c5ea5d70624cd664293eedf498032da9 (the pinned FKAS image's commit).
// Each fact names the upstream file it was read from.
import { strict as assert } from "node:assert";
import { FKAS_CONTAINERS, FKAS_PORT, fkasDeploymentSpec, fkasRules, fkasUrl } from "../../components/capi/fkas";
import { parseRegisterAnswer } from "../../components/clusters/fkasClient";
import { nodeImage, planClusters } from "../../components/clusters/plan";
import { apiGroup, CLUSTER_NAME_LABEL, clusterManifests, ClusterSettings, KINDS, Manifest } from "../../components/clusters/render";
import { clusterState } from "../../components/clusters/workloadClusterBatch";
import { LABELS } from "../../components/enroll/bareMetalHostBatch";
import { labConfig } from "../support/clusterFixtures";

const TEMPLATE = "cluster-api-provider-metal3@v1.13.2:examples/clusterctl-templates/clusterctl-cluster.yaml";

describe("contract: CAPM3 v1.13.2 clusterctl template, CAPI v1.13.5, FKAS ac63ce02", () => {
    const cfg = labConfig("dev", { mode: "capi", clusters: 2, nodes: 10 });
    const settings: ClusterSettings = {
        namespace: "metal3",
        kubernetesVersion: "v1.34.1",
        image: nodeImage(cfg),
        labels: { "metal3-scale-lab/stack": "dev" },
        hostLabel: LABELS.host,
        clusterLabel: "metal3-scale-lab/cluster",
    };
    const [one] = planClusters(cfg, [{ name: "h0" }, { name: "h1" }, { name: "h2" }, { name: "h3" }]);
    const endpoint = { host: "192.168.39.10", port: 20000 };
    const plain = clusterManifests(settings, one, endpoint);
    const withWorkers = clusterManifests(settings, { name: "c1", controlPlaneHost: "h1", workerHosts: ["h2", "h3"] }, endpoint);
    const get = (ms: Manifest[], kind: string, name?: string) => {
        const m = ms.find((x) => x.kind.kind === kind && (name === undefined || x.name === name));
        assert.ok(m, `${kind} ${name ?? ""} rendered`);
        return m!.body as any;
    };

    it("renders the template's objects at the storage versions, and never <c>-ca / <c>-etcd", () => {
        // TEMPLATE:1,22,34,71,89,124,142,159,167 list these kinds. CAPI kinds are v1beta2 there. The template still names the Metal3
        // kinds v1beta1, which v1.13.2 marks deprecated; it stores (and serves) v1beta2:
        // cluster-api-provider-metal3@v1.13.2:config/crd/bases/infrastructure.cluster.x-k8s.io_metal3machinetemplates.yaml:30-31,270-271,278,549-550
        // (and the same for metal3clusters.yaml:46-47,290-294,315,593-594, metal3datatemplates.yaml:34-35,1324-1325,1337,3041-3042).
        assert.deepEqual(
            withWorkers.map((m) => `${m.body.apiVersion} ${m.body.kind} ${m.name}`).sort(),
            [
                "bootstrap.cluster.x-k8s.io/v1beta2 KubeadmConfigTemplate c1-workers",
                "cluster.x-k8s.io/v1beta2 Cluster c1",
                "cluster.x-k8s.io/v1beta2 MachineDeployment c1",
                "controlplane.cluster.x-k8s.io/v1beta2 KubeadmControlPlane c1",
                "infrastructure.cluster.x-k8s.io/v1beta2 Metal3Cluster c1",
                "infrastructure.cluster.x-k8s.io/v1beta2 Metal3DataTemplate c1-controlplane-template",
                "infrastructure.cluster.x-k8s.io/v1beta2 Metal3DataTemplate c1-workers-template",
                "infrastructure.cluster.x-k8s.io/v1beta2 Metal3MachineTemplate c1-controlplane",
                "infrastructure.cluster.x-k8s.io/v1beta2 Metal3MachineTemplate c1-workers",
            ],
        );
        // Without workers: no MachineDeployment, KubeadmConfigTemplate or worker templates (upstream's e2e removes empty workers too:
        // cluster-api-provider-metal3@v1.13.2:test/e2e/scalability_test.go RemoveEmptyWorkers).
        assert.deepEqual(plain.map((m) => m.body.kind).sort(), ["Cluster", "KubeadmControlPlane", "Metal3Cluster", "Metal3DataTemplate", "Metal3MachineTemplate"]);
        // KCP generates the CA and etcd Secrets that FKAS reads (cmd/metal3-fkas/main.go:296 `<cluster>-ca`, :505 `<cluster>-etcd`).
        assert.ok(!withWorkers.some((m) => m.kind.kind === "Secret" || /-(ca|etcd)$/.test(m.name)));
    });

    it("Cluster refers by apiGroup + kind + name (v1beta2), with the template's networks", () => {
        const cluster = get(plain, "Cluster");
        // TEMPLATE:13-20; cluster-api@v1.13.5:api/core/v1beta2/common_types.go:368 ContractVersionedObjectReference (no apiVersion, no namespace).
        assert.deepEqual(cluster.spec.infrastructureRef, { apiGroup: "infrastructure.cluster.x-k8s.io", kind: "Metal3Cluster", name: one.name });
        assert.deepEqual(cluster.spec.controlPlaneRef, { apiGroup: "controlplane.cluster.x-k8s.io", kind: "KubeadmControlPlane", name: one.name });
        // TEMPLATE:7-12 defaults: SERVICE_CIDR ["10.96.0.0/12"], POD_CIDR ["192.168.0.0/18"], SERVICE_DOMAIN cluster.local.
        assert.deepEqual(cluster.spec.clusterNetwork, { services: { cidrBlocks: ["10.96.0.0/12"] }, pods: { cidrBlocks: ["192.168.0.0/18"] }, serviceDomain: "cluster.local" });
        // The Cluster is applied last: everything it refers to exists when CAPI first sees it.
        assert.equal(plain[plain.length - 1].kind.kind, "Cluster");
    });

    it("Metal3Cluster carries FKAS's endpoint and cloudProviderEnabled: false", () => {
        // TEMPLATE:28-31; cluster-api-provider-metal3@v1.13.2:api/v1beta2/metal3cluster_types.go:53,59 controlPlaneEndpoint {host, port}, cloudProviderEnabled.
        assert.deepEqual(get(plain, "Metal3Cluster").spec, { controlPlaneEndpoint: { host: "192.168.39.10", port: 20000 }, cloudProviderEnabled: false });
    });

    it("KubeadmControlPlane: one replica of the version, machineTemplate.spec.infrastructureRef, deletion and rollout as v1beta2 spells them", () => {
        const kcp = get(plain, "KubeadmControlPlane").spec;
        // TEMPLATE:39-46 machineTemplate.spec.{infrastructureRef, deletion.nodeDrainTimeoutSeconds (an int)}.
        assert.deepEqual(kcp.machineTemplate.spec.infrastructureRef, { apiGroup: "infrastructure.cluster.x-k8s.io", kind: "Metal3MachineTemplate", name: `${one.name}-controlplane` });
        assert.equal(kcp.machineTemplate.spec.deletion.nodeDrainTimeoutSeconds, 0);
        // TEMPLATE:47-53.
        assert.equal(kcp.replicas, 1);
        assert.deepEqual(kcp.rollout, { strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1 } } });
        assert.equal(kcp.version, "v1.34.1");
        // TEMPLATE:54-67: kubeletExtraArgs is a list of {name, value} in v1beta2; the node carries its host's uuid.
        for (const c of [kcp.kubeadmConfigSpec.initConfiguration, kcp.kubeadmConfigSpec.joinConfiguration]) {
            assert.deepEqual(c.nodeRegistration.kubeletExtraArgs, [{ name: "node-labels", value: "metal3.io/uuid={{ ds.meta_data.uuid }}" }]);
            assert.equal(c.nodeRegistration.name, "{{ ds.meta_data.name }}");
        }
        assert.deepEqual(kcp.kubeadmConfigSpec.joinConfiguration.controlPlane, {});
    });

    it("Metal3MachineTemplate: image url/checksum/checksumType/format, the data template, and a hostSelector on the lab's host label", () => {
        const t = get(plain, "Metal3MachineTemplate").spec;
        // TEMPLATE:77-87.
        assert.equal(t.nodeReuse, false);
        assert.equal(t.template.spec.automatedCleaningMode, "metadata");
        assert.deepEqual(t.template.spec.dataTemplate, { name: `${one.name}-controlplane-template` });
        // cluster-api-provider-metal3@v1.13.2:api/v1beta2/common_types.go:92-117 Image: url, checksum (value or URL), checksumType enum
        // md5/sha256/sha512, and `diskFormat` (v1beta1's `format`, api/v1beta1/common_types.go:79) enum raw/qcow2/vdi/vmdk/live-iso.
        // The image is served by the lab host's image cache.
        assert.deepEqual(t.template.spec.image, {
            url: "http://172.22.0.1:6280/images/node-image.raw",
            checksum: "http://172.22.0.1:6280/images/node-image.raw.sha256sum",
            checksumType: "sha256",
            diskFormat: "raw",
        });
        // api/v1beta2/common_types.go:57-89 HostSelector {matchLabels, matchExpressions[{key, operator, values}]}; the BMH batch labels every host with its name.
        // api/v1beta2/metal3machine_types.go:161 dataTemplate is a Metal3ObjectRef {name}; :178 automatedCleaningMode enum metadata/disabled.
        assert.deepEqual(t.template.spec.hostSelector, { matchLabels: { [LABELS.host]: one.controlPlaneHost } });
        // baremetal/metal3machine_manager.go:1013 lower-cases the operator before labels.NewRequirement: "in" is selection.In.
        const w = get(withWorkers, "Metal3MachineTemplate", "c1-workers").spec;
        assert.deepEqual(w.template.spec.hostSelector, { matchExpressions: [{ key: LABELS.host, operator: "in", values: ["h2", "h3"] }] });
        assert.deepEqual(w.template.spec.dataTemplate, { name: "c1-workers-template" });
    });

    it("Metal3DataTemplates name their cluster and carry no networkData (so no NIC name is referenced)", () => {
        // TEMPLATE:159-173: spec is only clusterName (api/v1beta2/metal3datatemplate_types.go:894).
        assert.deepEqual(get(plain, "Metal3DataTemplate").spec, { clusterName: one.name });
        assert.deepEqual(get(withWorkers, "Metal3DataTemplate", "c1-workers-template").spec, { clusterName: "c1" });
        assert.ok(!JSON.stringify(withWorkers).includes("enp"), "no NIC names: fake systems need no extra NICs for these templates");
    });

    it("MachineDeployment and KubeadmConfigTemplate as the template's workers", () => {
        const md = get(withWorkers, "MachineDeployment");
        // TEMPLATE:89-122.
        assert.equal(md.metadata.labels[CLUSTER_NAME_LABEL], "c1");
        assert.equal(md.metadata.labels.nodepool, "nodepool-0");
        assert.equal(md.spec.clusterName, "c1");
        assert.equal(md.spec.replicas, 2);
        assert.deepEqual(md.spec.selector.matchLabels, { [CLUSTER_NAME_LABEL]: "c1", nodepool: "nodepool-0" });
        assert.deepEqual(md.spec.template.metadata.labels, md.spec.selector.matchLabels);
        assert.equal(md.spec.template.spec.deletion.nodeDrainTimeoutSeconds, 0);
        assert.equal(md.spec.template.spec.version, "v1.34.1");
        assert.deepEqual(md.spec.template.spec.bootstrap.configRef, { apiGroup: "bootstrap.cluster.x-k8s.io", kind: "KubeadmConfigTemplate", name: "c1-workers" });
        assert.deepEqual(md.spec.template.spec.infrastructureRef, { apiGroup: "infrastructure.cluster.x-k8s.io", kind: "Metal3MachineTemplate", name: "c1-workers" });
        // TEMPLATE:142-157.
        const kct = get(withWorkers, "KubeadmConfigTemplate").spec;
        assert.deepEqual(kct.template.spec.joinConfiguration.nodeRegistration.kubeletExtraArgs, [{ name: "node-labels", value: "metal3.io/uuid={{ ds.meta_data.uuid }}" }]);
    });

    it("waits on the fields CAPI v1.13.5 and BMO v0.13.2 report", () => {
        const c = { name: "c", controlPlaneHost: "h", workerHosts: [] };
        const host = { metadata: { name: "h" }, status: { provisioning: { state: "provisioned" } } };
        // cluster-api@v1.13.5:api/core/v1beta2/machine_phase_types.go:46 MachinePhaseRunning = "Running".
        const machine = { metadata: { name: "m", labels: { [CLUSTER_NAME_LABEL]: "c" } }, status: { phase: "Running" } };
        // cluster-api@v1.13.5:api/controlplane/kubeadm/v1beta2/kubeadm_control_plane_types.go:730 status.readyReplicas.
        const kcp = { metadata: { name: "c" }, spec: { replicas: 1 }, status: { readyReplicas: 1 } };
        assert.equal(clusterState(c, { machines: [machine], hosts: { h: host }, kcp, served: true }).state, "Running");
        assert.equal(clusterState(c, { machines: [machine], hosts: { h: host }, kcp: { ...kcp, status: { readyReplicas: 0 } }, served: true }).state, "control plane not ready");
        // baremetal-operator@v0.13.2:apis/metal3.io/v1alpha1/baremetalhost_types.go:326 StateProvisioned = "provisioned".
        assert.equal(clusterState(c, { machines: [machine], hosts: { h: { ...host, status: { provisioning: { state: "provisioning" } } } }, kcp, served: true }).state, "host provisioning");
        // CAPI's Machine label with the cluster name (cluster-api@v1.13.5:api/core/v1beta2/common_types.go:30 ClusterNameLabel).
        assert.equal(CLUSTER_NAME_LABEL, "cluster.x-k8s.io/cluster-name");
        assert.equal(apiGroup(KINDS.machine), "cluster.x-k8s.io");
    });

    it("reads FKAS's /register answer as utils.go encodes it (Go field names, no json tags)", () => {
        // cluster-api-provider-metal3@ac63ce02:hack/fake-apiserver/cmd/metal3-fkas/utils.go:21-25 ResourceData{ResourceName, Host, Port};
        // main.go:61-64 reads {"cluster","namespace"}; main.go:94-95 Host/Port of the listener.
        assert.deepEqual(parseRegisterAnswer('{"ResourceName":"metal3/c","Host":"192.168.39.10","Port":20000}'), { host: "192.168.39.10", port: 20000 });
        assert.throws(() => parseRegisterAnswer('{"host":"x","port":1}'), /Host\/Port/);
        assert.throws(() => parseRegisterAnswer("Invalid JSON"), /not JSON/);
    });

    describe("FKAS deployment as CAPM3's scalability e2e runs it", () => {
        const spec = fkasDeploymentSpec({ instance: "fkas", image: "quay.io/metal3-io/metal3-fkas:x", serviceAccountName: "fkas" }) as any;
        const pod = spec.template.spec;
        const server = pod.containers.find((c: any) => c.name === FKAS_CONTAINERS.server);
        const reconciler = pod.containers.find((c: any) => c.name === FKAS_CONTAINERS.reconciler);

        it("one replica on the host network, replaced (not rolled) so the port is free", () => {
            // cluster-api-provider-metal3@ac63ce02:test/e2e/data/fkas/resources.yaml:47 replicas: 1, :57 hostNetwork: true.
            assert.equal(spec.replicas, 1);
            assert.equal(pod.hostNetwork, true);
            assert.deepEqual(spec.strategy, { type: "Recreate" });
        });

        it("the reconciler sidecar runs /reconciler from the same image", () => {
            // resources.yaml:59-62: command [ "/reconciler" ]; cmd/metal3-fkas-reconciler/main.go:121 calls http://localhost:3333/updateNode.
            assert.deepEqual(reconciler.command, ["/reconciler"]);
            assert.equal(reconciler.image, server.image);
        });

        it("FKAS on :3333 with POD_IP from status.podIP", () => {
            // cmd/metal3-fkas/main.go:655 Addr ":3333"; :624 podIP = os.Getenv("POD_IP"), the listeners' host; resources.yaml:69-74.
            assert.equal(FKAS_PORT, 3333);
            assert.deepEqual(server.ports, [{ name: "fkas", containerPort: 3333 }]);
            assert.deepEqual(server.env.find((e: any) => e.name === "POD_IP"), { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } });
            // main.go:618-621 and reconciler main.go:32-37 read DEBUG == "true".
            assert.ok(pod.containers.every((c: any) => c.env.some((e: any) => e.name === "DEBUG" && e.value === "false")));
            assert.equal(fkasUrl("192.168.39.10"), "http://192.168.39.10:3333");
        });

        it("RBAC as resources.yaml grants it", () => {
            // resources.yaml:17-26.
            assert.deepEqual(fkasRules(), [
                { apiGroups: ["metal3.io", "infrastructure.cluster.x-k8s.io"], resources: ["baremetalhosts", "metal3machines"], verbs: ["get", "list", "watch"] },
                { apiGroups: ["cluster.x-k8s.io"], resources: ["machines"], verbs: ["get", "list", "watch"] },
                { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list"] },
            ]);
        });
    });
});
