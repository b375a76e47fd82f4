// Scale-out across real network boundaries on this machine (root + `ip netns`):
//
//   root namespace: the real Ironic (conductors + their TLS endpoints), as the conductors of a lab
//      | veth 10.X.0.0/30
//   "lab host" namespace: the Ironic API proxy (tcpProxy.py) on dockerHosts[0].address, as rendered
//      | veth 10.X.1.0/30
//   "remote host" namespace: a fake-ipa stand-in using exactly the conf.py rendered for a fake-ipa
//      on dockerHosts[1]: it calls FAKE_IPA_API_URL and FAKE_IPA_INSPECTION_CALLBACK_URL (TLS checked
//      against the lab CA) and serves its agent API on FAKE_IPA_ADVERTISE_ADDRESS_IP:_PORT, which
//      the lab host reaches back (conductor traffic leaves a lab host NATed to its address).
//
// The remote namespace has a route to the lab host's link only: the conductors' own addresses are
// not reachable from it, as on a real second machine. Namespaces, links and processes are the test's own
// (unique names) and are removed after it, also when it fails.
import { strict as assert } from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { API_PROXY_SCRIPT_FILE, ironicApiProxyPlan, ironicApiProxyUrl, renderApiProxyConfig } from "../components/ironic/apiProxy";
import { planConductors } from "../components/ironic/render";
import { fakeIpaApiUrl, fakeIpaPlan, renderFakeIpaConf } from "../components/fleet/fakeIpa";
import { buildInventory } from "../components/inventory/inventory";
import { IronicLab, requireIronicOrSkip, startIronicLab } from "./support/ironicLocal";
import { requireOrSkip } from "./support/requireTool";
import { labConfig } from "./support/mockProgram";

const PYTHON = "/usr/bin/python3";
const ID = String(process.pid % 10_000_000);
const NS_LAB = `m3so-${ID}-lab`;
const NS_REMOTE = `m3so-${ID}-remote`;
// veth ends (at most 15 characters): root<->lab, lab<->remote.
const V = { root: `m3s${ID}r`, labUp: `m3s${ID}l`, labDown: `m3s${ID}a`, remote: `m3s${ID}b` };
const NET = 200 + (process.pid % 50);
const ADDR = { root: `10.${NET}.0.1`, labUp: `10.${NET}.0.2`, lab: `10.${NET}.1.1`, remote: `10.${NET}.1.2` };

/** The fake-ipa stand-in: reads the rendered conf.py, calls Ironic as fake-ipa would, serves the agent API. */
const STAND_IN = String.raw`
import http.server, json, ssl, sys, threading, urllib.error, urllib.request
conf_path, ca_path, mac = sys.argv[1:4]
ns = {}
exec(open(conf_path).read(), ns)
ctx = ssl.create_default_context(cafile=ca_path)  # checks the certificate names the rendered address
def call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", "X-OpenStack-Ironic-API-Version": "1.82"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=20) as r:
            return [r.status, json.loads(r.read() or b"null")]
    except urllib.error.HTTPError as e:
        return [e.code, json.loads(e.read() or b"null")]
class Agent(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"commands": [], "agent": "fake-ipa stand-in", "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer((ns["FAKE_IPA_ADVERTISE_ADDRESS_IP"], ns["SUSHY_FAKE_IPA_LISTEN_PORT"]), Agent)
threading.Thread(target=server.serve_forever, daemon=True).start()
api = ns["FAKE_IPA_API_URL"]
inventory = {"interfaces": [{"name": "eth0", "mac_address": mac, "ipv4_address": ns["FAKE_IPA_ADVERTISE_ADDRESS_IP"]}]}
results = {
    "root": call("GET", api + "/"),
    "lookup": call("GET", api + "/v1/lookup?addresses=" + mac),
    "inspection": call("POST", ns["FAKE_IPA_INSPECTION_CALLBACK_URL"], {"inventory": inventory}),
}
print(json.dumps(results), flush=True)
threading.Event().wait()
`;

function run(args: string[], allowFail = false): string {
    const r = spawnSync(args[0], args.slice(1), { encoding: "utf8", timeout: 30_000 });
    if (r.status !== 0 && !allowFail) throw new Error(`${args.join(" ")}: ${r.stderr || r.error}`);
    return r.stdout;
}
const inNs = (ns: string, ...args: string[]) => ["ip", "netns", "exec", ns, ...args];

/** Builds the three-namespace topology; `removeTopology` undoes it (deleting a namespace deletes its links). */
function makeTopology(): void {
    run(["ip", "netns", "add", NS_LAB]);
    run(["ip", "netns", "add", NS_REMOTE]);
    run(["ip", "link", "add", V.root, "type", "veth", "peer", "name", V.labUp]);
    run(["ip", "link", "set", V.labUp, "netns", NS_LAB]);
    run(["ip", "link", "add", V.labDown, "type", "veth", "peer", "name", V.remote]);
    run(["ip", "link", "set", V.labDown, "netns", NS_LAB]);
    run(["ip", "link", "set", V.remote, "netns", NS_REMOTE]);
    run(["ip", "addr", "add", `${ADDR.root}/30`, "dev", V.root]);
    run(["ip", "link", "set", V.root, "up"]);
    run(inNs(NS_LAB, "ip", "addr", "add", `${ADDR.labUp}/30`, "dev", V.labUp));
    run(inNs(NS_LAB, "ip", "addr", "add", `${ADDR.lab}/30`, "dev", V.labDown));
    for (const dev of ["lo", V.labUp, V.labDown]) run(inNs(NS_LAB, "ip", "link", "set", dev, "up"));
    run(inNs(NS_LAB, "sysctl", "-qw", "net.ipv4.ip_forward=1"));
    run(inNs(NS_REMOTE, "ip", "addr", "add", `${ADDR.remote}/30`, "dev", V.remote));
    for (const dev of ["lo", V.remote]) run(inNs(NS_REMOTE, "ip", "link", "set", dev, "up"));
    // No route between the conductors' link and the remote host: as on a real second machine, the
    // remote host reaches only the lab host's address (the lab host NATs its VM's traffic out).
}

function removeTopology(): void {
    for (const ns of [NS_LAB, NS_REMOTE]) spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    spawnSync("ip", ["link", "del", V.root], { stdio: "ignore" });
}

function firstLine(proc: ChildProcess, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
        let out = "";
        let err = "";
        const timer = setTimeout(() => reject(new Error(`no output within ${timeoutMs} ms; stderr: ${err}`)), timeoutMs);
        proc.stderr!.on("data", (d) => (err += d));
        proc.stdout!.on("data", (d) => {
            out += d;
            const nl = out.indexOf("\n");
            if (nl >= 0) {
                clearTimeout(timer);
                resolve(out.slice(0, nl));
            }
        });
        proc.on("exit", (code) => reject(new Error(`exited with ${code}; stderr: ${err}`)));
    });
}

describe("scale-out across network namespaces @real", function () {
    let lab: IronicLab | undefined;
    const procs: ChildProcess[] = [];
    let dir = "";
    const cleanup = () => {
        for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
        removeTopology();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    };

    before(async function () {
        requireIronicOrSkip(this);
        const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
        const hasNetns = spawnSync("ip", ["netns", "list"]).status === 0;
        requireOrSkip(this, isRoot && hasNetns && fs.existsSync(PYTHON), "the scale-out test needs root, `ip netns` (iproute2) and /usr/bin/python3");
        process.on("exit", cleanup);
        removeTopology(); // a run killed before its after hook
        makeTopology();
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "metal3-scale-out-"));
        lab = await startIronicLab({ conductors: 2, tls: true, tlsAlsoOn: { host: ADDR.root, subjectAltIps: [ADDR.lab] } });
    });

    after(async () => {
        try {
            await lab?.stop();
        } finally {
            cleanup();
            process.removeListener("exit", cleanup);
        }
    });

    it("a remote fleet reaches Ironic only through the address the stack renders, and is reached back at its own", async () => {
        const l = lab!;
        // The stack's config: the lab host at its address on the link to the remote host, one remote docker host.
        const cfg = labConfig("dev", {
            conductors: 2,
            sushyContainers: 2,
            fakeIpaContainers: 2,
            dockerHosts: [
                { name: "local", url: "unix:///var/run/docker.sock", address: ADDR.lab },
                { name: "remote", url: `ssh://root@${ADDR.remote}`, address: ADDR.remote },
            ],
        });
        // The proxy, as rendered for this stack; its backends are the conductors as this lab runs them.
        const plan = ironicApiProxyPlan(cfg, planConductors("ironic", cfg).map((p) => p.endpoint));
        const backends = l.alsoOn!.endpoints.map((e) => ({ host: new URL(e).hostname, port: Number(new URL(e).port) }));
        const proxyConf = path.join(dir, "proxy.json");
        fs.writeFileSync(proxyConf, renderApiProxyConfig({ listen: plan.listen, backends }));
        const proxy = spawn("ip", inNs(NS_LAB, PYTHON, API_PROXY_SCRIPT_FILE, proxyConf).slice(1), { stdio: ["ignore", "pipe", "pipe"] });
        procs.push(proxy);
        assert.match(await firstLine(proxy, 10_000), new RegExp(`listening on ${ADDR.lab}:6385 for 2 backends`));

        // fake-ipa on the remote docker host, rendered as FakeIpa renders it.
        const remote = fakeIpaPlan(cfg).find((p) => p.hostIndex === 1)!;
        const conf = renderFakeIpaConf({
            apiUrl: fakeIpaApiUrl(remote.hostIndex, "https://172.22.0.2:6385", ironicApiProxyUrl(cfg)),
            advertiseIp: remote.host.address,
            port: remote.port,
            caFile: "/root/cert/ironic-ca.crt",
            minBootSeconds: 1,
            maxBootSeconds: 2,
        });
        assert.ok(conf.includes(`FAKE_IPA_API_URL = 'https://${ADDR.lab}:6385'`), conf);
        const confFile = path.join(dir, "conf.py");
        const caFile = path.join(dir, "ironic-ca.crt");
        fs.writeFileSync(confFile, conf);
        fs.writeFileSync(caFile, l.caPem!);
        const mac = buildInventory(cfg).find((h) => h.fakeIpa === remote.index)!.bootMac;

        // From the remote host, the conductors' own addresses are out of reach.
        const direct = spawnSync("ip", inNs(NS_REMOTE, PYTHON, "-c", `import socket; socket.create_connection(("${ADDR.root}", ${new URL(l.alsoOn!.endpoints[0]).port}), 3)`).slice(1), { encoding: "utf8" });
        assert.notEqual(direct.status, 0, "the remote host reaches a conductor directly");

        const before = l.alsoOn!.requestsServed().reduce((a, b) => a + b, 0);
        const standIn = spawn("ip", inNs(NS_REMOTE, PYTHON, "-c", STAND_IN, confFile, caFile, mac).slice(1), { stdio: ["ignore", "pipe", "pipe"] });
        procs.push(standIn);
        const results = JSON.parse(await firstLine(standIn, 60_000));
        // Ironic itself answered each call, over TLS verified for the rendered address.
        assert.equal(results.root[0], 200, JSON.stringify(results.root));
        assert.ok(results.root[1].versions?.length > 0 || results.root[1].default_version, JSON.stringify(results.root));
        // No node is waiting for this agent: Ironic refuses in its own error formats (API, or its basic-auth
        // middleware where this Ironic release does not list the inspection callback as public).
        for (const call of ["lookup", "inspection"]) {
            const [status, body] = results[call];
            assert.ok([400, 401, 404].includes(status), `${call}: ${JSON.stringify(results[call])}`);
            assert.ok(body?.error_message || body?.error?.message, `${call} answered by Ironic: ${JSON.stringify(results[call])}`);
        }
        // Three connections through the proxy, spread over both conductors.
        const served = l.alsoOn!.requestsServed();
        assert.equal(served.reduce((a, b) => a + b, 0) - before, 3, JSON.stringify(served));
        assert.ok(served.every((n) => n > 0), `every conductor served: ${JSON.stringify(served)}`);

        // Reached back: from the lab host, the agent at the address fake-ipa advertises to Ironic.
        const get = `import urllib.request; print(urllib.request.urlopen("http://${remote.host.address}:${remote.port}/v1/commands", timeout=5).read().decode())`;
        const agent = JSON.parse(run(inNs(NS_LAB, PYTHON, "-c", get)));
        assert.deepEqual([agent.agent, agent.path], ["fake-ipa stand-in", "/v1/commands"]);

        // check-prereqs.sh --remote, run on the lab host, with ssh into the remote namespace.
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(bin, "ssh"), `#!/bin/sh\nwhile [ "$1" = -o ]; do shift 2; done\nshift\nexec ip netns exec ${NS_REMOTE} sh -c "$*"\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "docker"), `#!/bin/sh\n[ "$DOCKER_HOST" = "ssh://root@${ADDR.remote}" ] && [ "$1" = info ]\n`, { mode: 0o755 });
        const prereqs = (...args: string[]) =>
            spawnSync("ip", inNs(NS_LAB, "env", `PATH=${bin}:/usr/bin:/bin:/usr/sbin:/sbin`, "bash", path.join(__dirname, "..", "scripts", "check-prereqs.sh"), "--remote", `root@${ADDR.remote}`, ...args).slice(1), { encoding: "utf8", timeout: 120_000 });
        // 9901: the stand-in answers itself; 8001: a probe listener on the remote host.
        const good = prereqs("--lab-address", ADDR.lab, "--ports", `8001 ${remote.port}`);
        assert.equal(good.status, 0, good.stdout + good.stderr);
        for (const line of [`OK       ssh root@${ADDR.remote}`, `port 8001`, `port ${remote.port}`, `reach ${ADDR.lab}`]) assert.ok(good.stdout.includes(line), good.stdout);
        // An address the lab host has no route to: the port check says so.
        const bad = prereqs("--address", "10.255.255.1", "--ports", "8001");
        assert.equal(bad.status, 1, bad.stdout + bad.stderr);
        assert.match(bad.stdout, /MISSING +port 8001 +cannot connect to 10\.255\.255\.1:8001 from here/);
    });
});
