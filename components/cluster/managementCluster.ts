// The management cluster Ironic, BMO and CAPI run in: a minikube VM on the lab
// host (as in the study and metal3-dev-env), or an existing cluster.
//
// minikube: the VM keeps kvm2's own networks, eth0 = mk-<profile> (its private
// network) and eth1 = libvirt `default`; the lab's networks are attached after
// them with `virsh attach-interface --config` while the VM is stopped, as
// metal3-dev-env does: eth2 = `provisioning`, eth3 = `baremetal`. They must
// never be kvm2's private network: `minikube delete` destroys and undefines
// that network with the VM, and every change of the start flags replaces the VM.
// Inside the VM the bridge `ironicendpoint` takes over
// network.provisioningInterface and carries every conductor IP, one command per
// conductor.
// The bridge and addresses live in the VM's kernel only: after a VM reboot (or
// `minikube stop/start`) run `pulumi up --replace <bridge URN>` to restore them.
//
// existing: no VM, no bridge. Each conductor runs with the host network on
// one of managementCluster.conductorNodes and uses that node's own address
// (components/ironic); the lab never touches an existing cluster's node networking.
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LabConfig } from "../config/types";
import { childName, indexed, typeToken } from "../naming";
import { BAREMETAL_NETWORK, LIBVIRT_URI, PROVISIONING_NETWORK } from "../network/hostNetwork";
import { parseCidr } from "../network/ipv4";
import { shQuote, shScript } from "../shell";

/** Bridge inside the VM that Ironic's pods (hostNetwork) bind their provisioning IPs to. */
export const IRONIC_ENDPOINT_BRIDGE = "ironicendpoint";

export type ClusterInputs = Pick<LabConfig, "managementCluster" | "network">;

export function minikubeStartArgs(cfg: ClusterInputs, registryAddress: string): string[] {
    const m = cfg.managementCluster;
    return [
        `--profile=${m.profile}`,
        "--driver=kvm2",
        `--cpus=${m.cpus}`,
        `--memory=${m.memoryMb}mb`,
        `--disk-size=${m.diskGb}g`,
        `--kubernetes-version=${m.kubernetesVersion}`,
        `--insecure-registry=${registryAddress}`,
    ];
}

/** The lab's libvirt networks the VM gets a NIC on, in attach order: provisioning becomes eth2, baremetal eth3. */
export const VM_LAB_NETWORKS: readonly string[] = [PROVISIONING_NETWORK, BAREMETAL_NETWORK];

/**
 * Starts (or re-starts: minikube start is idempotent) the VM and attaches each
 * lab network's NIC once, in VM_LAB_NETWORKS order (a NIC attached with
 * --config appears at the next boot, so the VM restarts around it).
 */
export function minikubeCreateCommand(cfg: ClusterInputs, registryAddress: string): string {
    const virsh = `virsh -c ${LIBVIRT_URI}`;
    const start = `minikube start ${minikubeStartArgs(cfg, registryAddress).map(shQuote).join(" ")}`;
    const networks = VM_LAB_NETWORKS.map(shQuote).join(" ");
    return shScript([
        `profile=${shQuote(cfg.managementCluster.profile)}`,
        // The VM cannot boot with a NIC on a missing network: say which, and how to get it back.
        `for net in ${networks}; do`,
        `  if ! ${virsh} net-info "$net" >/dev/null 2>&1; then echo "libvirt network $net is missing: re-create it with pulumi up --replace on the HostNetwork command named after it" >&2; exit 1; fi`,
        `done`,
        start,
        // domiflist's third column is the source network.
        `attached=$(${virsh} domiflist "$profile" | awk '{print $3}')`,
        `missing=; gap=`,
        `for net in ${networks}; do`,
        `  if printf '%s\n' "$attached" | grep -qx "$net"; then`,
        // A NIC attached after a later network's would take that network's interface name.
        `    if [ -n "$gap" ]; then echo "VM $profile has a NIC on $net but none on $gap, so its interface names are not the lab's: delete it (minikube delete --profile=$profile) and re-run" >&2; exit 1; fi`,
        `  else missing="$missing $net"; gap=$net; fi`,
        `done`,
        `if [ -n "$missing" ]; then`,
        `  minikube stop --profile="$profile"`,
        `  for net in $missing; do`,
        `    ${virsh} attach-interface --domain "$profile" --type network --source "$net" --model virtio --config`,
        `  done`,
        `  ${start}`,
        `fi`,
    ]);
}

/**
 * minikube delete also succeeds for a profile that is already gone. It removes
 * kvm2's private network mk-<profile> and leaves the lab's networks alone:
 * they are only attached NICs.
 */
export function minikubeDeleteCommand(cfg: ClusterInputs): string {
    return shScript([`minikube delete --profile=${shQuote(cfg.managementCluster.profile)}`]);
}

/** Runs a root shell script in the VM (minikube ssh joins its arguments into one remote command line). */
export function inVm(profile: string, remoteScript: string): string {
    return `minikube ssh --profile=${shQuote(profile)} -- ${shQuote(`sudo sh -c ${shQuote(remoteScript)}`)}`;
}

/** Cleanup in the VM only when it runs: a stopped or deleted VM has nothing left to clean. */
function whenVmRuns(profile: string, step: string): string {
    return `if minikube status --profile=${shQuote(profile)} --format '{{.Host}}' 2>/dev/null | grep -qx Running; then ${step}; fi`;
}

export function bridgeCreateCommand(cfg: ClusterInputs): string {
    const nic = cfg.network.provisioningInterface;
    return shScript([
        inVm(
            cfg.managementCluster.profile,
            [
                "set -e",
                `ip link show ${IRONIC_ENDPOINT_BRIDGE} >/dev/null 2>&1 || ip link add ${IRONIC_ENDPOINT_BRIDGE} type bridge`,
                `ip link set ${nic} master ${IRONIC_ENDPOINT_BRIDGE}`,
                `ip link set ${nic} up`,
                `ip link set ${IRONIC_ENDPOINT_BRIDGE} up`,
            ].join("\n"),
        ),
    ]);
}

export function bridgeDeleteCommand(cfg: ClusterInputs): string {
    const profile = cfg.managementCluster.profile;
    return shScript([whenVmRuns(profile, inVm(profile, `ip link show ${IRONIC_ENDPOINT_BRIDGE} >/dev/null 2>&1 && ip link del ${IRONIC_ENDPOINT_BRIDGE} || true`))]);
}

export function conductorAddress(cfg: ClusterInputs, ip: string): string {
    const cidr = parseCidr(cfg.network.provisioningCidr);
    if (!cidr) throw new Error(`not an IPv4 CIDR: ${cfg.network.provisioningCidr}`);
    return `${ip}/${cidr.prefix}`;
}

/** `ip addr replace` adds the address or leaves it as it is. */
export function conductorIpCreateCommand(cfg: ClusterInputs, ip: string): string {
    return shScript([inVm(cfg.managementCluster.profile, `ip addr replace ${conductorAddress(cfg, ip)} dev ${IRONIC_ENDPOINT_BRIDGE}`)]);
}

export function conductorIpDeleteCommand(cfg: ClusterInputs, ip: string): string {
    const profile = cfg.managementCluster.profile;
    const address = conductorAddress(cfg, ip);
    return shScript([whenVmRuns(profile, inVm(profile, `ip addr del ${address} dev ${IRONIC_ENDPOINT_BRIDGE} 2>/dev/null || true`))]);
}

/** One self-contained kubeconfig (certificates inlined) for the given or current context. */
export function kubeconfigCommand(context: string | undefined): string {
    return shScript([`kubectl config view --raw --minify --flatten${context ? ` --context=${shQuote(context)}` : ""}`]);
}

/** `~/x` as the shell would expand it; environment variables get no shell expansion. */
export function expandHome(file: string, home: string = os.homedir()): string {
    return file === "~" ? home : file.startsWith("~/") ? path.join(home, file.slice(2)) : file;
}

function fileFingerprint(file: string): string {
    try {
        return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    } catch {
        return "unreadable";
    }
}

export interface ManagementClusterArgs {
    readonly config: LabConfig;
    /** LocalRegistry.address: minikube's container runtime pulls from it over plain HTTP. */
    readonly registryAddress: pulumi.Input<string>;
    /** What must exist before the VM starts (HostNetwork, the registry). */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export class ManagementCluster extends pulumi.ComponentResource {
    /** Flattened kubeconfig of the cluster (secret: it holds client credentials). */
    public readonly kubeconfig: pulumi.Output<string>;
    public readonly provider: k8s.Provider;
    /** One per conductor IP (empty for an existing cluster): Ironic's pods depend on these. */
    public readonly conductorIpCommands: command.local.Command[];

    constructor(name: string, args: ManagementClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("cluster", "ManagementCluster"), name, {}, opts);
        const cfg = args.config;
        const m = cfg.managementCluster;
        const kubeconfigFile = m.kubeconfig ? expandHome(m.kubeconfig) : undefined;
        // minikube writes its context to $KUBECONFIG when set; kubectl reads the same file.
        const environment: Record<string, string> = { MINIKUBE_IN_STYLE: "false", ...(kubeconfigFile ? { KUBECONFIG: kubeconfigFile } : {}) };
        let kubeconfigTriggers: pulumi.Input<unknown>[];
        let readAfter: pulumi.Input<pulumi.Resource>[];

        if (m.kind === "minikube") {
            const startArgs = pulumi.output(args.registryAddress).apply((registry) => minikubeStartArgs(cfg, registry).join(" "));
            const vm = new command.local.Command(
                childName(name, "vm"),
                {
                    create: pulumi.output(args.registryAddress).apply((registry) => minikubeCreateCommand(cfg, registry)),
                    delete: minikubeDeleteCommand(cfg),
                    environment,
                    // minikube refuses to resize an existing VM: other flags mean a new VM.
                    triggers: [startArgs],
                },
                { parent: this, dependsOn: args.dependsOn, deleteBeforeReplace: true },
            );
            const bridge = new command.local.Command(
                childName(name, IRONIC_ENDPOINT_BRIDGE),
                { create: bridgeCreateCommand(cfg), delete: bridgeDeleteCommand(cfg), environment, triggers: [vm.id, cfg.network.provisioningInterface] },
                { parent: this, dependsOn: [vm], deleteBeforeReplace: true },
            );
            this.conductorIpCommands = cfg.network.conductorIps.map(
                (ip, i) =>
                    new command.local.Command(
                        indexed(childName(name, "conductor-ip"), i),
                        {
                            create: conductorIpCreateCommand(cfg, ip),
                            delete: conductorIpDeleteCommand(cfg, ip),
                            environment,
                            triggers: [bridge.id, conductorAddress(cfg, ip)],
                        },
                        { parent: this, dependsOn: [bridge], deleteBeforeReplace: true },
                    ),
            );
            kubeconfigTriggers = [vm.id];
            readAfter = [vm];
        } else {
            this.conductorIpCommands = [];
            // Re-read when the file changes (rotated credentials), not only when its path does.
            kubeconfigTriggers = [kubeconfigFile ?? "", m.context ?? "", kubeconfigFile ? fileFingerprint(kubeconfigFile) : ""];
            readAfter = args.dependsOn ?? [];
        }

        const read = new command.local.Command(
            childName(name, "kubeconfig"),
            {
                create: kubeconfigCommand(m.kind === "minikube" ? m.profile : m.context),
                environment,
                triggers: kubeconfigTriggers,
                // stdout is the credential: keep it out of the logs and the plain state.
                logging: "stderr",
            },
            { parent: this, dependsOn: readAfter, additionalSecretOutputs: ["stdout"] },
        );
        this.kubeconfig = pulumi.secret(read.stdout);
        this.provider = new k8s.Provider(childName(name, "k8s"), { kubeconfig: this.kubeconfig }, { parent: this });
        this.registerOutputs({ kubeconfig: this.kubeconfig });
    }
}
