// HostNetwork: libvirt XML, firewall ports, the generated shell scripts run
// against fake virsh/iptables/firewall-cmd, and the component under mocks.
import * as assert from "assert";
import { requireToolOrSkip } from "./support/requireTool";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    baremetalDhcpRange,
    baremetalNetwork,
    defineNetworkCommand,
    firewallCloseCommand,
    firewallOpenCommand,
    HostNetwork,
    labFirewallPorts,
    provisioningNetwork,
    renderLibvirtNetworkXml,
    undefineNetworkCommand,
} from "../components/network/hostNetwork";
import { shQuote } from "../components/shell";
import { runProgram, stackConfig, labConfig } from "./support/mockProgram";


/** Runs a script with /bin/sh (dash here, like local.Command on Debian) and fake tools first on PATH. */
function sh(script: string, bin: string, env: Record<string, string> = {}) {
    const r = spawnSync("/bin/sh", ["-c", script], { encoding: "utf8", env: { ...process.env, ...env, PATH: `${bin}:${process.env.PATH}` } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tool(bin: string, name: string, body: string): void {
    fs.writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
}

/** A virsh that keeps networks as files: <state>/<name>.uuid, <name>.active, <name>.autostart. */
function fakeVirsh(bin: string, state: string): void {
    tool(
        bin,
        "virsh",
        `S=${shQuote(state)}
[ "$1" = -c ] && shift 2
cmd=$1; shift
case $cmd in
  net-define)
    name=$(sed -n 's:.*<name>\\(.*\\)</name>.*:\\1:p' "$1"); uuid=$(sed -n 's:.*<uuid>\\(.*\\)</uuid>.*:\\1:p' "$1")
    if [ -f "$S/$name.uuid" ] && [ "$(cat "$S/$name.uuid")" != "$uuid" ]; then echo "error: network '$name' already exists with uuid $(cat "$S/$name.uuid")" >&2; exit 1; fi
    echo "$uuid" >"$S/$name.uuid"; cp "$1" "$S/$name.xml"; echo "Network $name defined" ;;
  net-autostart) [ -f "$S/$1.uuid" ] || exit 1; touch "$S/$1.autostart" ;;
  net-start) [ -f "$S/$1.uuid" ] || exit 1; [ -f "$S/$1.active" ] && { echo "error: network is already active" >&2; exit 1; }; touch "$S/$1.active" ;;
  net-list) for f in "$S"/*.active; do [ -e "$f" ] && basename "$f" .active; done; echo ;;
  net-info) [ -f "$S/$1.uuid" ] || { echo "error: network not found" >&2; exit 1; }; echo "Name: $1" ;;
  net-uuid) cat "$S/$1.uuid" ;;
  net-destroy) [ -f "$S/$1.active" ] || { echo "error: network is not active" >&2; exit 1; }; rm "$S/$1.active" ;;
  net-undefine) [ -f "$S/$1.uuid" ] || exit 1; rm -f "$S/$1.uuid" "$S/$1.xml" "$S/$1.autostart" ;;
  *) echo "fake virsh: unsupported $cmd" >&2; exit 2 ;;
esac`,
    );
}

describe("HostNetwork renderers", () => {
    const cfg = labConfig("dev");

    it("renders an isolated provisioning bridge with the host IP and no DHCP or DNS", () => {
        const xml = renderLibvirtNetworkXml(provisioningNetwork(cfg));
        assert.match(xml, /<name>provisioning<\/name>/);
        assert.match(xml, /<bridge name='provisioning' stp='off' delay='0'\/>/);
        assert.match(xml, /<ip address='172\.22\.0\.1' netmask='255\.255\.255\.0'\/>/);
        assert.match(xml, /<dns enable='no'\/>/);
        assert.doesNotMatch(xml, /<forward|<dhcp/);
        assert.match(xml, /<uuid>[0-9a-f-]{36}<\/uuid>/);
    });

    it("renders a NAT baremetal network with DHCP for the minikube VM", () => {
        const xml = renderLibvirtNetworkXml(baremetalNetwork(cfg));
        assert.match(xml, /<forward mode='nat'>/);
        assert.match(xml, /<bridge name='baremetal' stp='on' delay='0'\/>/);
        assert.match(xml, /<ip address='192\.168\.111\.1' netmask='255\.255\.255\.0'>/);
        assert.match(xml, /<range start='192\.168\.111\.20' end='192\.168\.111\.60'\/>/);
    });

    it("validates against libvirt's network schema (when virt-xml-validate is installed)", function () {
        requireToolOrSkip(this, "virt-xml-validate", "apt-get install libvirt-clients libxml2-utils (.ci/run does)", ["--help"]);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "netxml-"));
        try {
            for (const net of [provisioningNetwork(cfg), baremetalNetwork(cfg)]) {
                const file = path.join(dir, `${net.name}.xml`);
                fs.writeFileSync(file, renderLibvirtNetworkXml(net));
                const r = spawnSync("virt-xml-validate", [file, "network"], { encoding: "utf8" });
                assert.strictEqual(r.status, 0, r.stderr + r.stdout);
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("derives network UUIDs from the stack, so two stacks cannot share a host's networks", () => {
        assert.notStrictEqual(provisioningNetwork(cfg).uuid, provisioningNetwork(labConfig("scale1000")).uuid);
        assert.strictEqual(provisioningNetwork(cfg).uuid, provisioningNetwork(labConfig("dev")).uuid);
        assert.notStrictEqual(provisioningNetwork(cfg).uuid, baremetalNetwork(cfg).uuid);
    });

    it("keeps DHCP clear of the host IP in any block", () => {
        assert.deepStrictEqual(baremetalDhcpRange("10.0.0.0/28", "10.0.0.1"), { first: "10.0.0.2", last: "10.0.0.14" });
        assert.deepStrictEqual(baremetalDhcpRange("10.0.0.0/24", "10.0.0.30"), { first: "10.0.0.31", last: "10.0.0.254" });
        assert.deepStrictEqual(baremetalDhcpRange("10.0.0.0/24", "10.0.0.254"), { first: "10.0.0.20", last: "10.0.0.60" });
        assert.deepStrictEqual(baremetalDhcpRange("10.0.0.0/30", "10.0.0.1"), { first: "10.0.0.2", last: "10.0.0.2" });
    });

    it("lists the lab's ports with the fleet ranges and the image cache, and no ironic-inspector port", () => {
        const big = labConfig("scale1000");
        const ports = labFirewallPorts(big);
        const find = (from: number, protocol: string) => ports.find((p) => p.from === from && p.protocol === protocol);
        assert.deepStrictEqual([find(8000, "tcp")?.to, find(9900, "tcp")?.to], [8019, 9919]);
        for (const port of [6385, 6180, 6189, 5000, 53, 3333, big.ports.imageCache]) assert.ok(find(port, "tcp"), `tcp ${port}`);
        for (const port of [53, 67, 546, 5353, 6230]) assert.ok(find(port, "udp"), `udp ${port}`);
        assert.deepStrictEqual([find(67, "udp")?.to, find(546, "udp")?.to], [69, 547]);
        assert.strictEqual(find(5050, "tcp"), undefined);
        const moved = labFirewallPorts(labConfig("dev", { ports: { imageCache: 7280 } }));
        assert.ok(moved.some((p) => p.from === 7280 && p.to === 7280 && p.protocol === "tcp"));
        assert.ok(!moved.some((p) => p.from === 6280));
        const dev = labFirewallPorts(cfg).find((p) => p.from === 8000);
        assert.deepStrictEqual([dev?.from, dev?.to], [8000, 8000]);
    });
});

describe("HostNetwork scripts (run with /bin/sh against fake tools)", () => {
    const cfg = labConfig("dev");
    let dir: string;
    let bin: string;
    let state: string;
    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "hostnet-"));
        bin = path.join(dir, "bin");
        state = path.join(dir, "state");
        fs.mkdirSync(bin);
        fs.mkdirSync(state);
        fakeVirsh(bin, state);
        tool(bin, "sudo", `exec "$@"`);
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("defines, autostarts and starts a network, and succeeds again when it already runs", () => {
        const net = provisioningNetwork(cfg);
        for (let i = 0; i < 2; i++) {
            const r = sh(defineNetworkCommand(net), bin);
            assert.strictEqual(r.status, 0, r.stderr);
        }
        assert.ok(fs.existsSync(path.join(state, "provisioning.active")));
        assert.ok(fs.existsSync(path.join(state, "provisioning.autostart")));
        assert.strictEqual(fs.readFileSync(path.join(state, "provisioning.xml"), "utf8"), renderLibvirtNetworkXml(net));
    });

    it("deletes its own network and succeeds when the network is gone", () => {
        const net = baremetalNetwork(cfg);
        assert.strictEqual(sh(defineNetworkCommand(net), bin).status, 0);
        for (let i = 0; i < 2; i++) {
            const r = sh(undefineNetworkCommand(net), bin);
            assert.strictEqual(r.status, 0, r.stderr);
        }
        assert.deepStrictEqual(fs.readdirSync(state), []);
    });

    it("refuses to take over, and leaves alone, a same-named network of someone else", () => {
        const other = { ...provisioningNetwork(cfg), uuid: "11111111-2222-3333-4444-555555555555" };
        assert.strictEqual(sh(defineNetworkCommand(other), bin).status, 0);
        const mine = provisioningNetwork(cfg);
        const create = sh(defineNetworkCommand(mine), bin);
        assert.notStrictEqual(create.status, 0);
        assert.match(create.stderr, /already exists with uuid/);
        const del = sh(undefineNetworkCommand(mine), bin);
        assert.strictEqual(del.status, 0, del.stderr);
        assert.match(del.stderr, /not this lab's/);
        assert.ok(fs.existsSync(path.join(state, "provisioning.active")));
    });

    const TAG = "metal3-scale-lab:dev";
    const BRIDGES = ["provisioning", "baremetal"];
    /** What local.Command keeps as stdout (trailing newline trimmed) and hands to the next run. */
    const recorded = (stdout: string) => ({ PULUMI_COMMAND_STDOUT: stdout.replace(/\n$/, "") });

    /** iptables keeping INPUT as lines of its arguments after the chain; -I puts a rule first. */
    function fakeIptables(): string {
        const rulesFile = path.join(state, "rules");
        fs.writeFileSync(rulesFile, "");
        // A host with firewalld installed but stopped uses iptables.
        tool(bin, "firewall-cmd", `echo "not running" >&2; exit 252`);
        tool(
            bin,
            "iptables",
            `F=${shQuote(rulesFile)}
op=$1; shift; rule="$*"
case $op in
  -C) grep -qxF -- "$rule" "$F" ;;
  -I) { echo "$rule"; cat "$F"; } >"$F.new"; mv "$F.new" "$F" ;;
  -D) grep -qxF -- "$rule" "$F" || { echo "iptables: Bad rule" >&2; exit 1; }; awk -v r="$rule" 'd || $0 != r { print; next } { d = 1 }' "$F" >"$F.new"; mv "$F.new" "$F" ;;
esac`,
        );
        return rulesFile;
    }

    /** firewalld with one zone per bridge answer; ports kept per zone in runtime/<zone> and permanent/<zone>. */
    function fakeFirewalld(failOn = ""): { ports: (mode: string) => string[]; open: (mode: string, port: string) => void; calls: () => string[] } {
        const fw = path.join(state, "firewalld");
        for (const mode of ["runtime", "permanent"]) fs.mkdirSync(path.join(fw, mode), { recursive: true });
        const log = path.join(fw, "calls");
        fs.writeFileSync(log, "");
        tool(
            bin,
            "firewall-cmd",
            `FW=${shQuote(fw)}; echo "$*" >>${shQuote(log)}
mode=runtime; zone=public
for a in "$@"; do case $a in --permanent) mode=permanent ;; --zone=*) zone=\${a#--zone=} ;; esac; done
Z=$FW/$mode/$zone; touch "$Z"
for a in "$@"; do
  case $a in
    --state) echo running ;;
    --get-zone-of-interface=*) echo libvirt ;;
    --query-port=*) if grep -qxF -- "\${a#*=}" "$Z"; then echo yes; else echo no; exit 1; fi ;;
    --add-port=*) p=\${a#*=}; [ "$p" = ${shQuote(failOn)} ] && { echo "Error: INVALID_PORT" >&2; exit 254; }; grep -qxF -- "$p" "$Z" || echo "$p" >>"$Z"; echo success ;;
    --remove-port=*) grep -vxF -- "\${a#*=}" "$Z" >"$Z.new" || :; mv "$Z.new" "$Z"; echo success ;;
  esac
done`,
        );
        const file = (mode: string) => path.join(fw, mode, "libvirt");
        return {
            ports: (mode) => (fs.existsSync(file(mode)) ? fs.readFileSync(file(mode), "utf8").split("\n").filter(Boolean).sort() : []),
            open: (mode, port) => fs.appendFileSync(file(mode), `${port}\n`),
            calls: () => fs.readFileSync(log, "utf8").trim().split("\n"),
        };
    }

    it("iptables: opens each rule once per bridge, tagged, and closes only its own, not a foreign rule on the same port", () => {
        const rulesFile = fakeIptables();
        const foreign = ["INPUT -i provisioning -p tcp --dport 6385 -j ACCEPT", "INPUT -i baremetal -p udp --dport 67:69 -m comment --comment other-tool -j ACCEPT"];
        fs.writeFileSync(rulesFile, foreign.join("\n") + "\n");
        const rules = () => fs.readFileSync(rulesFile, "utf8").trim().split("\n");
        // Three rules keep the test fast; every rule takes the same code path.
        const ports = labFirewallPorts(cfg).filter((p) => [6385, 67, 8000].includes(p.from));
        const first = sh(firewallOpenCommand(ports, BRIDGES, TAG), bin);
        assert.strictEqual(first.status, 0, first.stderr);
        // A re-run (Pulumi update) gets the first run's record and adds nothing.
        const again = sh(firewallOpenCommand(ports, BRIDGES, TAG), bin, recorded(first.stdout));
        assert.strictEqual(again.status, 0, again.stderr);
        assert.deepStrictEqual(again.stdout.trim().split("\n").sort(), first.stdout.trim().split("\n").sort());
        assert.strictEqual(rules().length, foreign.length + ports.length * BRIDGES.length);
        assert.ok(rules().includes(`INPUT -i provisioning -p tcp --dport 6385 -m comment --comment ${TAG} -j ACCEPT`), rules().join("\n"));
        assert.ok(rules().includes(`INPUT -i baremetal -p udp --dport 67:69 -m comment --comment ${TAG} -j ACCEPT`));
        assert.ok(first.stdout.split("\n").includes("iptables baremetal udp 67:69"), first.stdout);
        for (let i = 0; i < 2; i++) {
            const close = sh(firewallCloseCommand(TAG), bin, recorded(again.stdout));
            assert.strictEqual(close.status, 0, close.stderr);
        }
        assert.deepStrictEqual(rules(), foreign);
    });

    it("iptables: a tagged rule an interrupted run left behind is recorded, not added twice", () => {
        const rulesFile = fakeIptables();
        const ports = labFirewallPorts(cfg).filter((p) => p.from === 6385);
        fs.writeFileSync(rulesFile, `INPUT -i provisioning -p tcp --dport 6385 -m comment --comment ${TAG} -j ACCEPT\n`);
        const open = sh(firewallOpenCommand(ports, BRIDGES, TAG), bin);
        assert.strictEqual(open.status, 0, open.stderr);
        assert.deepStrictEqual(open.stdout.trim().split("\n").sort(), ["iptables baremetal tcp 6385", "iptables provisioning tcp 6385"]);
        assert.strictEqual(fs.readFileSync(rulesFile, "utf8").trim().split("\n").length, 2);
        assert.strictEqual(sh(firewallCloseCommand(TAG), bin, recorded(open.stdout)).status, 0);
        assert.strictEqual(fs.readFileSync(rulesFile, "utf8").trim(), "");
    });

    it("firewalld: opens at runtime and permanently only what is not open yet, and closes only that", () => {
        const fw = fakeFirewalld();
        fw.open("runtime", "6385/tcp"); // another tool's, runtime only
        fw.open("permanent", "5000/tcp"); // the user's, permanent only
        const ports = labFirewallPorts(cfg);
        const all = ports.map((r) => (r.from === r.to ? `${r.from}/${r.protocol}` : `${r.from}-${r.to}/${r.protocol}`)).sort();
        const open = sh(firewallOpenCommand(ports, BRIDGES, TAG), bin);
        assert.strictEqual(open.status, 0, open.stderr);
        assert.deepStrictEqual(fw.ports("runtime"), all);
        assert.deepStrictEqual(fw.ports("permanent"), all);
        const record = open.stdout.trim().split("\n");
        assert.ok(record.includes("firewalld runtime libvirt 5000/tcp") && record.includes("firewalld permanent libvirt 6385/tcp"), open.stdout);
        assert.ok(!record.includes("firewalld runtime libvirt 6385/tcp") && !record.includes("firewalld permanent libvirt 5000/tcp"), open.stdout);
        assert.strictEqual(record.length, 2 * all.length - 2, "one line per opening, nothing else (no 'success')");
        assert.match(open.stderr, /6385\/tcp already open in zone libvirt \(runtime\)/);
        for (let i = 0; i < 2; i++) {
            const close = sh(firewallCloseCommand(TAG), bin, recorded(open.stdout));
            assert.strictEqual(close.status, 0, close.stderr);
        }
        assert.deepStrictEqual(fw.ports("runtime"), ["6385/tcp"]);
        assert.deepStrictEqual(fw.ports("permanent"), ["5000/tcp"]);
    });

    it("firewalld: a re-run keeps the previous record without adding, so destroy still closes the lab's ports", () => {
        const fw = fakeFirewalld();
        const ports = labFirewallPorts(cfg).filter((p) => [6385, 67].includes(p.from));
        const first = sh(firewallOpenCommand(ports, BRIDGES, TAG), bin);
        assert.strictEqual(first.stdout.trim().split("\n").length, 4, first.stdout);
        const before = fw.calls().length;
        const again = sh(firewallOpenCommand(ports, BRIDGES, TAG), bin, recorded(first.stdout));
        assert.strictEqual(again.status, 0, again.stderr);
        assert.deepStrictEqual(again.stdout.trim().split("\n").sort(), first.stdout.trim().split("\n").sort());
        assert.ok(!fw.calls().slice(before).some((c) => c.includes("--add-port")), "the re-run adds nothing");
        assert.strictEqual(sh(firewallCloseCommand(TAG), bin, recorded(again.stdout)).status, 0);
        assert.deepStrictEqual([fw.ports("runtime"), fw.ports("permanent")], [[], []]);
    });

    it("firewalld: a failing run closes what it opened (Pulumi keeps no record of a failed create)", () => {
        const fw = fakeFirewalld("5353/udp");
        fw.open("runtime", "53/udp");
        const r = sh(firewallOpenCommand(labFirewallPorts(cfg), BRIDGES, TAG), bin);
        assert.notStrictEqual(r.status, 0);
        assert.deepStrictEqual([fw.ports("runtime"), fw.ports("permanent")], [["53/udp"], []]);
    });

    it("generates scripts that parse under sh -n", () => {
        const ports = labFirewallPorts(cfg);
        for (const script of [defineNetworkCommand(provisioningNetwork(cfg)), undefineNetworkCommand(baremetalNetwork(cfg)), firewallOpenCommand(ports, ["a"], "t'x"), firewallCloseCommand("t'x")]) {
            const r = spawnSync("/bin/sh", ["-n", "-c", script], { encoding: "utf8" });
            assert.strictEqual(r.status, 0, r.stderr);
        }
    });
});

describe("HostNetwork component (mocks)", () => {
    it("declares two networks and the firewall as commands parented to the component", async () => {
        const cfg = labConfig("scale1000");
        const run = await runProgram(() => new HostNetwork("net", { config: cfg }), { stack: "scale1000", config: stackConfig("scale1000") });
        const component = run.resources.find((r) => r.type === "metal3-scale-lab:network:HostNetwork")!;
        const children = run.resources.filter((r) => r !== component && r.type !== "pulumi:pulumi:Stack");
        assert.deepStrictEqual(children.map((r) => r.name).sort(), ["net-baremetal", "net-firewall", "net-provisioning"]);
        for (const child of children) {
            assert.strictEqual(child.type, "command:local:Command");
            assert.strictEqual(child.parent, component.urn);
            assert.ok(child.inputs.create && child.inputs.delete, `${child.name} has create and delete`);
        }
        const prov = children.find((r) => r.name === "net-provisioning")!;
        assert.deepStrictEqual(prov.inputs.triggers, [renderLibvirtNetworkXml(provisioningNetwork(cfg))]);
        const firewall = children.find((r) => r.name === "net-firewall")!;
        assert.ok(firewall.dependencies.includes(prov.urn));
        assert.match(firewall.inputs.create, / 8000-8019\/tcp /);
        assert.match(firewall.inputs.create, / 9900-9919\/tcp /);
        // The close script reads the open script's record from PULUMI_COMMAND_STDOUT.
        assert.strictEqual(firewall.inputs.addPreviousOutputInEnv, true);
        assert.strictEqual(firewall.inputs.delete, firewallCloseCommand(`${cfg.project}:${cfg.stack}`));
    });
});
