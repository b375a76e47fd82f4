// The lab host's libvirt networks and the firewall ports the lab needs.
//
// One lab per host: the libvirt networks keep the fixed names the study and
// metal3-dev-env use (`provisioning`, `baremetal`; minikube attaches to them by
// name and the bridges carry the same names), so two stacks cannot share a host.
// Each network's XML carries a UUID derived from the stack: a second stack (or
// a metal3-dev-env) owning a same-named network makes `net-define` fail instead
// of silently taking it over, and delete leaves networks with another UUID alone.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { LabConfig } from "../config/types";
import { nameUuid } from "../inventory/inventory";
import { childName, typeToken } from "../naming";
import { formatIpv4, parseCidr, parseIpv4, usableRange } from "./ipv4";
import { SUDO_PREAMBLE, shQuote, shScript } from "../shell";

export const LIBVIRT_URI = "qemu:///system";
export const PROVISIONING_NETWORK = "provisioning";
export const BAREMETAL_NETWORK = "baremetal";

export interface LibvirtNetwork {
    readonly name: string;
    /** Linux bridge libvirt creates for the network (same name, at most 15 characters). */
    readonly bridge: string;
    readonly uuid: string;
    /** The lab host's address on the bridge. */
    readonly hostIp: string;
    readonly prefix: number;
    /** nat: guests reach the outside through the host; isolated: host and guests only. */
    readonly forward: "nat" | "isolated";
    /** libvirt's own DHCP; absent on provisioning, where Ironic's dnsmasq answers. */
    readonly dhcp?: { readonly first: string; readonly last: string };
}

export type NetworkInputs = Pick<LabConfig, "stack" | "network">;

function prefixOf(cidr: string): number {
    const parsed = parseCidr(cidr);
    if (!parsed) throw new Error(`not an IPv4 CIDR: ${cidr}`);
    return parsed.prefix;
}

/** Isolated bridge without DHCP or DNS: Ironic's dnsmasq in the cluster serves it. */
export function provisioningNetwork(cfg: NetworkInputs): LibvirtNetwork {
    return {
        name: PROVISIONING_NETWORK,
        bridge: PROVISIONING_NETWORK,
        uuid: nameUuid(`${cfg.stack}/libvirt-network/${PROVISIONING_NETWORK}`),
        hostIp: cfg.network.provisioningHostIp,
        prefix: prefixOf(cfg.network.provisioningCidr),
        forward: "isolated",
    };
}

/** NAT network; its DHCP addresses the minikube VM's NIC on it (kvm2 itself uses its own mk-<profile> network). */
export function baremetalNetwork(cfg: NetworkInputs): LibvirtNetwork {
    return {
        name: BAREMETAL_NETWORK,
        bridge: BAREMETAL_NETWORK,
        uuid: nameUuid(`${cfg.stack}/libvirt-network/${BAREMETAL_NETWORK}`),
        hostIp: cfg.network.baremetalHostIp,
        prefix: prefixOf(cfg.network.baremetalCidr),
        forward: "nat",
        dhcp: baremetalDhcpRange(cfg.network.baremetalCidr, cfg.network.baremetalHostIp),
    };
}

/**
 * DHCP range on the baremetal network: host numbers 20-60 as in the study
 * (clipped to the block), or, when the host IP sits inside that, the larger
 * side of the usable range around the host IP.
 */
export function baremetalDhcpRange(cidr: string, hostIp: string): { first: string; last: string } {
    const block = parseCidr(cidr);
    const host = parseIpv4(hostIp);
    if (!block || host === undefined) throw new Error(`bad baremetal network ${cidr} / ${hostIp}`);
    const [lo, hi] = usableRange(block);
    let first = Math.max(lo, block.network + 20);
    let last = Math.min(hi, block.network + 60);
    if (first > last || (host >= first && host <= last)) {
        [first, last] = host - lo >= hi - host ? [lo, host - 1] : [host + 1, hi];
    }
    if (first > last) throw new Error(`no room for DHCP in ${cidr} beside ${hostIp}`);
    return { first: formatIpv4(first), last: formatIpv4(last) };
}

function xmlAttr(value: string | number): string {
    return String(value).replace(/&/g, "&amp;").replace(/'/g, "&apos;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function netmask(prefix: number): string {
    return formatIpv4(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
}

/** libvirt network XML (https://libvirt.org/formatnetwork.html). */
export function renderLibvirtNetworkXml(net: LibvirtNetwork): string {
    const lines = ["<network>", `  <name>${xmlAttr(net.name)}</name>`, `  <uuid>${xmlAttr(net.uuid)}</uuid>`];
    if (net.forward === "nat") {
        lines.push("  <forward mode='nat'>", "    <nat>", "      <port start='1024' end='65535'/>", "    </nat>", "  </forward>");
    }
    // STP off on the isolated bridge: no loops possible, and no 30 s forwarding delay for PXE.
    lines.push(`  <bridge name='${xmlAttr(net.bridge)}' stp='${net.forward === "nat" ? "on" : "off"}' delay='0'/>`);
    if (!net.dhcp) lines.push("  <dns enable='no'/>");
    const ip = `  <ip address='${xmlAttr(net.hostIp)}' netmask='${netmask(net.prefix)}'`;
    if (net.dhcp) {
        lines.push(`${ip}>`, "    <dhcp>", `      <range start='${xmlAttr(net.dhcp.first)}' end='${xmlAttr(net.dhcp.last)}'/>`, "    </dhcp>", "  </ip>");
    } else {
        lines.push(`${ip}/>`);
    }
    lines.push("</network>");
    return lines.join("\n") + "\n";
}

const VIRSH = `virsh -c ${LIBVIRT_URI}`;

/** Defines, autostarts and starts the network; succeeds when it already runs. */
export function defineNetworkCommand(net: LibvirtNetwork): string {
    const name = shQuote(net.name);
    return shScript([
        `xml=$(mktemp)`,
        `trap 'rm -f "$xml"' EXIT`,
        `printf '%s' ${shQuote(renderLibvirtNetworkXml(net))} >"$xml"`,
        // Same UUID as before: net-define updates our definition in place.
        `${VIRSH} net-define "$xml"`,
        `${VIRSH} net-autostart ${name}`,
        `if ! ${VIRSH} net-list --name | grep -qx ${name}; then ${VIRSH} net-start ${name}; fi`,
    ]);
}

/** Stops and undefines the network if it exists and is ours (same UUID); succeeds when it is gone. */
export function undefineNetworkCommand(net: LibvirtNetwork): string {
    const name = shQuote(net.name);
    return shScript([
        `if ! ${VIRSH} net-info ${name} >/dev/null 2>&1; then exit 0; fi`,
        `uuid=$(${VIRSH} net-uuid ${name})`,
        `if [ "$uuid" != ${shQuote(net.uuid)} ]; then echo "libvirt network ${net.name} has UUID $uuid, not this lab's: left alone" >&2; exit 0; fi`,
        `if ${VIRSH} net-list --name | grep -qx ${name}; then ${VIRSH} net-destroy ${name}; fi`,
        `${VIRSH} net-undefine ${name}`,
    ]);
}

export interface PortRule {
    readonly from: number;
    readonly to: number;
    readonly protocol: "tcp" | "udp";
    readonly purpose: string;
}

export type FirewallInputs = Pick<LabConfig, "ports" | "sushyContainers" | "fakeIpaContainers">;

/** Every port the lab's guests (the minikube VM) must reach on the lab host. */
export function labFirewallPorts(cfg: FirewallInputs): PortRule[] {
    const p = cfg.ports;
    const tcp = (from: number, to: number, purpose: string): PortRule => ({ from, to, protocol: "tcp", purpose });
    const udp = (from: number, to: number, purpose: string): PortRule => ({ from, to, protocol: "udp", purpose });
    return [
        tcp(p.ironicApi, p.ironicApi, "Ironic API"),
        tcp(p.httpd, p.httpd, "Ironic httpd (virtual media)"),
        tcp(p.imageCache, p.imageCache, "lab host image cache (IPA kernel/ramdisk)"),
        tcp(p.ironicJsonRpc, p.ironicJsonRpc, "Ironic json-rpc between conductors"),
        tcp(p.registry, p.registry, "local image registry"),
        tcp(p.sushyBase, p.sushyBase + cfg.sushyContainers - 1, "sushy-tools Redfish BMCs"),
        tcp(p.fakeIpaBase, p.fakeIpaBase + cfg.fakeIpaContainers - 1, "fake-ipa agents"),
        tcp(p.fkas, p.fkas, "fake Kubernetes API server (FKAS)"),
        tcp(53, 53, "DNS"),
        udp(53, 53, "DNS"),
        udp(67, 69, "DHCP and TFTP"),
        udp(546, 547, "DHCPv6"),
        udp(5353, 5353, "mDNS"),
        udp(6230, 6230, "IPMI (virtual BMC)"),
    ];
}

export type PeerInputs = Pick<LabConfig, "ports" | "sushyContainers" | "fakeIpaContainers" | "dockerHosts" | "managementCluster">;

/**
 * Other machines that call the lab host: remote docker hosts (fake-ipa there
 * calls the Ironic API proxy; sushy-tools there may notify a fake-ipa here) and
 * an existing cluster's conductor nodes (they call this host's sushy-tools and
 * fake-ipa). Their traffic arrives on the lab host's LAN, not on a lab bridge.
 */
export function firewallPeers(cfg: Pick<LabConfig, "dockerHosts" | "managementCluster">): string[] {
    const remote = cfg.dockerHosts.slice(1).map((h) => h.address);
    const nodes = cfg.managementCluster.kind === "existing" ? cfg.managementCluster.conductorNodes.map((n) => n.address) : [];
    return [...new Set([...remote, ...nodes])];
}

/** What the peers call on the lab host (empty without peers). */
export function peerFirewallPorts(cfg: PeerInputs): PortRule[] {
    const p = cfg.ports;
    const tcp = (from: number, to: number, purpose: string): PortRule => ({ from, to, protocol: "tcp", purpose });
    const rules: PortRule[] = [];
    if (cfg.dockerHosts.length > 1) rules.push(tcp(p.ironicApi, p.ironicApi, "Ironic API proxy for remote fleets"));
    if (cfg.managementCluster.kind === "existing") {
        rules.push(tcp(p.imageCache, p.imageCache, "IPA kernel/ramdisk, fetched by the conductors (at provisioningHostIp)"));
        rules.push(tcp(p.sushyBase, p.sushyBase + cfg.sushyContainers - 1, "sushy-tools Redfish BMCs, called by the conductors"));
    }
    if (firewallPeers(cfg).length > 0) rules.push(tcp(p.fakeIpaBase, p.fakeIpaBase + cfg.fakeIpaContainers - 1, "fake-ipa agents, called by conductors and by sushy-tools on other hosts"));
    return rules;
}

function firewalldPort(r: PortRule): string {
    return `${r.from === r.to ? r.from : `${r.from}-${r.to}`}/${r.protocol}`;
}

function iptablesPort(r: PortRule): string {
    return r.from === r.to ? String(r.from) : `${r.from}:${r.to}`;
}

/**
 * What both firewall scripts share. An opening is one line, the same in the
 * open script's stdout (Pulumi keeps it as the command's stdout) and in what
 * the close script reads back from PULUMI_COMMAND_STDOUT:
 *   firewalld <runtime|permanent> <zone> <port>/<proto>
 *   iptables <bridge> <proto> <dport>
 * Only openings so recorded are ever closed: a port someone else opened stays open.
 */
function firewallPreamble(tag: string): string[] {
    return [
        // iptables lives in /usr/sbin, which a normal user's PATH lacks on Debian.
        `PATH="$PATH:/usr/sbin:/sbin"`,
        SUDO_PREAMBLE,
        `TAG=${shQuote(tag)}`,
        `if command -v firewall-cmd >/dev/null 2>&1 && $SUDO firewall-cmd --state >/dev/null 2>&1; then firewalld=yes; else firewalld=no; fi`,
        // fw <runtime|permanent> <zone> <firewall-cmd args>; stdout ("success") kept out of the record.
        `fw() { if [ "$1" = permanent ]; then fw_p=--permanent; else fw_p=; fi; fw_z=$2; shift 2; $SUDO firewall-cmd $fw_p --zone="$fw_z" "$@" >/dev/null; }`,
        // ipt <-C|-I|-D> <bridge> <proto> <dport>: the comment tag marks the lab's rules.
        `ipt() { $SUDO iptables "$1" INPUT -i "$2" -p "$3" --dport "$4" -m comment --comment "$TAG" -j ACCEPT; }`,
        `present() {`,
        `  case $1 in`,
        `    firewalld) [ "$firewalld" = yes ] && fw "$2" "$3" --query-port="$4" 2>/dev/null ;;`,
        `    iptables) command -v iptables >/dev/null 2>&1 && ipt -C "$2" "$3" "$4" 2>/dev/null ;;`,
        `    *) return 1 ;;`,
        `  esac`,
        `}`,
        `close() {`,
        `  case $1 in`,
        `    firewalld)`,
        `      if [ "$firewalld" != yes ]; then echo "firewalld is not running: $4 in zone $3 ($2) left open" >&2`,
        `      elif fw "$2" "$3" --query-port="$4" 2>/dev/null; then fw "$2" "$3" --remove-port="$4"; fi ;;`,
        `    iptables) while ipt -D "$2" "$3" "$4" 2>/dev/null; do :; done ;;`,
        `  esac`,
        `}`,
    ];
}

/**
 * One approach per host, chosen at run time: when firewalld runs it owns the
 * ruleset (and libvirt puts its bridges in firewalld's `libvirt` zone, which
 * rejects guest-to-host traffic except listed services), so ports are opened in
 * the bridges' zones, at runtime and permanently, each only when firewalld
 * says it is not open yet. Without firewalld, tagged iptables rules scoped to
 * the lab bridges go first in INPUT (iptables works on both the nft and legacy
 * backends). With neither there is no host firewall to open.
 * Prints what it opened (see firewallPreamble); a re-run (a Pulumi update)
 * keeps what the previous run recorded and is still open; a failed run closes
 * what it opened, since Pulumi keeps no stdout of a failed create.
 */
export function firewallOpenCommand(rules: readonly PortRule[], bridges: readonly string[], tag: string, peers: readonly string[] = []): string {
    // With peers, the interfaces their traffic arrives on are found at run time (the route to each).
    const brs = [...bridges.map(shQuote), ...(peers.length > 0 ? ["$peer_ifaces"] : [])].join(" ");
    return shScript([
        ...firewallPreamble(tag),
        ...(peers.length > 0 ? peerInterfaceLines(peers) : []),
        `added=$(mktemp)`,
        `trap 'rc=$?; if [ "$rc" -ne 0 ]; then while read -r k a b c; do close "$k" "$a" "$b" "$c" || :; done <"$added"; fi; rm -f "$added"; exit "$rc"' EXIT`,
        `kept=$(printf '%s\\n' "\${PULUMI_COMMAND_STDOUT-}" | while read -r k a b c; do if present "$k" "$a" "$b" "$c"; then echo "$k $a $b $c"; fi; done)`,
        `if [ -n "$kept" ]; then printf '%s\\n' "$kept"; fi`,
        `ours() { printf '%s\\n' "$kept" | grep -qxF -- "$*"; }`,
        `opened() { echo "$*"; echo "$*" >>"$added"; }`,
        `if [ "$firewalld" = yes ]; then`,
        `  zones=$(for br in ${brs}; do $SUDO firewall-cmd --get-zone-of-interface="$br" 2>/dev/null || echo libvirt; done | sort -u)`,
        `  for zone in $zones; do`,
        `    for mode in runtime permanent; do`,
        `      for port in ${rules.map(firewalldPort).join(" ")}; do`,
        `        if ours firewalld "$mode" "$zone" "$port"; then :`,
        `        elif fw "$mode" "$zone" --query-port="$port" 2>/dev/null; then echo "firewalld: $port already open in zone $zone ($mode), not by this lab: left to its owner" >&2`,
        `        else fw "$mode" "$zone" --add-port="$port"; opened firewalld "$mode" "$zone" "$port"; fi`,
        `      done`,
        `    done`,
        `  done`,
        `elif command -v iptables >/dev/null 2>&1; then`,
        `  for br in ${brs}; do`,
        `    for rule in ${rules.map((r) => shQuote(`${r.protocol} ${iptablesPort(r)}`)).join(" ")}; do`,
        `      proto=\${rule% *}; dport=\${rule#* }`,
        // A rule with the lab's tag is the lab's even when an interrupted run inserted it.
        `      if ours iptables "$br" "$proto" "$dport"; then :`,
        `      elif ipt -C "$br" "$proto" "$dport" 2>/dev/null; then echo "iptables $br $proto $dport"`,
        `      else ipt -I "$br" "$proto" "$dport"; opened iptables "$br" "$proto" "$dport"; fi`,
        `    done`,
        `  done`,
        `else`,
        `  echo "neither firewalld nor iptables found: no host firewall to open" >&2`,
        `fi`,
    ]);
}

/** Sets peer_ifaces to the interfaces this host routes each peer through (a peer reached over loopback adds none). */
function peerInterfaceLines(peers: readonly string[]): string[] {
    return [
        `peer_ifaces=`,
        `for peer in ${peers.map(shQuote).join(" ")}; do`,
        `  addr=$(getent ahostsv4 "$peer" 2>/dev/null | awk 'NR == 1 { print $1 }'); [ -n "$addr" ] || addr=$peer`,
        `  dev=$(ip -o route get "$addr" 2>/dev/null | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p')`,
        `  case " $peer_ifaces " in *" $dev "*) ;; *) if [ -z "$dev" ]; then echo "no route to $peer: its traffic is not let in" >&2; elif [ "$dev" != lo ]; then peer_ifaces="$peer_ifaces $dev"; fi ;; esac`,
        `done`,
    ];
}

/** Closes exactly what the open script recorded (PULUMI_COMMAND_STDOUT); succeeds when it is closed already. */
export function firewallCloseCommand(tag: string): string {
    return shScript([
        ...firewallPreamble(tag),
        `printf '%s\\n' "\${PULUMI_COMMAND_STDOUT-}" | while read -r k a b c; do close "$k" "$a" "$b" "$c"; done`,
    ]);
}

export interface HostNetworkArgs {
    readonly config: LabConfig;
}

export class HostNetwork extends pulumi.ComponentResource {
    /** libvirt network (and bridge) names minikube attaches to. */
    public readonly provisioningNetwork: string;
    public readonly baremetalNetwork: string;
    /** Ports opened for the lab's guests on the lab host. */
    public readonly firewallPorts: readonly PortRule[];
    public readonly networkCommands: command.local.Command[];
    public readonly firewall: command.local.Command;
    /** Ports opened to other machines (remote docker hosts, an existing cluster's conductor nodes); absent without them. */
    public readonly peerFirewall?: command.local.Command;

    constructor(name: string, args: HostNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("network", "HostNetwork"), name, {}, opts);
        const cfg = args.config;
        const networks = [provisioningNetwork(cfg), baremetalNetwork(cfg)];
        // Fixed names outside Pulumi's control: the old object must be gone before its replacement exists.
        this.networkCommands = networks.map(
            (net) =>
                new command.local.Command(
                    childName(name, net.name),
                    { create: defineNetworkCommand(net), delete: undefineNetworkCommand(net), triggers: [renderLibvirtNetworkXml(net)] },
                    { parent: this, deleteBeforeReplace: true },
                ),
        );
        this.firewallPorts = labFirewallPorts(cfg);
        const bridges = networks.map((n) => n.bridge);
        const tag = `${cfg.project}:${cfg.stack}`;
        this.firewall = new command.local.Command(
            childName(name, "firewall"),
            {
                create: firewallOpenCommand(this.firewallPorts, bridges, tag),
                delete: firewallCloseCommand(tag),
                // The close script reads what the open script recorded (its stdout).
                addPreviousOutputInEnv: true,
                // A changed port set closes the old ports before opening the new ones.
                triggers: [JSON.stringify({ ports: this.firewallPorts, bridges })],
            },
            { parent: this, deleteBeforeReplace: true, dependsOn: this.networkCommands },
        );
        const peers = firewallPeers(cfg);
        if (peers.length > 0) {
            const peerRules = peerFirewallPorts(cfg);
            const peerTag = `${tag}:peers`;
            this.peerFirewall = new command.local.Command(
                childName(name, "firewall-peers"),
                {
                    create: firewallOpenCommand(peerRules, [], peerTag, peers),
                    delete: firewallCloseCommand(peerTag),
                    addPreviousOutputInEnv: true,
                    triggers: [JSON.stringify({ ports: peerRules, peers })],
                },
                { parent: this, deleteBeforeReplace: true },
            );
        }
        this.provisioningNetwork = networks[0].name;
        this.baremetalNetwork = networks[1].name;
        this.registerOutputs({
            provisioningNetwork: this.provisioningNetwork,
            baremetalNetwork: this.baremetalNetwork,
            firewallPorts: this.firewallPorts,
        });
    }
}
