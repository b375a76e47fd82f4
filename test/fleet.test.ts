// Fleet: Python literals (checked by a real python3), sushy-tools and fake-ipa
// conf.py rendering, the container scripts run against a fake docker, and
// SushyFleet and FakeIpa under mocks.
import * as pulumi from "@pulumi/pulumi";
import * as assert from "assert";
import { requireToolOrSkip } from "./support/requireTool";
import { spawnSync } from "child_process";
import * as fs from "fs";
import { LabConfig } from "../components/config/types";
import { containerCreateScript, containerDeleteScript, ContainerSpec } from "../components/fleet/containerCommand";
import { FAKE_IPA_CA_FILE, FAKE_IPA_CONF, FakeIpa, fakeIpaPlan, inspectionCallbackUrl, renderFakeIpaConf } from "../components/fleet/fakeIpa";
import { pyLiteral, PyValue } from "../components/fleet/pythonLiteral";
import { BMC_USERNAME, htpasswdLine, renderSushyConf, SUSHY_AUTH_FILE, SUSHY_CONF, SushyFleet, sushyPlan } from "../components/fleet/sushyFleet";
import { buildInventory, makeHosts, sushyShare } from "../components/inventory/inventory";
import { fakeDocker, FakeDocker } from "./support/fakeDocker";
import { isSecretWrapper, plainStrings, ProgramRun, RegisteredResource, runProgram, stackConfig, labConfig, rawStackConfig } from "./support/mockProgram";
import { loadLabConfig } from "../components/config/load";

const TWO_HOSTS = [
    // With a remote docker host the lab host's address is one the remote machine routes to.
    { name: "local", url: "unix:///var/run/docker.sock", address: "10.0.0.1" },
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

    it("gives each of 20 containers its fixed share of hostsPerSushy systems: the 1000 hosts once each, and room for 1000 more", () => {
        assert.strictEqual(plan.length, 20);
        assert.deepStrictEqual(new Set(plan.map((p) => p.systems.length)), new Set([100]));
        const uuids = plan.flatMap((p) => p.systems.map((s) => s.uuid));
        assert.strictEqual(new Set(uuids).size, 2000);
        const declared = new Set(uuids);
        assert.ok(hosts.every((h) => declared.has(h.uuid)), "every host has its system");
        for (const p of plan) {
            const mine = hosts.filter((h) => h.sushy === p.index);
            assert.strictEqual(mine.length, 50);
            assert.deepStrictEqual(p.systems.slice(0, 50).map((s) => s.uuid), mine.map((h) => h.uuid), "the enrolled hosts first, in order");
        }
    });

    it("is valid Python holding exactly its container's systems, port and fake-ipa", function () {
        const parsed = execPython(this, plan.map(renderSushyConf));
        parsed.forEach((ns, i) => {
            const mine = makeHosts(cfg, sushyShare(cfg, i));
            assert.ok(mine.every((h) => h.sushy === i));
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

    it("renders the same conf.py for every container that exists before and after nodes changes, in every layout", () => {
        const layouts: [string, Record<string, unknown>, number[]][] = [
            ["derived (blocks of 10 x 100)", { sushyContainers: 0, fakeIpaContainers: 0 }, [700, 770, 999, 1000, 1001, 1500, 2345]],
            ["explicit 20 + 20", {}, [1000, 1100, 1999, 2000]],
            ["derived sushy, 3 fake-ipa", { sushyContainers: 0, fakeIpaContainers: 3 }, [700, 1000, 1234]],
        ];
        for (const [title, extra, sizes] of layouts) {
            const plans = sizes.map((nodes) => {
                // A lab host large enough for 2345 hosts: this test is about layout, not capacity.
                const c = loadLabConfig(rawStackConfig("scale1000", { ...extra, nodes }), "scale1000", { cpus: 64 });
                return sushyPlan(c, buildInventory(c)).map(renderSushyConf);
            });
            for (let k = 1; k < plans.length; k++) {
                const common = Math.min(plans[k - 1].length, plans[k].length);
                assert.deepStrictEqual(plans[k].slice(0, common), plans[k - 1].slice(0, common), `${title}: ${sizes[k - 1]} -> ${sizes[k]}`);
            }
        }
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
    it("is valid Python with the upstream keys, integer ports and boot times, and no BMC", function () {
        const [ns] = execPython(this, [
            renderFakeIpaConf({ apiUrl: "https://172.22.0.2:6385", advertiseIp: "10.0.0.2", port: 9901, caFile: FAKE_IPA_CA_FILE, minBootSeconds: 20, maxBootSeconds: 30 }),
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

    it("posts inspection data to Ironic's own continue_inspection", () => {
        assert.strictEqual(inspectionCallbackUrl("https://172.22.0.2:6385/"), "https://172.22.0.2:6385/v1/continue_inspection");
        assert.strictEqual(inspectionCallbackUrl("https://[fd00::2]:6385"), "https://[fd00::2]:6385/v1/continue_inspection");
    });

    it("feeds fake-ipa j from the sushy containers c with c mod F = j", () => {
        const plan = fakeIpaPlan(labConfig("scale1000", { sushyContainers: 20, fakeIpaContainers: 6, dockerHosts: TWO_HOSTS }));
        assert.deepStrictEqual(plan[0].sushyFeeds, [0, 6, 12, 18]);
        assert.deepStrictEqual(plan[5].sushyFeeds, [5, 11, 17]);
        assert.deepStrictEqual(plan.map((p) => p.host.name), ["local", "rack2", "local", "rack2", "local", "rack2"]);
        assert.strictEqual(plan[3].url, "http://10.0.0.2:9903");
    });
});

describe("lab container scripts, run against a fake docker", () => {
    const OWNER = "metal3-scale-lab.stack";
    const SECRET = "admin:$2a$10$s3cr3t-hash-never-printed\n";
    const spec = (over: Partial<ContainerSpec> = {}): ContainerSpec => ({
        name: "dev-sushy-0",
        image: "127.0.0.1:5000/localimages/sushy-tools:v38.0.0",
        labels: { [OWNER]: "dev", "metal3-scale-lab.role": "sushy-tools" },
        ownerLabel: OWNER,
        env: { SUSHY_TOOLS_CONFIG: "/root/sushy/conf.py" },
        files: [
            { path: "/root/sushy/conf.py", mode: "0644", source: { stdin: true } },
            { path: "/root/sushy/htpasswd", mode: "0600", source: { env: "LAB_HTPASSWD" } },
        ],
        run: { kind: "service", healthCmd: "true", waitSeconds: 10 },
        ...over,
    });
    const env = { DOCKER_HOST: "unix:///var/run/docker.sock", LAB_HTPASSWD: SECRET };
    let docker: FakeDocker;
    beforeEach(() => (docker = fakeDocker()));
    afterEach(() => docker.cleanup());

    it("creates a fresh container with its labels, files (root-owned, modes kept) and health check, and waits for it", () => {
        const script = containerCreateScript(spec());
        assert.ok(!script.includes("s3cr3t"), "the secret is not in the command text");
        const r = docker.run(script, env, "SUSHY_EMULATOR_LISTEN_PORT = 8000\n");
        assert.strictEqual(r.status, 0, r.stderr);
        assert.strictEqual(r.stdout.trim(), "id-dev-sushy-0");
        assert.ok(!(r.stdout + r.stderr).includes("s3cr3t"), "the secret is not printed");
        const c = docker.container("dev-sushy-0");
        assert.strictEqual(c.state, "running");
        assert.deepStrictEqual(c.labels, spec().labels);
        assert.deepStrictEqual(c.files, {
            "/root/sushy/conf.py": { content: "SUSHY_EMULATOR_LISTEN_PORT = 8000\n", mode: 0o644 },
            "/root/sushy/htpasswd": { content: SECRET, mode: 0o600 },
        });
        // Only file entries, owned by root: docker makes the parents and leaves existing directories alone.
        const entries = c.tarListing.trim().split("\n");
        assert.strictEqual(entries.length, 2);
        for (const e of entries) assert.match(e, /^-rw-\S* 0\/0 /);
        assert.deepStrictEqual(c.args.slice(c.args.indexOf("--restart"), c.args.indexOf("--restart") + 2), ["--restart", "unless-stopped"]);
        assert.ok(c.args.includes("--health-cmd"));
        assert.deepStrictEqual(c.args.slice(-1), [spec().image]);
        assert.deepStrictEqual(docker.log().filter((l) => /^docker (create|cp|start)/.test(l)).map((l) => l.split(" ")[1]), ["create", "cp", "start"]);
    });

    it("replaces a container of this stack left by an interrupted run", () => {
        docker.addContainer("dev-sushy-0", { [OWNER]: "dev" });
        const r = docker.run(containerCreateScript(spec()), env, "x");
        assert.strictEqual(r.status, 0, r.stderr);
        assert.ok(docker.log().includes("docker rm -f dev-sushy-0"));
        assert.strictEqual(docker.container("dev-sushy-0").files["/root/sushy/conf.py"].content, "x");
    });

    it("refuses a same-named container that is not this stack's, and leaves it", () => {
        docker.addContainer("dev-sushy-0", { [OWNER]: "other" });
        const r = docker.run(containerCreateScript(spec()), env, "x");
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, /a container named dev-sushy-0 already exists and is not this stack's \(label metal3-scale-lab\.stack=other\)/);
        assert.strictEqual(docker.container("dev-sushy-0").labels[OWNER], "other");
        assert.ok(!docker.log().some((l) => /^docker (rm|create)/.test(l)));
        // A container with no labels at all is foreign too.
        docker.cleanup();
        docker = fakeDocker();
        docker.addContainer("dev-sushy-0", {});
        assert.match(docker.run(containerCreateScript(spec()), env, "x").stderr, /stack=<no value>/);
    });

    it("fails after the wait bound when the container never becomes healthy, showing its logs", () => {
        const r = docker.run(containerCreateScript(spec({ run: { kind: "service", healthCmd: "true", waitSeconds: 6 } })), { ...env, FAKE_HEALTH: "starting" }, "x");
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, /container dev-sushy-0 not healthy after 6s \(running starting\); its last log lines:\nlast log line of dev-sushy-0/);
        // 6s at 2s a poll: the first look and three more.
        assert.strictEqual(docker.log().filter((l) => l.startsWith("docker container inspect --format {{.State.Status}}")).length, 4);
    });

    it("fails at once when the container stops before it is healthy", () => {
        const r = docker.run(containerCreateScript(spec()), { ...env, FAKE_STATE_AFTER_START: "exited" }, "x");
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, /container dev-sushy-0 stopped \(exited \) before it became healthy/);
    });

    it("deletes only a container of this stack, and is done when there is none", () => {
        docker.addContainer("dev-sushy-0", { [OWNER]: "dev" });
        assert.strictEqual(docker.run(containerDeleteScript(spec())).status, 0);
        assert.strictEqual(docker.hasContainer("dev-sushy-0"), false);
        assert.strictEqual(docker.run(containerDeleteScript(spec())).status, 0, "already gone");

        docker.addContainer("dev-sushy-0", { [OWNER]: "other" });
        const r = docker.run(containerDeleteScript(spec()));
        assert.strictEqual(r.status, 0);
        assert.match(r.stderr, /leaving container dev-sushy-0 alone/);
        assert.strictEqual(docker.hasContainer("dev-sushy-0"), true);
    });

    it("runs a one-shot container to completion, removing it, failing on a non-zero exit", () => {
        const once = spec({ name: "dev-ipa-downloader", files: [], run: { kind: "once" } });
        const ok = docker.run(containerCreateScript(once), env);
        assert.strictEqual(ok.status, 0, ok.stderr);
        assert.match(ok.stderr, /output of dev-ipa-downloader/);
        assert.strictEqual(docker.hasContainer("dev-ipa-downloader"), false);
        const bad = docker.run(containerCreateScript(once), { ...env, FAKE_EXIT: "3" });
        assert.strictEqual(bad.status, 1);
        assert.match(bad.stderr, /container dev-ipa-downloader exited with status 3/);
        assert.strictEqual(docker.hasContainer("dev-ipa-downloader"), false);
    });

    it("creates its named volumes with the stack's label, refuses foreign ones, deletes only its own", () => {
        const withVolume = spec({ files: [], volumes: ["dev-registry-data"], mounts: ["dev-registry-data:/var/lib/registry"] });
        assert.strictEqual(docker.run(containerCreateScript(withVolume), env).status, 0);
        assert.strictEqual(docker.hasVolume("dev-registry-data"), true);
        // A re-run keeps the volume (and its data).
        assert.strictEqual(docker.run(containerCreateScript(withVolume), env).status, 0);
        assert.strictEqual(docker.log().filter((l) => l.startsWith("docker volume create")).length, 1);
        assert.strictEqual(docker.run(containerDeleteScript(withVolume)).status, 0);
        assert.strictEqual(docker.hasVolume("dev-registry-data"), false);

        docker.addVolume("dev-registry-data", { [OWNER]: "other" });
        const r = docker.run(containerCreateScript(withVolume), env);
        assert.strictEqual(r.status, 1);
        assert.match(r.stderr, /a volume named dev-registry-data already exists and is not this stack's/);
        docker.addContainer("dev-sushy-0", { [OWNER]: "dev" });
        assert.strictEqual(docker.run(containerDeleteScript(withVolume)).status, 0);
        assert.strictEqual(docker.hasVolume("dev-registry-data"), true);
    });

    it("fails when a file's variable is missing instead of writing an empty file", () => {
        const r = docker.run(containerCreateScript(spec()), { DOCKER_HOST: "unix:///x" }, "x");
        assert.notStrictEqual(r.status, 0);
        assert.ok(!docker.log().some((l) => l.startsWith("docker start")));
    });

    it("refuses specs it cannot render safely", () => {
        assert.throws(() => containerCreateScript(spec({ labels: {} })), /must name the owning stack/);
        assert.throws(() => containerCreateScript(spec({ files: [{ path: "/a", mode: "0644", source: { stdin: true } }, { path: "/b", mode: "0644", source: { stdin: true } }] })), /at most one file can come from stdin/);
        assert.throws(() => containerCreateScript(spec({ files: [{ path: "/a/../etc/x", mode: "0644", source: { stdin: true } }] })), /bad file path/);
    });
});

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const REMOTE_API = `https://${TWO_HOSTS[0].address}:6385`;

/** FakeIpa then SushyFleet, as index.ts wires them. */
async function runFleet(stack: string, overrides: Record<string, unknown>) {
    const cfg = labConfig(stack, overrides);
    const out: { sushy?: SushyFleet; fakeIpa?: FakeIpa } = {};
    const run = await runProgram(
        () => {
            // With remote docker hosts, index.ts passes the lab host's Ironic API proxy for them.
            const remoteIronicApiUrl = cfg.dockerHosts.length > 1 ? REMOTE_API : undefined;
            out.fakeIpa = new FakeIpa("fake-ipa", { config: cfg, image: cfg.images.fakeIpa, ironicApiUrl: "https://172.22.0.2:6385", remoteIronicApiUrl, ironicCaPem: CA });
            out.sushy = new SushyFleet("sushy", { config: cfg, hosts: buildInventory(cfg), image: cfg.images.sushyTools, fakeIpa: out.fakeIpa });
        },
        { stack, config: stackConfig(stack, overrides) },
    );
    return { cfg, run, ...out };
}

function urns(run: ProgramRun): Set<string> {
    return new Set(run.resources.map((r) => r.urn));
}

const COMMAND = "command:local:Command";

describe("SushyFleet component (mocks)", () => {
    it("declares one password and sushyContainers container commands spread over the docker hosts", async () => {
        const { cfg, run, sushy } = await runFleet("scale1000", { dockerHosts: TWO_HOSTS });
        const { component, children } = own(run, "metal3-scale-lab:fleet:SushyFleet");
        const containers = children.filter((r) => r.type === COMMAND);
        assert.strictEqual(containers.length, cfg.sushyContainers);
        assert.deepStrictEqual(children.filter((r) => r.type === "random:index/randomPassword:RandomPassword").map((r) => r.name), ["sushy-bmc-password"]);
        assert.strictEqual(children.length, cfg.sushyContainers + 1);
        const plan = sushyPlan(cfg, buildInventory(cfg));
        for (const [i, c] of containers.entries()) {
            assert.strictEqual(c.parent, component.urn);
            assert.strictEqual(c.name, `sushy-sushy-${String(i).padStart(3, "0")}`);
            assert.strictEqual(c.inputs.environment.DOCKER_HOST, TWO_HOSTS[i % 2].url);
            assert.match(c.inputs.create, new RegExp(`^name='scale1000-sushy-${i}'$`, "m"));
            assert.ok(c.inputs.create.includes(`'${cfg.images.sushyTools}'`));
            assert.ok(c.inputs.create.includes(`'-e' 'SUSHY_TOOLS_CONFIG=${SUSHY_CONF}' '-e' 'SUSHY_EMULATOR_CONFIG=${SUSHY_CONF}'`));
            assert.strictEqual(c.inputs.update, c.inputs.create);
            assert.strictEqual(c.inputs.delete, containerDeleteScript({ name: `scale1000-sushy-${i}`, image: "", labels: { "metal3-scale-lab.stack": "scale1000" }, ownerLabel: "metal3-scale-lab.stack", run: { kind: "once" } }));
            // conf.py on stdin (plain, one system per host); the htpasswd in the environment, secret.
            assert.strictEqual(c.inputs.stdin, renderSushyConf(plan[i]));
            assert.strictEqual((c.inputs.stdin as string).match(/'uuid': /g)!.length, cfg.hostsPerSushy, "its whole share, enrolled or not");
            assert.strictEqual(typeof c.rawInputs.stdin, "string");
            const rawEnv = c.rawInputs.environment as Record<string, unknown>;
            assert.ok(isSecretWrapper(rawEnv) || isSecretWrapper(rawEnv.LAB_HTPASSWD), "the htpasswd is a secret");
            assert.match(c.inputs.environment.LAB_HTPASSWD, /^admin:\$2a\$10\$/);
            assert.strictEqual(c.inputs.logging, "stderr");
            assert.deepStrictEqual(c.inputs.triggers, [TWO_HOSTS[i % 2].url, `scale1000-sushy-${i}`]);
        }
        assert.strictEqual(sushy!.bmcUsername, BMC_USERNAME);
        assert.strictEqual(await pulumi.isSecret(sushy!.bmcPassword), true);
        assert.ok(run.generatedSecrets.includes(await valueOf(sushy!.bmcPassword)));
        assert.ok(run.generatedSecrets.includes(containers[0].inputs.environment.LAB_HTPASSWD.slice("admin:".length).trim()), "htpasswd carries the generated bcrypt hash");
        assert.deepStrictEqual(sushy!.endpoints, buildInventory(cfg).slice(0, 20).map((h) => h.sushyEndpoint));
        assertNoSecretInPlainText(run);
    });

    it("starts container i only after fake-ipa i mod F, and after nothing else of the fleet", async () => {
        const { run } = await runFleet("dev", { nodes: 10, sushyContainers: 5, fakeIpaContainers: 2 });
        const fakeIpa = own(run, "metal3-scale-lab:fleet:FakeIpa").children;
        const sushy = own(run, "metal3-scale-lab:fleet:SushyFleet").children.filter((r) => r.type === COMMAND);
        const fleet = new Set([...fakeIpa, ...sushy].map((r) => r.urn));
        sushy.forEach((c, i) => {
            assert.deepStrictEqual(c.dependencies.filter((d) => fleet.has(d)), [fakeIpa[i % 2].urn], c.name);
        });
    });

    it("refuses a fake-ipa fleet of another size", () => {
        const cfg = labConfig("dev", { nodes: 10, sushyContainers: 4, fakeIpaContainers: 2 });
        assert.throws(() => new SushyFleet("s", { config: cfg, hosts: buildInventory(cfg), image: "i", fakeIpa: { containers: [] } }), /needs the 2 fake-ipa containers, got 0/);
    });

    it("adding container S+1 adds exactly its resources", async () => {
        const small = await runFleet("dev", { sushyContainers: 2, fakeIpaContainers: 1 });
        const large = await runFleet("dev", { sushyContainers: 3, fakeIpaContainers: 1 });
        const added = [...urns(large.run)].filter((u) => !urns(small.run).has(u));
        assert.deepStrictEqual([...urns(small.run)].filter((u) => !urns(large.run).has(u)), []);
        assert.deepStrictEqual(added.map((u) => u.slice(u.lastIndexOf("::") + 2)), ["sushy-sushy-002"]);
        // No existing container is replaced (its script and triggers stay); only sushy conf.py
        // files change, because a set sushyContainers is one block all hosts are striped over, and that updates in place.
        const same = (name: string, keys: string[]) => {
            const before = small.run.resources.find((r) => r.name === name)!;
            const after = large.run.resources.find((r) => r.name === name)!;
            assert.deepStrictEqual(keys.map((k) => after.inputs[k]), keys.map((k) => before.inputs[k]), name);
        };
        same("sushy-sushy-000", ["create", "delete", "triggers"]);
        same("fake-ipa-fake-ipa-000", ["create", "delete", "triggers", "stdin"]);
    });
});

describe("FakeIpa component (mocks)", () => {
    it("declares fakeIpaContainers container commands with conf.py and the CA, spread over the docker hosts", async function () {
        const { cfg, run, fakeIpa } = await runFleet("scale1000", { dockerHosts: TWO_HOSTS });
        const { component, children } = own(run, "metal3-scale-lab:fleet:FakeIpa");
        assert.strictEqual(children.length, cfg.fakeIpaContainers);
        const parsed = execPython(this, children.map((c) => c.inputs.stdin));
        for (const [j, c] of children.entries()) {
            assert.strictEqual(c.parent, component.urn);
            assert.strictEqual(c.type, COMMAND);
            assert.strictEqual(c.name, `fake-ipa-fake-ipa-${String(j).padStart(3, "0")}`);
            assert.match(c.inputs.create, new RegExp(`^name='scale1000-fake-ipa-${j}'$`, "m"));
            assert.ok(c.inputs.create.includes(`'-e' 'CONFIG=${FAKE_IPA_CONF}'`));
            assert.ok(c.inputs.create.includes(`cat >"$tmp"/'app/conf.py'`));
            assert.ok(c.inputs.create.includes(`printf '%s' "$LAB_IRONIC_CA" >"$tmp"/'root/cert/ironic-ca.crt'`));
            assert.strictEqual(c.inputs.environment.DOCKER_HOST, TWO_HOSTS[j % 2].url);
            assert.strictEqual(c.inputs.environment.LAB_IRONIC_CA, CA);
            const ns = parsed[j];
            assert.strictEqual(ns.FAKE_IPA_ADVERTISE_ADDRESS_IP, TWO_HOSTS[j % 2].address);
            assert.strictEqual(ns.FAKE_IPA_ADVERTISE_ADDRESS_PORT, 9900 + j);
            assert.strictEqual(ns.SUSHY_FAKE_IPA_LISTEN_PORT, 9900 + j);
            // On the lab host the conductor's address; on the remote host the lab host's proxy.
            const api = j % 2 === 0 ? "https://172.22.0.2:6385" : REMOTE_API;
            assert.strictEqual(ns.FAKE_IPA_API_URL, api);
            assert.strictEqual(ns.FAKE_IPA_INSPECTION_CALLBACK_URL, `${api}/v1/continue_inspection`);
            assert.strictEqual(ns.FAKE_IPA_CAFILE, FAKE_IPA_CA_FILE);
            assert.deepStrictEqual([ns.FAKE_IPA_MIN_BOOT_TIME, ns.FAKE_IPA_MAX_BOOT_TIME], [180, 240]);
            assert.ok(!Object.keys(ns).some((k) => k.startsWith("FAKE_IPA_REDFISH")), "no BMC: fake-ipa's power_off never reaches it");
        }
        assert.deepStrictEqual(fakeIpa!.endpoints, fakeIpaPlan(cfg).map((p) => p.url));
    });

    it("adding container F+1 adds exactly its resources", async () => {
        const small = await runFleet("dev", { nodes: 10, sushyContainers: 4, fakeIpaContainers: 2 });
        const large = await runFleet("dev", { nodes: 10, sushyContainers: 4, fakeIpaContainers: 3 });
        const added = [...urns(large.run)].filter((u) => !urns(small.run).has(u));
        assert.deepStrictEqual([...urns(small.run)].filter((u) => !urns(large.run).has(u)), []);
        assert.deepStrictEqual(added.map((u) => u.slice(u.lastIndexOf("::") + 2)), ["fake-ipa-fake-ipa-002"]);
    });
});
