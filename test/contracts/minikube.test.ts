// Contract: how the lab wires the minikube VM to its libvirt networks, against
// metal3-io/metal3-dev-env@ac77fc9218022cf88be286f0c971dec10d7ea4a0 (the way
// upstream runs minikube for Metal3) and kubernetes/minikube's kvm2 driver
// (pkg/drivers/kvm, the stored versions named per fact).
import { strict as assert } from "node:assert";
import { IRONIC_ENDPOINT_BRIDGE, VM_LAB_NETWORKS, bridgeCreateCommand, minikubeCreateCommand, minikubeDeleteCommand, minikubeStartArgs } from "../../components/cluster/managementCluster";
import { DEFAULT_NETWORK } from "../../components/config/defaults";
import { BAREMETAL_NETWORK, PROVISIONING_NETWORK } from "../../components/network/hostNetwork";
import { labConfig } from "../support/mockProgram";

describe("contract: minikube VM networking (metal3-dev-env, minikube kvm2)", () => {
    const cfg = labConfig("dev");
    const create = minikubeCreateCommand(cfg, "172.22.0.1:5000");

    it("keeps kvm2's own private network: no --network flag", () => {
        // kubernetes/minikube@0386e48d:pkg/minikube/registry/drvs/kvm2/kvm2.go privateNetwork(): --network becomes
        // the driver's PrivateNetwork, else it is mk-<cluster name>.
        // kubernetes/minikube@0212a69b:pkg/drivers/kvm/kvm.go Remove() calls deleteNetwork() (network.go), which
        // destroys and undefines PrivateNetwork unless it is `default`: a lab network there dies with the VM.
        // metal3-dev-env@ac77fc9:02_configure_host.sh:104 starts minikube without --network.
        const args = minikubeStartArgs(cfg, "172.22.0.1:5000");
        assert.ok(!args.some((a) => a.startsWith("--network")), args.join(" "));
        assert.ok(!args.some((a) => a.startsWith("--kvm-network")), "kvm2's second NIC stays on libvirt's `default`");
        assert.ok(args.includes("--driver=kvm2"));
        assert.doesNotMatch(minikubeDeleteCommand(cfg), /net-destroy|net-undefine|--network/);
    });

    it("attaches provisioning, then the external (baremetal) network, with virsh attach-interface --config, once each", () => {
        // metal3-dev-env@ac77fc9:02_configure_host.sh:114 stops the VM, :117 reads `virsh domiflist`, and :123-133
        // attach `--model virtio --source provisioning --type network --config`, then the same for `external`
        // (the lab's `baremetal`), each only when domiflist does not list it yet.
        assert.deepStrictEqual(VM_LAB_NETWORKS, [PROVISIONING_NETWORK, BAREMETAL_NETWORK]);
        assert.match(create, /for net in 'provisioning' 'baremetal'; do/);
        assert.match(create, /virsh -c qemu:\/\/\/system domiflist "\$profile"/);
        assert.match(create, /attach-interface --domain "\$profile" --type network --source "\$net" --model virtio --config/);
        assert.ok(create.indexOf('minikube stop --profile="$profile"') < create.indexOf("attach-interface"), "stopped before attaching");
    });

    it("names the provisioning NIC eth2 and bridges it into ironicendpoint", () => {
        // kubernetes/minikube@2b81ce24:pkg/drivers/kvm/domain_definition_x86.go: the domain's first <interface> is on
        // PrivateNetwork, the second on Network (`default`): eth0 and eth1; attached NICs follow, in attach order.
        // metal3-dev-env@ac77fc9:03_launch_mgmt_cluster.sh:735 `brctl addif ${BARE_METAL_PROVISIONER_INTERFACE} eth2`
        // (provisioning), :730 puts the external network's IPv6 address on eth3;
        // lib/network.sh:36 BARE_METAL_PROVISIONER_INTERFACE defaults to `ironicendpoint`.
        assert.equal(DEFAULT_NETWORK.provisioningInterface, `eth${2 + VM_LAB_NETWORKS.indexOf(PROVISIONING_NETWORK)}`);
        assert.equal(IRONIC_ENDPOINT_BRIDGE, "ironicendpoint");
        assert.match(bridgeCreateCommand(cfg), /ip link set eth2 master ironicendpoint/);
    });
});
