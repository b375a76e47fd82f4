// Fleet: Python literals (checked by a real python3), sushy-tools and fake-ipa
// conf.py rendering, DockerHosts, SushyFleet and FakeIpa under mocks.
import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";
import { requireToolOrSkip } from "./support/requireTool";
import { spawnSync } from "child_process";
import * as fs from "fs";
import { LabConfig } from "../components/config/types";
import { DockerHosts } from "../components/fleet/dockerHosts";
import { FAKE_IPA_CA_FILE, FAKE_IPA_CONF, FakeIpa, fakeIpaPlan, inspectionCallbackUrl, renderFakeIpaConf } from "../components/fleet/fakeIpa";
import { pyLiteral, PyValue } from "../components/fleet/pythonLiteral";
import { BMC_USERNAME, htpasswdLine, renderSushyConf, SUSHY_AUTH_FILE, SUSHY_CONF, SushyFleet, sushyPlan } from "../components/fleet/sushyFleet";
import { buildInventory } from "../components/inventory/inventory";
import { isSecretWrapper, plainStrings, ProgramRun, RegisteredResource, runProgram, stackConfig, labConfig } from "./support/mockProgram";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings");


const TWO_HOSTS = [
    { name: "local", url: "unix:///var/run/docker.sock", address: "192.168.111.1" },
    { name: "rack2", url: "ssh://lab@rack2.example", address: "10.0.0.2" },
];

// The system interpreter first: a pyenv shim costs most of a second per call.
const PYTHON = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : spawnSync("python3", ["--version"]).status === 0 ? "python3" : undefined;

/** Executes conf.py sources with python3 and returns their UPPER_CASE settings; skips the test without python3. */
function execPython(ctx: Mocha.Context, sources: string[]): Record<string, unknown>[] {
    if (!PYTHON) requireToolOrSkip(ctx, "python3", "apt-get install python3");
    const program = [
        "import json, sys",
        "out = []",
        "for src in json.load(sys.stdin):",
        "    ns = {}",
        "    exec(compile(src, 'conf.py', 'exec'), ns)",
        "    out.append({k: v for k, v in ns.items() if k.isupper()})",
        "print(json.dumps(out))",
    ].join("\n");
    const r = spawnSync(PYTHON!, ["-c", program], { input: JSON.stringify(sources), encoding: "utf8", maxBuffer: 64 << 20 });
    assert.strictEqual(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
}

/** Records which provider each resource was registered with (the harness does not). */
function recordProviders(): Map<string, string> {
    const seen = new Map<string, string>();
    const monitor = settings.getMonitor();
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: unknown) => {
        seen.set(req.getName(), req.getProvider());
        return register(req, callback);
    };
    return seen;
}

function own(run: ProgramRun, type: string): { component: RegisteredResource; children: RegisteredResource[] } {
    const component = run.resources.find((r) => r.type === type)!;
    assert.ok(component, `${type} registered`);
    // Registration order follows input resolution; name order is index order (zero-padded names).
    const children = run.resources.filter((r) => r.parent === component.urn).sort((a, b) => a.name.localeCompare(b.name));
    return { component, children };
}

function assertNoSecretInPlainText(run: ProgramRun): void {
    assert.ok(run.generatedSecrets.length > 0, "the run generated secrets to look for");
    for (const r of run.resources) {
        const plain = plainStrings(r.rawInputs);
        for (const secret of run.generatedSecrets) {
            assert.ok(!plain.some((s) => s.includes(secret)), `${r.name} carries a generated secret in plain text`);
        }
    }
}

function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => resolve(v)));
}

describe("Python literals", () => {
    it("round-trip awkward strings and nested data through python3", function () {
        const nasty = "it's \"q\" \\ back\nnew\ttab\r\u0000nul é 漢 😀 \u2028 ''' \"\"\" \\x41 {x}";
        const data: PyValue = { s: nasty, list: [1, -2.5, true, false, null, [], {}], "key'with\"quotes": "v" };
        const [ns] = execPython(this, [`X = ${pyLiteral(data)}\n`]);
        assert.deepStrictEqual(ns.X, data);
        assert.match(pyLiteral(nasty), /^[\x20-\x7e]*$/, "output is printable ASCII");
    });

    it("refuses values Python has no literal for", () => {
        assert.throws(() => pyLiteral(Number.NaN), /no Python literal/);
    });
});

describe("sushy-tools conf.py", () => {
    const cfg = labConfig("scale1000", { dockerHosts: TWO_HOSTS });
    const hosts = buildInventory(cfg);
    const plan = sushyPlan(cfg, hosts);

    it("partitions 1000 hosts over 20 containers, 50 each, every host exactly once", () => {
        assert.strictEqual(plan.length, 20);
        assert.deepStrictEqual(new Set(plan.map((p) => p.systems.length)), new Set([50]));
        const uuids = plan.flatMap((p) => p.systems.map((s) => s.uuid));
        assert.strictEqual(uuids.length, 1000);
        assert.strictEqual(new Set(uuids).size, 1000);
        for (const p of plan) for (const s of p.systems) assert.strictEqual(hosts.find((h) => h.uuid === s.uuid)!.sushy, p.index);
    });

    it("is valid Python holding exactly its container's systems, port and fake-ipa", function () {
        const parsed = execPython(this, plan.map(renderSushyConf));
        parsed.forEach((ns, i) => {
            const mine = hosts.filter((h) => h.sushy === i);
            assert.deepStrictEqual(ns.SUSHY_EMULATOR_FAKE_SYSTEMS, mine.map((h) => ({ uuid: h.uuid, name: h.name, power_state: "Off", external_notifier: true, nics: [{ mac: h.bootMac }] })));
            assert.strictEqual(ns.SUSHY_EMULATOR_LISTEN_PORT, 8000 + i);
            assert.strictEqual(ns.SUSHY_EMULATOR_LISTEN_IP, "0.0.0.0");
            assert.strictEqual(ns.SUSHY_EMULATOR_FAKE_DRIVER, true);
            assert.strictEqual(ns.SUSHY_EMULATOR_NO_MEMOIZE, true);
            assert.strictEqual(ns.SUSHY_EMULATOR_AUTH_FILE, SUSHY_AUTH_FILE);
            // fake-ipa j = i mod F runs on docker host j mod H, port fakeIpaBase + j
            assert.strictEqual(ns.EXTERNAL_NOTIFICATION_URL, `http://${TWO_HOSTS[i % 2].address}:${9900 + i}`);
        });
    });

    it("places container i on docker host i mod H with the inventory's endpoint", () => {
        for (const p of plan) {
            assert.strictEqual(p.host.name, TWO_HOSTS[p.index % 2].name);
            assert.strictEqual(p.endpoint, hosts.find((h) => h.sushy === p.index)!.sushyEndpoint);
            assert.strictEqual(p.containerName, `scale1000-sushy-${p.index}`);
        }
    });

    it("rejects hosts from another fleet layout", () => {
        const other = buildInventory(labConfig("scale1000", { sushyContainers: 25, fakeIpaContainers: 20 }));
        assert.throws(() => sushyPlan(cfg, other), /does not belong to this fleet/);
    });

    it("writes htpasswd lines only from bcrypt hashes", () => {
        assert.strictEqual(htpasswdLine("admin", "$2a$10$abc"), "admin:$2a$10$abc\n");
        assert.throws(() => htpasswdLine("admin", "plain"), /bcrypt/);
    });
});

describe("fake-ipa conf.py", () => {
    it("is valid Python with the upstream keys, integer ports and boot times", function () {
        const [ns] = execPython(this, [
            renderFakeIpaConf({
                apiUrl: "https://172.22.0.2:6385",
                inspectionCallbackUrl: "https://172.22.0.2:6385/v1/continue_inspection",
                advertiseIp: "10.0.0.2",
                port: 9901,
                caFile: FAKE_IPA_CA_FILE,
                minBootSeconds: 20,
                maxBootSeconds: 30,
            }),
        ]);
        assert.deepStrictEqual(ns, {
            FAKE_IPA_API_URL: "https://172.22.0.2:6385",
            FAKE_IPA_INSPECTION_CALLBACK_URL: "https://172.22.0.2:6385/v1/continue_inspection",
            FAKE_IPA_ADVERTISE_ADDRESS_IP: "10.0.0.2",
            FAKE_IPA_ADVERTISE_ADDRESS_PORT: 9901,
            SUSHY_FAKE_IPA_LISTEN_PORT: 9901,
            FAKE_IPA_INSECURE: false,
            FAKE_IPA_CAFILE: FAKE_IPA_CA_FILE,
            FAKE_IPA_MIN_BOOT_TIME: 20,
            FAKE_IPA_MAX_BOOT_TIME: 30,
        });
    });

    it("posts inspection data to Ironic, or to ironic-inspector when the lab runs one", () => {
        const cfg = labConfig("dev");
        assert.strictEqual(inspectionCallbackUrl("https://172.22.0.2:6385/", cfg), "https://172.22.0.2:6385/v1/continue_inspection");
        const old = labConfig("dev", { ironic: { inspector: true } });
        assert.strictEqual(inspectionCallbackUrl("https://172.22.0.2:6385", old), "https://172.22.0.2:5050/v1/continue");
    });

    it("feeds fake-ipa j from the sushy containers c with c mod F = j", () => {
        const plan = fakeIpaPlan(labConfig("scale1000", { sushyContainers: 20, fakeIpaContainers: 6, dockerHosts: TWO_HOSTS }));
        assert.deepStrictEqual(plan[0].sushyFeeds, [0, 6, 12, 18]);
        assert.deepStrictEqual(plan[5].sushyFeeds, [5, 11, 17]);
        assert.deepStrictEqual(plan.map((p) => p.host.name), ["local", "rack2", "local", "rack2", "local", "rack2"]);
        assert.strictEqual(plan[3].url, "http://10.0.0.2:9903");
    });
});

describe("DockerHosts component (mocks)", () => {
    it("declares one provider per docker host, named by the host", async () => {
        const cfg = labConfig("dev", { dockerHosts: TWO_HOSTS });
        let hostsComponent!: DockerHosts;
        const run = await runProgram(() => (hostsComponent = new DockerHosts("hosts", { config: cfg })), { stack: "dev", config: stackConfig("dev", { dockerHosts: TWO_HOSTS }) });
        const { children } = own(run, "metal3-scale-lab:fleet:DockerHosts");
        assert.deepStrictEqual(children.map((r) => [r.type, r.name, r.inputs.host]), [
            ["pulumi:providers:docker", "hosts-local", "unix:///var/run/docker.sock"],
            ["pulumi:providers:docker", "hosts-rack2", "ssh://lab@rack2.example"],
        ]);
        assert.strictEqual(hostsComponent.providers.length, 2);
    });
});

/** A program with DockerHosts + SushyFleet + FakeIpa, as index.ts will wire them. */
function fleetProgram(cfg: LabConfig, withBmc: boolean) {
    const out: { sushy?: SushyFleet; fakeIpa?: FakeIpa; providers?: Map<string, string> } = {};
    const program = () => {
        out.providers = recordProviders();
        const hosts = new DockerHosts("hosts", { config: cfg });
        out.sushy = new SushyFleet("sushy", { config: cfg, hosts: buildInventory(cfg), image: cfg.images.sushyTools, providers: hosts.providers });
        out.fakeIpa = new FakeIpa("fake-ipa", {
            config: cfg,
            image: cfg.images.fakeIpa,
            providers: hosts.providers,
            ironicApiUrl: "https://172.22.0.2:6385",
            ironicCaPem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            bmc: withBmc ? { username: out.sushy.bmcUsername, password: out.sushy.bmcPassword } : undefined,
        });
    };
    return { out, program };
}

async function runFleet(stack: string, overrides: Record<string, unknown>, withBmc = true) {
    const cfg = labConfig(stack, overrides);
    const { out, program } = fleetProgram(cfg, withBmc);
    const run = await runProgram(program, { stack, config: stackConfig(stack, overrides) });
    return { cfg, run, ...out };
}

function urns(run: ProgramRun): Set<string> {
    return new Set(run.resources.map((r) => r.urn));
}

describe("SushyFleet component (mocks)", () => {
    it("declares one password and sushyContainers containers spread over the docker hosts", async () => {
        const { cfg, run, sushy, providers } = await runFleet("scale1000", { dockerHosts: TWO_HOSTS });
        const { component, children } = own(run, "metal3-scale-lab:fleet:SushyFleet");
        const containers = children.filter((r) => r.type === "docker:index/container:Container");
        assert.strictEqual(containers.length, cfg.sushyContainers);
        assert.deepStrictEqual(
            children.filter((r) => r.type === "random:index/randomPassword:RandomPassword").map((r) => r.name),
            ["sushy-bmc-password"],
        );
        assert.strictEqual(children.length, cfg.sushyContainers + 1);
        for (const r of children) assert.strictEqual(r.parent, component.urn);
        assert.strictEqual(new Set(containers.map((c) => c.inputs.name)).size, containers.length);

        for (const [i, c] of containers.entries()) {
            assert.strictEqual(c.name, `sushy-sushy-${String(i).padStart(3, "0")}`);
            assert.strictEqual(c.inputs.name, `scale1000-sushy-${i}`);
            assert.strictEqual(c.inputs.networkMode, "host");
            assert.strictEqual(c.inputs.image, cfg.images.sushyTools);
            assert.ok(providers!.get(c.name)!.includes(`::hosts-${TWO_HOSTS[i % 2].name}::`), `${c.name} on ${TWO_HOSTS[i % 2].name}`);
            const conf = c.inputs.uploads.find((u: { file: string }) => u.file === SUSHY_CONF);
            assert.strictEqual(conf.content.match(/'uuid': /g).length, 50);
            assert.ok(conf.content.includes(`SUSHY_EMULATOR_LISTEN_PORT = ${8000 + i}`));
            // the htpasswd upload is a secret; conf.py is not
            const raw = c.rawInputs.uploads as { file: string; content: unknown }[];
            assert.ok(isSecretWrapper(raw.find((u) => u.file === SUSHY_AUTH_FILE)!.content));
            assert.strictEqual(typeof raw.find((u) => u.file === SUSHY_CONF)!.content, "string");
        }
        const htpasswd = containers[0].inputs.uploads.find((u: { file: string }) => u.file === SUSHY_AUTH_FILE).content as string;
        assert.match(htpasswd, /^admin:\$2a\$10\$/);
        assert.ok(run.generatedSecrets.includes(htpasswd.slice("admin:".length).trim()), "htpasswd carries the generated bcrypt hash");

        assert.strictEqual(sushy!.bmcUsername, BMC_USERNAME);
        assert.strictEqual(await pulumi.isSecret(sushy!.bmcPassword), true);
        assert.ok(run.generatedSecrets.includes(await valueOf(sushy!.bmcPassword)));
        assert.deepStrictEqual(sushy!.endpoints, buildInventory(cfg).slice(0, 20).map((h) => h.sushyEndpoint));
        assertNoSecretInPlainText(run);
    });

    it("adding container S+1 adds exactly its resources", async () => {
        const small = await runFleet("dev", { sushyContainers: 2, fakeIpaContainers: 1 });
        const large = await runFleet("dev", { sushyContainers: 3, fakeIpaContainers: 1 });
        const added = [...urns(large.run)].filter((u) => !urns(small.run).has(u));
        const removed = [...urns(small.run)].filter((u) => !urns(large.run).has(u));
        assert.deepStrictEqual(removed, []);
        assert.deepStrictEqual(added.map((u) => u.slice(u.lastIndexOf("::") + 2)), ["sushy-sushy-002"]);
    });
});

describe("FakeIpa component (mocks)", () => {
    it("declares fakeIpaContainers containers with conf.py and the CA, spread over the docker hosts", async function () {
        const { cfg, run, fakeIpa, providers } = await runFleet("scale1000", { dockerHosts: TWO_HOSTS }, false);
        const { component, children } = own(run, "metal3-scale-lab:fleet:FakeIpa");
        assert.strictEqual(children.length, cfg.fakeIpaContainers);
        const parsed = execPython(this, children.map((c) => c.inputs.uploads.find((u: { file: string }) => u.file === FAKE_IPA_CONF).content));
        for (const [j, c] of children.entries()) {
            assert.strictEqual(c.parent, component.urn);
            assert.strictEqual(c.name, `fake-ipa-fake-ipa-${String(j).padStart(3, "0")}`);
            assert.strictEqual(c.inputs.name, `scale1000-fake-ipa-${j}`);
            assert.strictEqual(c.inputs.networkMode, "host");
            assert.deepStrictEqual(c.inputs.envs, [`CONFIG=${FAKE_IPA_CONF}`]);
            assert.ok(providers!.get(c.name)!.includes(`::hosts-${TWO_HOSTS[j % 2].name}::`));
            assert.match(c.inputs.uploads.find((u: { file: string }) => u.file === FAKE_IPA_CA_FILE).content, /BEGIN CERTIFICATE/);
            const ns = parsed[j];
            assert.strictEqual(ns.FAKE_IPA_ADVERTISE_ADDRESS_IP, TWO_HOSTS[j % 2].address);
            assert.strictEqual(ns.FAKE_IPA_ADVERTISE_ADDRESS_PORT, 9900 + j);
            assert.strictEqual(ns.SUSHY_FAKE_IPA_LISTEN_PORT, 9900 + j);
            assert.strictEqual(ns.FAKE_IPA_INSPECTION_CALLBACK_URL, "https://172.22.0.2:6385/v1/continue_inspection");
            assert.strictEqual(ns.FAKE_IPA_CAFILE, FAKE_IPA_CA_FILE);
            assert.deepStrictEqual([ns.FAKE_IPA_MIN_BOOT_TIME, ns.FAKE_IPA_MAX_BOOT_TIME], [180, 240]);
            assert.strictEqual(ns.FAKE_IPA_REDFISH_URL, undefined);
        }
        assert.deepStrictEqual(fakeIpa!.endpoints, fakeIpaPlan(cfg).map((p) => p.url));
    });

    it("gives a 1:1-paired fake-ipa its BMC, keeping the password secret", async function () {
        const { run } = await runFleet("scale1000", { dockerHosts: TWO_HOSTS }, true);
        const { children } = own(run, "metal3-scale-lab:fleet:FakeIpa");
        const raw = children[1].rawInputs.uploads as { file: string; content: unknown }[];
        assert.ok(isSecretWrapper(raw.find((u) => u.file === FAKE_IPA_CONF)!.content), "conf.py with a password is a secret");
        const [ns] = execPython(this, [children[1].inputs.uploads.find((u: { file: string }) => u.file === FAKE_IPA_CONF).content]);
        assert.strictEqual(ns.FAKE_IPA_REDFISH_URL, "http://10.0.0.2:8001");
        assert.strictEqual(ns.FAKE_IPA_REDFISH_USER, "admin");
        assert.ok(run.generatedSecrets.includes(ns.FAKE_IPA_REDFISH_PASSWORD as string));
        assertNoSecretInPlainText(run);
    });

    it("leaves the BMC out when a fake-ipa serves several sushy containers", async function () {
        const { run } = await runFleet("dev", { nodes: 10, sushyContainers: 4, fakeIpaContainers: 2 }, true);
        const { children } = own(run, "metal3-scale-lab:fleet:FakeIpa");
        const [ns] = execPython(this, [children[0].inputs.uploads.find((u: { file: string }) => u.file === FAKE_IPA_CONF).content]);
        assert.strictEqual(ns.FAKE_IPA_REDFISH_URL, undefined);
        assertNoSecretInPlainText(run);
    });

    it("adding container F+1 adds exactly its resources", async () => {
        const small = await runFleet("dev", { nodes: 10, sushyContainers: 4, fakeIpaContainers: 2 }, false);
        const large = await runFleet("dev", { nodes: 10, sushyContainers: 4, fakeIpaContainers: 3 }, false);
        const added = [...urns(large.run)].filter((u) => !urns(small.run).has(u));
        assert.deepStrictEqual([...urns(small.run)].filter((u) => !urns(large.run).has(u)), []);
        assert.deepStrictEqual(added.map((u) => u.slice(u.lastIndexOf("::") + 2)), ["fake-ipa-fake-ipa-002"]);
    });
});
