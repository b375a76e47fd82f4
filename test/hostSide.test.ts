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

/**
 * Fake minikube and virsh sharing one libvirt state, shaped like kvm2
 * (kubernetes/minikube pkg/drivers/kvm): a new VM gets NICs on its private
 * network (--network, else mk-<profile>) and on `default`, in that order;
 * `minikube delete` destroys the private network unless it is `default`.
 * State: nets/<network>, dom/<profile>/{nics,private,running}. The log gets
 * every minikube call and every virsh call that changes something.
 */
function fakeLibvirtHost(dir: string): { bin: string; log: string; nets: () => string[]; nics: (profile: string) => string[] } {
    const bin = path.join(dir, "bin");
    const log = path.join(dir, "log");
    const state = path.join(dir, "state");
    for (const d of [bin, path.join(state, "nets"), path.join(state, "dom")]) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(log, "");
    for (const net of ["default", "provisioning", "baremetal"]) fs.writeFileSync(path.join(state, "nets", net), "");
    const S = shQuote(state);
    const L = shQuote(log);
    // minikube ssh joins the words after -- into one remote command line, run by a shell in the VM.
    tool(
        bin,
        "minikube",
        `S=${S}; echo "minikube $1" >>${L}
cmd=$1; shift; profile=minikube; network=
for a in "$@"; do case $a in --profile=*) profile=\${a#--profile=} ;; --network=*) network=\${a#--network=} ;; esac; done
D=$S/dom/$profile
case $cmd in
  start)
    if [ ! -d "$D" ]; then
      private=\${network:-mk-$profile}; mkdir -p "$D"; echo "$private" >"$D/private"
      touch "$S/nets/$private"; printf '%s\\n' "$private" default >"$D/nics"
    fi
    while read -r n; do [ -f "$S/nets/$n" ] || { echo "Network not found: no network with matching name '$n'" >&2; exit 1; }; done <"$D/nics"
    touch "$D/running" ;;
  stop) rm -f "$D/running" ;;
  delete) if [ -d "$D" ]; then p=$(cat "$D/private"); [ "$p" = default ] || rm -f "$S/nets/$p"; rm -rf "$D"; fi ;;
  status) if [ -f "$D/running" ]; then echo Running; else echo Stopped; fi ;;
  ssh) while [ "$1" != -- ]; do shift; done; shift; sh -c "$*" ;;
esac`,
    );
    tool(
        bin,
        "virsh",
        `S=${S}; [ "$1" = -c ] && shift 2
cmd=$1; shift
case $cmd in
  net-info) [ -f "$S/nets/$1" ] || { echo "error: Network not found: $1" >&2; exit 1; } ;;
  domiflist)
    D=$S/dom/$1; [ -d "$D" ] || { echo "error: failed to get domain '$1'" >&2; exit 1; }
    printf ' Interface   Type      Source         Model    MAC\\n-----------------------------------------------------------\\n'
    i=0; while read -r n; do ifc=-; [ -f "$D/running" ] && ifc=vnet$i; printf ' %s   network   %s   virtio   52:54:00:00:00:%02d\\n' "$ifc" "$n" "$i"; i=$((i+1)); done <"$D/nics"
    echo ;;
  attach-interface)
    echo "virsh attach-interface $*" >>${L}
    while [ $# -gt 0 ]; do case $1 in --domain) dom=$2; shift ;; --source) src=$2; shift ;; --config) config=1 ;; esac; shift; done
    [ -d "$S/dom/$dom" ] && [ -n "\${config:-}" ] || exit 1
    echo "$src" >>"$S/dom/$dom/nics" ;;
  *) echo "virsh $cmd $*" >>${L} ;;
esac`,
    );
    tool(bin, "sudo", `exec "$@"`);
    tool(bin, "ip", `echo "ip $*" >>${L}; case "$1 $2" in "link show") exit 1 ;; esac`);
    return {
        bin,
        log,
        nets: () => fs.readdirSync(path.join(state, "nets")).sort(),
        nics: (profile) => fs.readFileSync(path.join(state, "dom", profile, "nics"), "utf8").trim().split("\n"),
    };
}

describe("ManagementCluster commands", () => {
    const cfg = labConfig("dev");

    it("starts minikube with the study's flags and the registry, on kvm2's own private network", () => {
        assert.deepStrictEqual(minikubeStartArgs(cfg, "172.22.0.1:5000"), [
            "--profile=metal3-dev",
            "--driver=kvm2",
            "--cpus=4",
            "--memory=8192mb",
            "--disk-size=50g",
            `--kubernetes-version=${cfg.managementCluster.kubernetesVersion}`,
            "--insecure-registry=172.22.0.1:5000",
        ]);
        assert.match(minikubeDeleteCommand(cfg), /minikube delete --profile='metal3-dev'/);
        assert.match(kubeconfigCommand("metal3-dev"), /kubectl config view --raw --minify --flatten --context='metal3-dev'/);
        assert.doesNotMatch(kubeconfigCommand(undefined), /--context/);
        assert.strictEqual(expandHome("~/.kube/config", "/home/lab"), "/home/lab/.kube/config");
        assert.strictEqual(expandHome("/etc/kubeconfig", "/home/lab"), "/etc/kubeconfig");
    });

    describe("run with /bin/sh against fake minikube, virsh, sudo and ip", () => {
        let dir: string;
        let host: ReturnType<typeof fakeLibvirtHost>;
        const profile = cfg.managementCluster.profile;
        const create = () => minikubeCreateCommand(cfg, "172.22.0.1:5000");
        beforeEach(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "mgmt-"));
            host = fakeLibvirtHost(dir);
        });
        afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

        function sh(script: string) {
            fs.writeFileSync(host.log, "");
            const r = spawnSync("/bin/sh", ["-c", script], { encoding: "utf8", env: { ...process.env, PATH: `${host.bin}:${process.env.PATH}` } });
            return { status: r.status, stderr: r.stderr, calls: fs.readFileSync(host.log, "utf8").trim().split("\n").filter(Boolean) };
        }
        function run(script: string): string[] {
            const r = sh(script);
            assert.strictEqual(r.status, 0, r.stderr);
            return r.calls;
        }
        const attach = (net: string) => `virsh attach-interface --domain ${profile} --type network --source ${net} --model virtio --config`;

        it("attaches provisioning then baremetal after kvm2's two NICs, so provisioningInterface names the provisioning NIC", () => {
            assert.deepStrictEqual(run(create()), ["minikube start", "minikube stop", attach("provisioning"), attach("baremetal"), "minikube start"]);
            const nics = host.nics(profile);
            assert.deepStrictEqual(nics, [`mk-${profile}`, "default", "provisioning", "baremetal"]);
            // The guest names virtio NICs eth0, eth1, ... in device order.
            assert.strictEqual(`eth${nics.indexOf("provisioning")}`, cfg.network.provisioningInterface);
        });

        it("a re-run attaches nothing twice", () => {
            run(create());
            assert.deepStrictEqual(run(create()), ["minikube start"]);
            assert.deepStrictEqual(host.nics(profile), [`mk-${profile}`, "default", "provisioning", "baremetal"]);
        });

        it("after an interrupted run attaches only the NIC still missing", () => {
            run(`minikube start --profile=${profile}`);
            run(`minikube stop --profile=${profile}; virsh attach-interface --domain ${profile} --type network --source provisioning --config`);
            assert.deepStrictEqual(run(create()), ["minikube start", "minikube stop", attach("baremetal"), "minikube start"]);
            assert.deepStrictEqual(host.nics(profile), [`mk-${profile}`, "default", "provisioning", "baremetal"]);
        });

        it("refuses a VM whose lab NICs are out of order instead of shifting the interface names", () => {
            run(`minikube start --profile=${profile}; virsh attach-interface --domain ${profile} --type network --source baremetal --config`);
            const r = sh(create());
            assert.notStrictEqual(r.status, 0);
            assert.match(r.stderr, /has a NIC on baremetal but none on provisioning/);
            assert.ok(!r.calls.some((c) => c.startsWith("virsh attach-interface")), r.calls.join("\n"));
        });

        it("fails before starting the VM when a lab network is missing, and names it", () => {
            fs.rmSync(path.join(dir, "state", "nets", "baremetal"));
            const r = sh(create());
            assert.notStrictEqual(r.status, 0);
            assert.match(r.stderr, /libvirt network baremetal is missing/);
            assert.deepStrictEqual(r.calls, []);
        });

        it("delete, as in a VM replacement, takes kvm2's private network and never the lab's", () => {
            run(create());
            assert.deepStrictEqual(host.nets(), ["baremetal", "default", `mk-${profile}`, "provisioning"]);
            const calls = run(minikubeDeleteCommand(cfg));
            assert.deepStrictEqual(calls, ["minikube delete"]);
            assert.deepStrictEqual(host.nets(), ["baremetal", "default", "provisioning"]);
            // The replacement VM comes up with the same NICs.
            run(create());
            assert.deepStrictEqual(host.nics(profile), [`mk-${profile}`, "default", "provisioning", "baremetal"]);
            // What the fix prevents: with --network=baremetal (the old start flags) kvm2 deletes the lab's network.
            run(`minikube start --profile=old --network=baremetal; minikube delete --profile=old`);
            assert.ok(!host.nets().includes("baremetal"));
        });

        it("delivers the exact ip commands into the VM through two levels of quoting", () => {
            run(create());
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
            run(`minikube stop --profile=${profile}`);
            assert.deepStrictEqual(run(bridgeDeleteCommand(cfg)), ["minikube status"], "a stopped VM has nothing to clean");
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
        // The loader refuses a kubeconfig path that is not a file: give it one.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "existing-kubeconfig-"));
        const kubeconfig = path.join(dir, "kubeconfig");
        fs.writeFileSync(kubeconfig, "apiVersion: v1\nkind: Config\n");
        try {
            const { run, cluster } = await runCluster("dev", {
                managementCluster: { kind: "existing", kubeconfig, context: "lab-admin", conductorNodes: [{ name: "node-a", address: "10.0.1.11" }, { name: "node-b", address: "10.0.1.12" }] },
                dockerHosts: [{ name: "local", url: "unix:///var/run/docker.sock", address: "10.0.0.1" }],
            });
            const { children } = own(run);
            assert.deepStrictEqual(children.map((r) => r.name).sort(), ["mgmt-k8s", "mgmt-kubeconfig"]);
            assert.deepStrictEqual(cluster.conductorIpCommands, []);
            const read = children.find((r) => r.name === "mgmt-kubeconfig")!;
            assert.strictEqual(read.inputs.environment.KUBECONFIG, kubeconfig);
            assert.match(read.inputs.create, /--context='lab-admin'/);
            assert.ok(read.dependencies.includes(run.resources.find((r) => r.name === "host-network")!.urn));
            assert.strictEqual(await pulumi.isSecret(cluster.kubeconfig), true);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
