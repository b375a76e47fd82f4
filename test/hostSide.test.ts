// ManagementCluster: minikube and existing kinds, the in-VM commands run
// through fake minikube/virsh/ip to prove the quoting, and the component under mocks.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    bridgeCreateCommand,
    bridgeDeleteCommand,
    conductorIpCreateCommand,
    conductorIpDeleteCommand,
    expandHome,
    kubeconfigCommand,
    ManagementCluster,
    minikubeCreateCommand,
    minikubeDeleteCommand,
    minikubeStartArgs,
} from "../components/cluster/managementCluster";
import { shQuote } from "../components/shell";
import { isSecretWrapper, ProgramRun, RegisteredResource, runProgram, stackConfig, labConfig } from "./support/mockProgram";


function tool(bin: string, name: string, body: string): void {
    fs.writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
}

describe("ManagementCluster commands", () => {
    const cfg = labConfig("dev");

    it("starts minikube with the study's flags, the registry and the baremetal network", () => {
        assert.deepStrictEqual(minikubeStartArgs(cfg, "172.22.0.1:5000"), [
            "--profile=metal3-dev",
            "--driver=kvm2",
            "--cpus=4",
            "--memory=8192mb",
            "--disk-size=50g",
            "--kubernetes-version=v1.31.4",
            "--insecure-registry=172.22.0.1:5000",
            "--network=baremetal",
        ]);
        assert.match(minikubeDeleteCommand(cfg), /minikube delete --profile='metal3-dev'/);
        assert.match(kubeconfigCommand("metal3-dev"), /kubectl config view --raw --minify --flatten --context='metal3-dev'/);
        assert.doesNotMatch(kubeconfigCommand(undefined), /--context/);
        assert.strictEqual(expandHome("~/.kube/config", "/home/lab"), "/home/lab/.kube/config");
        assert.strictEqual(expandHome("/etc/kubeconfig", "/home/lab"), "/etc/kubeconfig");
    });

    describe("run with /bin/sh against fake minikube, virsh, sudo and ip", () => {
        let dir: string;
        let bin: string;
        let log: string;
        beforeEach(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "mgmt-"));
            bin = path.join(dir, "bin");
            log = path.join(dir, "log");
            fs.mkdirSync(bin);
            fs.writeFileSync(log, "");
            const L = shQuote(log);
            const attached = shQuote(path.join(dir, "attached"));
            // minikube ssh joins the words after -- into one remote command line, run by a shell in the VM.
            tool(
                bin,
                "minikube",
                `echo "minikube $1" >>${L}
case "$1" in
  ssh) while [ "$1" != -- ]; do shift; done; shift; sh -c "$*" ;;
  status) echo Running ;;
esac`,
            );
            tool(bin, "sudo", `exec "$@"`);
            tool(bin, "ip", `echo "ip $*" >>${L}; case "$1 $2" in "link show") exit 1 ;; esac`);
            tool(
                bin,
                "virsh",
                `[ "$1" = -c ] && shift 2
case "$1" in
  domiflist) printf ' Interface  Type      Source       Model    MAC\\n-----\\n vnet0  network  default  virtio  52:54:00:00:00:01\\n vnet1  network  baremetal  virtio  52:54:00:00:00:02\\n'; [ -f ${attached} ] && echo ' vnet2  network  provisioning  virtio  52:54:00:00:00:03' ;;
  attach-interface) touch ${attached}; echo "virsh $*" >>${L} ;;
esac`,
            );
        });
        afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

        function run(script: string): string[] {
            fs.writeFileSync(log, "");
            const r = spawnSync("/bin/sh", ["-c", script], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
            assert.strictEqual(r.status, 0, r.stderr);
            return fs.readFileSync(log, "utf8").trim().split("\n");
        }

        it("attaches the provisioning NIC once, restarting the VM around it", () => {
            assert.deepStrictEqual(run(minikubeCreateCommand(cfg, "172.22.0.1:5000")), [
                "minikube start",
                "minikube stop",
                "virsh attach-interface --domain metal3-dev --type network --source provisioning --model virtio --config",
                "minikube start",
            ]);
            assert.deepStrictEqual(run(minikubeCreateCommand(cfg, "172.22.0.1:5000")), ["minikube start"]);
        });

        it("delivers the exact ip commands into the VM through two levels of quoting", () => {
            assert.deepStrictEqual(run(bridgeCreateCommand(cfg)), [
                "minikube ssh",
                "ip link show ironicendpoint",
                "ip link add ironicendpoint type bridge",
                "ip link set eth2 master ironicendpoint",
                "ip link set eth2 up",
                "ip link set ironicendpoint up",
            ]);
            assert.deepStrictEqual(run(conductorIpCreateCommand(cfg, "172.22.0.3")), ["minikube ssh", "ip addr replace 172.22.0.3/24 dev ironicendpoint"]);
            assert.deepStrictEqual(run(conductorIpDeleteCommand(cfg, "172.22.0.3")), ["minikube status", "minikube ssh", "ip addr del 172.22.0.3/24 dev ironicendpoint"]);
            assert.deepStrictEqual(run(bridgeDeleteCommand(cfg)), ["minikube status", "minikube ssh", "ip link show ironicendpoint"]);
        });
    });
});

function own(run: ProgramRun): { component: RegisteredResource; children: RegisteredResource[] } {
    const component = run.resources.find((r) => r.type === "metal3-scale-lab:cluster:ManagementCluster")!;
    return { component, children: run.resources.filter((r) => r.parent === component.urn) };
}

async function runCluster(stack: string, overrides: Record<string, unknown>) {
    const cfg = labConfig(stack, overrides);
    let cluster!: ManagementCluster;
    const run = await runProgram(
        () => {
            const network = new command.local.Command("host-network", { create: "true" });
            cluster = new ManagementCluster("mgmt", { config: cfg, registryAddress: pulumi.output("172.22.0.1:5000"), dependsOn: [network] });
        },
        { stack, config: stackConfig(stack, overrides) },
    );
    return { cfg, run, cluster };
}

describe("ManagementCluster component (mocks)", () => {
    it("minikube: VM, bridge, one command per conductor IP, kubeconfig and provider, all children of the component", async () => {
        const { cfg, run, cluster } = await runCluster("scale1000", {});
        const { component, children } = own(run);
        const names = children.map((r) => r.name);
        assert.deepStrictEqual(names.filter((n) => !n.startsWith("mgmt-conductor-ip-")).sort(), ["mgmt-ironicendpoint", "mgmt-k8s", "mgmt-kubeconfig", "mgmt-vm"]);
        const ips = children.filter((r) => r.name.startsWith("mgmt-conductor-ip-")).sort((a, b) => a.name.localeCompare(b.name));
        assert.strictEqual(ips.length, cfg.conductors);
        assert.strictEqual(cluster.conductorIpCommands.length, 15);
        ips.forEach((r, i) => {
            assert.strictEqual(r.name, `mgmt-conductor-ip-${String(i).padStart(3, "0")}`);
            assert.ok(r.inputs.create.includes(`ip addr replace ${cfg.network.conductorIps[i]}/24 dev ironicendpoint`));
            assert.ok(r.inputs.delete.includes(`ip addr del ${cfg.network.conductorIps[i]}/24`));
        });
        for (const r of children) assert.strictEqual(r.parent, component.urn);

        const vm = children.find((r) => r.name === "mgmt-vm")!;
        assert.ok(vm.dependencies.includes(run.resources.find((r) => r.name === "host-network")!.urn), "the VM waits for dependsOn");
        assert.match(vm.inputs.create, /--insecure-registry=172\.22\.0\.1:5000/);
        assert.match(vm.inputs.create, /--cpus=16' '--memory=49152mb' '--disk-size=200g'/);
        assert.match(vm.inputs.delete, /minikube delete --profile='metal3-scale1000'/);

        const read = children.find((r) => r.name === "mgmt-kubeconfig")!;
        assert.deepStrictEqual(read.additionalSecretOutputs, ["stdout"]);
        assert.strictEqual(read.inputs.logging, "stderr");
        assert.match(read.inputs.create, /--context='metal3-scale1000'/);
        const provider = children.find((r) => r.name === "mgmt-k8s")!;
        assert.strictEqual(provider.type, "pulumi:providers:kubernetes");
        assert.ok(isSecretWrapper(provider.rawInputs.kubeconfig), "the provider gets the kubeconfig as a secret");
        assert.strictEqual(await pulumi.isSecret(cluster.kubeconfig), true);
    });

    it("minikube: adding a conductor adds exactly one command", async () => {
        const small = await runCluster("dev", { conductors: 2 });
        const large = await runCluster("dev", { conductors: 3 });
        const before = new Set(small.run.resources.map((r) => r.urn));
        const after = new Set(large.run.resources.map((r) => r.urn));
        assert.deepStrictEqual([...before].filter((u) => !after.has(u)), []);
        assert.deepStrictEqual([...after].filter((u) => !before.has(u)).map((u) => u.slice(u.lastIndexOf("::") + 2)), ["mgmt-conductor-ip-002"]);
    });

    it("existing: no VM or bridge, the kubeconfig read from the configured file and context", async () => {
        const { run, cluster } = await runCluster("dev", { managementCluster: { kind: "existing", kubeconfig: "/srv/lab/kubeconfig", context: "lab-admin" } });
        const { children } = own(run);
        assert.deepStrictEqual(children.map((r) => r.name).sort(), ["mgmt-k8s", "mgmt-kubeconfig"]);
        assert.deepStrictEqual(cluster.conductorIpCommands, []);
        const read = children.find((r) => r.name === "mgmt-kubeconfig")!;
        assert.strictEqual(read.inputs.environment.KUBECONFIG, "/srv/lab/kubeconfig");
        assert.match(read.inputs.create, /--context='lab-admin'/);
        assert.ok(read.dependencies.includes(run.resources.find((r) => r.name === "host-network")!.urn));
        assert.strictEqual(await pulumi.isSecret(cluster.kubeconfig), true);
    });
});
