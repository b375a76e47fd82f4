// Scale-out rendering: the lab host's Ironic API proxy (config, program, for
// real on loopback with a dead backend), conductor certificates naming it,
// firewall openings for other machines, conductors pinned to an existing
// cluster's nodes, and — the program under mocks with two docker hosts —
// nothing rendered for the remote host naming an address on the lab's own networks.
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import {
    API_PROXY_CONF_PATH,
    API_PROXY_SCRIPT_FILE,
    apiProxyScript,
    ironicApiProxyAddress,
    ironicApiProxyPlan,
    ironicApiProxyUrl,
    renderApiProxyConfig,
} from "../components/ironic/apiProxy";
import { conductorCertificateSpec, conductorDeploymentSpec, planConductors, runsDnsmasq } from "../components/ironic/render";
import { fakeIpaApiUrl } from "../components/fleet/fakeIpa";
import { firewallCloseCommand, firewallOpenCommand, firewallPeers, peerFirewallPorts } from "../components/network/hostNetwork";
import { cidrContains, parseCidr, parseIpv4 } from "../components/network/ipv4";
import { LabConfig } from "../components/config/types";
import { runLab } from "./support/labProgram";
import { labConfig, plainStrings, RegisteredResource } from "./support/mockProgram";
import { requireToolOrSkip } from "./support/requireTool";

const LAB = { name: "local", url: "unix:///var/run/docker.sock", address: "10.0.0.1" };
const RACK2 = { name: "rack2", url: "ssh://lab@rack2.example", address: "10.0.0.2" };
const TWO_HOSTS = [LAB, RACK2];
const KUBECONFIG = __filename; // any existing file: the loader only checks that it is one
const EXISTING = {
    managementCluster: { kind: "existing", kubeconfig: KUBECONFIG, conductorNodes: [{ name: "node-a", address: "10.0.1.11" }, { name: "node-b", address: "10.0.1.12" }] },
    dockerHosts: TWO_HOSTS,
};

/** Every IPv4 address in `text` that lies on the lab's provisioning or baremetal network. */
function labNetworkAddresses(cfg: LabConfig, text: string): string[] {
    const nets = [cfg.network.provisioningCidr, cfg.network.baremetalCidr].map((c) => parseCidr(c)!);
    return (text.match(/\b\d{1,3}(\.\d{1,3}){3}\b/g) ?? []).filter((a) => {
        const n = parseIpv4(a);
        return n !== undefined && nets.some((c) => cidrContains(c, n));
    });
}

describe("scale-out rendering", () => {
    it("publishes the Ironic API on the lab host's address over every conductor, only with remote docker hosts", () => {
        const one = labConfig("dev");
        assert.equal(ironicApiProxyAddress(one), undefined);
        assert.throws(() => ironicApiProxyPlan(one, ["https://172.22.0.2:6385"]), /only with remote docker hosts/);
        const cfg = labConfig("dev", { conductors: 3, dockerHosts: TWO_HOSTS });
        const endpoints = planConductors("ironic", cfg).map((p) => p.endpoint);
        const plan = ironicApiProxyPlan(cfg, endpoints);
        assert.deepEqual(plan.listen, { host: "10.0.0.1", port: 6385 });
        assert.deepEqual(plan.backends, [2, 3, 4].map((k) => ({ host: `172.22.0.${k}`, port: 6385 })));
        assert.equal(plan.dockerHost, cfg.dockerHosts[0]);
        assert.equal(ironicApiProxyUrl(cfg), "https://10.0.0.1:6385");
        assert.deepEqual(JSON.parse(renderApiProxyConfig(plan)), { listen: plan.listen, backends: plan.backends, connectTimeoutSeconds: 5 });
    });

    it("gives fake-ipa on a remote host the proxy, never the conductor address, and refuses to render it without one", () => {
        assert.equal(fakeIpaApiUrl(0, "https://172.22.0.2:6385", "https://10.0.0.1:6385"), "https://172.22.0.2:6385");
        assert.equal(fakeIpaApiUrl(1, "https://172.22.0.2:6385", "https://10.0.0.1:6385"), "https://10.0.0.1:6385");
        assert.throws(() => fakeIpaApiUrl(1, "https://172.22.0.2:6385", undefined), /needs the Ironic API proxy's URL/);
    });

    it("names the proxy's address in every conductor certificate (IP or DNS name)", () => {
        const plan = planConductors("ironic", labConfig("dev"))[1];
        assert.deepEqual((conductorCertificateSpec(plan, "ca") as any).ipAddresses, ["172.22.0.3"]);
        assert.equal((conductorCertificateSpec(plan, "ca") as any).dnsNames, undefined);
        assert.deepEqual((conductorCertificateSpec(plan, "ca", ["10.0.0.1"]) as any).ipAddresses, ["172.22.0.3", "10.0.0.1"]);
        const named = conductorCertificateSpec(plan, "ca", ["lab.example"]) as any;
        assert.deepEqual([named.ipAddresses, named.dnsNames], [["172.22.0.3"], ["lab.example"]]);
    });

    it("pins each conductor of an existing cluster to its node with the node's address, and runs no dnsmasq there", () => {
        const cfg = labConfig("dev", EXISTING);
        const plans = planConductors("ironic", cfg);
        assert.deepEqual(plans.map((p) => [p.ip, p.nodeName, p.endpoint]), [["10.0.1.11", "node-a", "https://10.0.1.11:6385"], ["10.0.1.12", "node-b", "https://10.0.1.12:6385"]]);
        const spec = conductorDeploymentSpec({ instance: "ironic", plan: plans[1], image: "i", configMapName: "c", authSecretName: "a", credentialsSecretName: "r", dbSecretName: "d", ports: cfg.ports }) as any;
        assert.deepEqual(spec.template.spec.nodeSelector, { "kubernetes.io/hostname": "node-b" });
        assert.equal(spec.template.spec.hostNetwork, true);
        assert.equal(runsDnsmasq(cfg), false);
        const minikube = conductorDeploymentSpec({ instance: "ironic", plan: planConductors("ironic", labConfig("dev"))[0], image: "i", configMapName: "c", authSecretName: "a", credentialsSecretName: "r", dbSecretName: "d", ports: cfg.ports }) as any;
        assert.equal(minikube.template.spec.nodeSelector, undefined);
        assert.equal(runsDnsmasq(labConfig("dev")), true);
    });

    it("opens the lab host to other machines only for what they call", () => {
        assert.deepEqual(firewallPeers(labConfig("dev")), []);
        assert.deepEqual(peerFirewallPorts(labConfig("dev")), []);
        const remote = labConfig("dev", { sushyContainers: 2, fakeIpaContainers: 2, dockerHosts: TWO_HOSTS });
        assert.deepEqual(firewallPeers(remote), ["10.0.0.2"]);
        assert.deepEqual(peerFirewallPorts(remote).map((r) => [r.from, r.to]), [[6385, 6385], [9900, 9901]]);
        const existing = labConfig("dev", { sushyContainers: 2, fakeIpaContainers: 2, ...EXISTING });
        assert.deepEqual(firewallPeers(existing), ["10.0.0.2", "10.0.1.11", "10.0.1.12"]);
        assert.deepEqual(peerFirewallPorts(existing).map((r) => [r.from, r.to]), [[6385, 6385], [6280, 6280], [8000, 8001], [9900, 9901]]);
    });

    it("opens the peer ports on the interface that routes to each peer (iptables), and closes them", () => {
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), "metal3-peers-"));
        try {
            const log = path.join(bin, "log");
            // The route to the peer, as `ip -o route get` prints it on a lab host whose LAN is eth9.
            const dev = "eth9";
            fs.writeFileSync(path.join(bin, "ip"), `#!/bin/sh\necho "$4 via 10.0.0.254 dev ${dev} src 10.0.0.1 uid 0"\n`, { mode: 0o755 });
            // firewalld absent; iptables records insertions and answers checks from its record.
            fs.writeFileSync(path.join(bin, "iptables"), `#!/bin/sh\nop=$1; shift\ncase $op in -C) grep -qxF -- "$*" ${log} ;; -I) echo "$*" >>${log} ;; -D) grep -qxF -- "$*" ${log} || exit 1; grep -vxF -- "$*" ${log} >${log}.n; mv ${log}.n ${log} ;; esac\n`, { mode: 0o755 });
            fs.writeFileSync(log, "");
            const cfg = labConfig("dev", { sushyContainers: 2, fakeIpaContainers: 2, dockerHosts: [LAB, { ...RACK2, address: "10.255.255.1" }] });
            const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, SUDO: "" };
            const open = spawnSync("sh", ["-c", firewallOpenCommand(peerFirewallPorts(cfg), [], "lab:dev:peers", firewallPeers(cfg))], { encoding: "utf8", env });
            assert.equal(open.status, 0, open.stderr);
            assert.deepEqual(fs.readFileSync(log, "utf8").trim().split("\n").sort(), [
                `INPUT -i ${dev} -p tcp --dport 6385 -m comment --comment lab:dev:peers -j ACCEPT`,
                `INPUT -i ${dev} -p tcp --dport 9900:9901 -m comment --comment lab:dev:peers -j ACCEPT`,
            ]);
            const close = spawnSync("sh", ["-c", firewallCloseCommand("lab:dev:peers")], { encoding: "utf8", env: { ...env, PULUMI_COMMAND_STDOUT: open.stdout.trim() } });
            assert.equal(close.status, 0, close.stderr);
            assert.equal(fs.readFileSync(log, "utf8").trim(), "");
        } finally {
            fs.rmSync(bin, { recursive: true, force: true });
        }
    });

    it("the proxy program spreads connections over its backends and skips one that is down", async function () {
        const python = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : undefined;
        if (!python) requireToolOrSkip(this, "python3", "apt-get install python3");
        // Two echo-like backends that answer with their name, and a port nobody listens on.
        const servers = await Promise.all(["a", "b"].map((name) => listen((s) => s.end(name))));
        const dead = await freePort();
        const port = await freePort();
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "metal3-proxy-"));
        const conf = path.join(dir, "proxy.json");
        const backends = [{ host: "127.0.0.1", port: (servers[0].address() as net.AddressInfo).port }, { host: "127.0.0.1", port: dead }, { host: "127.0.0.1", port: (servers[1].address() as net.AddressInfo).port }];
        fs.writeFileSync(conf, renderApiProxyConfig({ listen: { host: "127.0.0.1", port }, backends }));
        const proc = spawn(python!, [API_PROXY_SCRIPT_FILE, conf], { stdio: ["ignore", "pipe", "pipe"] });
        try {
            await waitFor(() => connectRead(port).then(() => true, () => false));
            const answers: string[] = [];
            for (let i = 0; i < 6; i++) answers.push(await connectRead(port));
            // Every connection was served, by both live backends; the dead one was skipped.
            assert.ok(answers.every((a) => a === "a" || a === "b"), answers.join(","));
            assert.ok(answers.includes("a") && answers.includes("b"), answers.join(","));
        } finally {
            proc.kill();
            for (const s of servers) s.close();
            fs.rmSync(dir, { recursive: true, force: true });
        }
        assert.ok(apiProxyScript().includes("asyncio"), "the program the container runs is this file");
    });

    describe("the program under mocks", () => {
        const commandsOn = (resources: RegisteredResource[], url: string) =>
            resources.filter((r) => r.type === "command:local:Command" && r.inputs.environment?.DOCKER_HOST === url);

        it("with two docker hosts, renders nothing for the remote host that names an address on the lab's own networks", async () => {
            const cfg = labConfig("dev", { sushyContainers: 2, fakeIpaContainers: 2, dockerHosts: TWO_HOSTS });
            const run = await runLab("dev", { sushyContainers: 2, fakeIpaContainers: 2, dockerHosts: TWO_HOSTS });
            const remote = commandsOn(run.resources, RACK2.url);
            assert.deepEqual(remote.map((r) => r.name).sort(), ["fake-ipa-fake-ipa-001", "sushy-sushy-001"]);
            for (const r of remote) {
                const rendered = plainStrings(r.inputs).join("\n");
                assert.deepEqual(labNetworkAddresses(cfg, rendered), [], `${r.name} names a lab-network address`);
            }
            // The remote fake-ipa is told the proxy; the lab host's keeps the conductor address.
            const conf = (name: string) => run.resources.find((r) => r.name === name)!.inputs.stdin as string;
            assert.match(conf("fake-ipa-fake-ipa-001"), /FAKE_IPA_API_URL = 'https:\/\/10\.0\.0\.1:6385'/);
            assert.match(conf("fake-ipa-fake-ipa-001"), /FAKE_IPA_INSPECTION_CALLBACK_URL = 'https:\/\/10\.0\.0\.1:6385\/v1\/continue_inspection'/);
            assert.match(conf("fake-ipa-fake-ipa-000"), /FAKE_IPA_API_URL = 'https:\/\/172\.22\.0\.2:6385'/);
            // The proxy runs on the lab host over both conductors, and each certificate names its address.
            const proxy = run.resources.find((r) => r.type === "command:local:Command" && r.name === "ironic-api-proxy-container")!;
            assert.ok(proxy, "the proxy container is declared");
            assert.equal(proxy.inputs.environment.DOCKER_HOST, LAB.url);
            assert.deepEqual(JSON.parse(proxy.inputs.stdin).backends, [{ host: "172.22.0.2", port: 6385 }, { host: "172.22.0.3", port: 6385 }]);
            assert.ok(proxy.inputs.create.includes(API_PROXY_CONF_PATH));
            const fakeIpa = run.resources.find((r) => r.type === "metal3-scale-lab:fleet:FakeIpa")!;
            assert.ok(fakeIpa.dependencies.includes(proxy.urn), "fake-ipa starts after the proxy");
            const certs = run.resources.filter((r) => r.type === "kubernetes:cert-manager.io/v1:Certificate");
            assert.equal(certs.length, 2);
            for (const c of certs) assert.ok(c.inputs.spec.ipAddresses.includes("10.0.0.1"), JSON.stringify(c.inputs.spec));
            // The lab host lets the remote host in on the proxy and fake-ipa ports.
            const peers = run.resources.find((r) => r.name === "network-firewall-peers")!;
            assert.ok(peers.inputs.create.includes("for peer in '10.0.0.2'"), peers.inputs.create);
        });

        it("one docker host: no proxy, no peer firewall, certificates name only their conductor", async () => {
            const run = await runLab("dev", { sushyContainers: 2, fakeIpaContainers: 2 });
            assert.ok(!run.resources.some((r) => r.name.startsWith("ironic-api-proxy") || r.name === "network-firewall-peers"));
            for (const c of run.resources.filter((r) => r.type === "kubernetes:cert-manager.io/v1:Certificate")) assert.equal(c.inputs.spec.ipAddresses.length, 1);
        });

        it("an existing cluster: conductors on their nodes, no bridge, no dnsmasq", async () => {
            const run = await runLab("dev", EXISTING);
            const conductors = run.resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment" && /conductor/.test(r.name));
            assert.deepEqual(conductors.map((d) => d.inputs.spec.template.spec.nodeSelector["kubernetes.io/hostname"]).sort(), ["node-a", "node-b"]);
            assert.ok(!run.resources.some((r) => /dnsmasq|conductor-ip|ironicendpoint/.test(r.name)), run.resources.map((r) => r.name).join(" "));
            const cms = run.resources.filter((r) => r.type === "kubernetes:core/v1:ConfigMap" && /conductor/.test(r.name));
            assert.deepEqual(cms.map((c) => c.inputs.data.PROVISIONING_IP).sort(), ["10.0.1.11", "10.0.1.12"]);
            // The nodes are on no lab bridge: IPA images come from the lab host's routable address, images from upstream.
            const labHost = EXISTING.dockerHosts[0].address;
            for (const cm of cms) assert.match(cm.inputs.data.DEPLOY_KERNEL_URL, new RegExp(`^http://${labHost.replace(/\./g, "\\.")}:\\d+/images/`), cm.name);
            const server = run.resources.find((r) => r.name.endsWith("ipa-server"));
            assert.match(String(server?.inputs.create), new RegExp(`--bind'? '?${labHost.replace(/\./g, "\\.")}\\b`), "the image cache listens on the lab host's routable address");
            const images = run.resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment").flatMap((d) => d.inputs.spec.template.spec.containers.map((c: { image: string }) => c.image));
            assert.ok(images.length > 0 && images.every((i: string) => !i.includes(":5000/") && !i.startsWith("172.22.")), images.join(" "));
        });
    });
});

function listen(onConnect: (s: net.Socket) => void): Promise<net.Server> {
    return new Promise((resolve) => {
        const server = net.createServer(onConnect);
        server.listen(0, "127.0.0.1", () => resolve(server));
    });
}

async function freePort(): Promise<number> {
    const s = await listen(() => undefined);
    const port = (s.address() as net.AddressInfo).port;
    await new Promise((r) => s.close(r));
    return port;
}

function connectRead(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        const s = net.connect(port, "127.0.0.1");
        s.setTimeout(5000, () => s.destroy(new Error("timeout")));
        s.on("data", (c) => chunks.push(c));
        s.on("end", () => (chunks.length > 0 ? resolve(Buffer.concat(chunks).toString()) : reject(new Error("closed without an answer"))));
        s.on("error", reject);
    });
}

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await check())) {
        if (Date.now() > deadline) throw new Error("timed out");
        await new Promise((r) => setTimeout(r, 100));
    }
}
