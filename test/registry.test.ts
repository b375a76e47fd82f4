// LocalRegistry and IpaCache: image reference mapping, the mirror plan, the
// pull/mirror scripts run against a fake docker, and the components under mocks.
import * as command from "@pulumi/command";
import * as assert from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ImageName } from "../components/config/types";
import { containerCreateScript } from "../components/fleet/containerCommand";
import { localImageRef, mirrorPlan, parseImageRef } from "../components/registry/images";
import { downloaderSpec, IPA_CACHE_DIR, IpaCache, nodeImageSpec, serverHealthCmd, serverSpec } from "../components/registry/ipaCache";
import { ipaImageUrls, NODE_IMAGE } from "../components/registry/ipaImages";
import { nodeImage } from "../components/clusters/plan";
import { LocalRegistry, mirrorCreateCommand, mirrorDeleteCommand, pullCreateCommand, pullDeleteCommand } from "../components/registry/localRegistry";
import { fakeDocker, FakeDocker } from "./support/fakeDocker";
import { plainStrings, runProgram, stackConfig, labConfig } from "./support/mockProgram";


const DIGEST = "sha256:" + "ab".repeat(32);

describe("registry image references", () => {
    it("splits references like Docker does", () => {
        assert.deepStrictEqual(parseImageRef("quay.io/metal3-io/ironic:v26.0.1"), { registry: "quay.io", repository: "metal3-io/ironic", tag: "v26.0.1", digest: undefined });
        assert.deepStrictEqual(parseImageRef("registry:2"), { registry: undefined, repository: "registry", tag: "2", digest: undefined });
        assert.deepStrictEqual(parseImageRef("localhost:5000/a/b"), { registry: "localhost:5000", repository: "a/b", tag: undefined, digest: undefined });
        assert.deepStrictEqual(parseImageRef(`myreg:5000/team/app:1.0@${DIGEST}`), { registry: "myreg:5000", repository: "team/app", tag: "1.0", digest: DIGEST });
        assert.strictEqual(parseImageRef("library/busybox:1").registry, undefined);
    });

    it("maps an image to <registry>/localimages/<basename>:<tag>", () => {
        assert.strictEqual(localImageRef("quay.io/metal3-io/ironic:v26.0.1", "172.22.0.1:5000"), "172.22.0.1:5000/localimages/ironic:v26.0.1");
        assert.strictEqual(localImageRef("registry.k8s.io/cluster-api/cluster-api-controller:v1.9.4", "10.0.0.1:5555"), "10.0.0.1:5555/localimages/cluster-api-controller:v1.9.4");
        // a registry port is not a tag
        assert.strictEqual(localImageRef("myreg:5000/team/app:2.1", "r:1"), "r:1/localimages/app:2.1");
        assert.throws(() => localImageRef("myreg:5000/team/app", "r:1"), /not pinned/);
    });

    it("tags digest-pinned images by their digest (with or without a tag)", () => {
        assert.strictEqual(localImageRef(`quay.io/metal3-io/ironic@${DIGEST}`, "h:5000"), `h:5000/localimages/ironic:sha256-${"ab".repeat(32)}`);
        assert.strictEqual(localImageRef(`myreg:5000/x/ironic:v1@${DIGEST}`, "h:5000"), `h:5000/localimages/ironic:sha256-${"ab".repeat(32)}`);
        assert.throws(() => localImageRef("quay.io/x/y@sha256:short", "h:5000"), /bad digest/);
    });

    it("plans every image but the registry's own, push to loopback, serve on the provisioning IP", () => {
        const cfg = labConfig("dev");
        const plan = mirrorPlan(cfg.images, "127.0.0.1:5000", "172.22.0.1:5000");
        const names = (Object.keys(cfg.images) as ImageName[]).filter((n) => n !== "registry");
        assert.deepStrictEqual(plan.map((e) => e.name).sort(), [...names].sort());
        const ironic = plan.find((e) => e.name === "ironic")!;
        const tag = parseImageRef(cfg.images.ironic).tag;
        assert.strictEqual(ironic.pushRef, `127.0.0.1:5000/localimages/ironic:${tag}`);
        assert.strictEqual(ironic.localRef, `172.22.0.1:5000/localimages/ironic:${tag}`);
        assert.strictEqual(new Set(plan.map((e) => e.localRef)).size, plan.length);
    });

    it("rejects two upstream images that would share a local name", () => {
        const cfg = labConfig("dev");
        const images = { ...cfg.images, bmo: `quay.io/other/ironic:${parseImageRef(cfg.images.ironic).tag}` };
        assert.throws(() => mirrorPlan(images, "a:1", "b:1"), /images\.ironic .* and images\.bmo .* would both be mirrored/);
    });

    it("generates mirror scripts that parse under sh -n", () => {
        const [entry] = mirrorPlan(labConfig("dev").images, "127.0.0.1:5000", "172.22.0.1:5000");
        for (const script of [mirrorCreateCommand(entry), mirrorDeleteCommand(entry)]) {
            assert.strictEqual(spawnSync("/bin/sh", ["-n", "-c", script]).status, 0);
        }
        assert.match(mirrorCreateCommand(entry), /docker push -q '127\.0\.0\.1:5000\/localimages\//);
    });
});

describe("pull and mirror scripts, run against a fake docker", () => {
    const [entry] = mirrorPlan(labConfig("dev").images, "127.0.0.1:5000", "172.22.0.1:5000");
    let docker: FakeDocker;
    beforeEach(() => (docker = fakeDocker()));
    afterEach(() => docker.cleanup());

    it("records that the lab pulled an image, and destroy removes it with the local tag", () => {
        const up = docker.run(mirrorCreateCommand(entry));
        assert.strictEqual(up.status, 0, up.stderr);
        assert.strictEqual(up.stdout, "lab-pulled=yes\n");
        assert.deepStrictEqual([docker.hasImage(entry.upstream), docker.hasImage(entry.pushRef)], [true, true]);
        const down = docker.run(mirrorDeleteCommand(entry), { PULUMI_COMMAND_STDOUT: up.stdout.trim() });
        assert.strictEqual(down.status, 0, down.stderr);
        assert.deepStrictEqual([docker.hasImage(entry.upstream), docker.hasImage(entry.pushRef)], [false, false]);
    });

    it("leaves an image that was there before the lab", () => {
        docker.addImage(entry.upstream);
        const up = docker.run(mirrorCreateCommand(entry));
        assert.strictEqual(up.stdout, "lab-pulled=no\n");
        assert.ok(!docker.log().some((l) => l.startsWith("docker pull")));
        assert.strictEqual(docker.run(mirrorDeleteCommand(entry), { PULUMI_COMMAND_STDOUT: "lab-pulled=no" }).status, 0);
        assert.deepStrictEqual([docker.hasImage(entry.upstream), docker.hasImage(entry.pushRef)], [true, false]);
    });

    it("keeps the record across an update, which finds the image it pulled earlier", () => {
        docker.addImage(entry.upstream);
        assert.strictEqual(docker.run(mirrorCreateCommand(entry), { PULUMI_COMMAND_STDOUT: "lab-pulled=yes" }).stdout, "lab-pulled=yes\n");
    });

    it("removes what a failed run pulled (Pulumi keeps no stdout of a failed create)", () => {
        const up = docker.run(mirrorCreateCommand(entry), { FAKE_PUSH_FAIL: "1" });
        assert.notStrictEqual(up.status, 0);
        assert.strictEqual(docker.hasImage(entry.upstream), false);
        docker.addImage(entry.upstream);
        docker.run(mirrorCreateCommand(entry), { FAKE_PUSH_FAIL: "1" });
        assert.strictEqual(docker.hasImage(entry.upstream), true, "an image that was there before stays");
    });

    it("pulls the registry's own image the same way", () => {
        const image = labConfig("dev").images.registry;
        const up = docker.run(pullCreateCommand(image));
        assert.deepStrictEqual([up.status, up.stdout], [0, "lab-pulled=yes\n"]);
        assert.strictEqual(docker.run(pullDeleteCommand(image), { PULUMI_COMMAND_STDOUT: "lab-pulled=yes" }).status, 0);
        assert.strictEqual(docker.hasImage(image), false);
        docker.addImage(image);
        assert.strictEqual(docker.run(pullCreateCommand(image)).stdout, "lab-pulled=no\n");
        docker.run(pullDeleteCommand(image), { PULUMI_COMMAND_STDOUT: "lab-pulled=no" });
        assert.strictEqual(docker.hasImage(image), true);
    });
});

const COMMAND = "command:local:Command";

describe("LocalRegistry component (mocks)", () => {
    it("runs one registry container (with its volume) and one mirror command per image", async () => {
        const cfg = labConfig("scale1000");
        let registry!: LocalRegistry;
        const run = await runProgram(
            () => {
                registry = new LocalRegistry("registry", { config: cfg });
                // A consumer of one image must wait for that image's push.
                new command.local.Command("consumer", { create: registry.images.ironic });
            },
            { stack: "scale1000", config: stackConfig("scale1000") },
        );
        const component = run.resources.find((r) => r.type === "metal3-scale-lab:registry:LocalRegistry")!;
        const children = run.resources.filter((r) => r.parent === component.urn);
        assert.ok(children.every((r) => r.type === COMMAND));
        assert.strictEqual(children.length, 2 + Object.keys(cfg.images).length - 1);

        const pull = children.find((r) => r.name === "registry-image")!;
        assert.strictEqual(pull.inputs.create, pullCreateCommand(cfg.images.registry));
        assert.strictEqual(pull.inputs.delete, pullDeleteCommand(cfg.images.registry));
        const container = children.find((r) => r.name === "registry-registry")!;
        assert.ok(container.dependencies.includes(pull.urn), "the container waits for the recorded pull");
        assert.match(container.inputs.create, /^name='scale1000-registry'$/m);
        assert.ok(container.inputs.create.includes(`'--network' 'host'`));
        assert.ok(container.inputs.create.includes(`'-e' 'REGISTRY_HTTP_ADDR=0.0.0.0:5000' '-v' 'scale1000-registry-data:/var/lib/registry'`));
        assert.ok(container.inputs.create.includes(`docker volume create`));
        assert.ok(container.inputs.create.includes(`'${cfg.images.registry}'`));
        assert.ok(container.inputs.delete.includes(`docker volume rm 'scale1000-registry-data'`));
        assert.strictEqual(container.inputs.environment.DOCKER_HOST, "unix:///var/run/docker.sock");

        const mirrors = children.filter((r) => r.name.startsWith("registry-mirror-"));
        assert.strictEqual(mirrors.length, Object.keys(cfg.images).length - 1);
        assert.ok(!mirrors.some((m) => m.inputs.create.includes("registry:2.8.3")), "the registry image is not mirrored into itself");
        for (const m of mirrors) {
            assert.ok(m.dependencies.includes(container.urn), `${m.name} waits for the registry`);
            assert.strictEqual(m.inputs.environment.DOCKER_HOST, "unix:///var/run/docker.sock");
        }

        assert.strictEqual(registry.address, "172.22.0.1:5000");
        const ironic = await new Promise<string>((resolve) => registry.images.ironic.apply(resolve));
        assert.strictEqual(ironic, localImageRef(cfg.images.ironic, "172.22.0.1:5000"));
        assert.strictEqual(await new Promise<string>((resolve) => registry.loopbackImages.fakeIpa.apply(resolve)), localImageRef(cfg.images.fakeIpa, "127.0.0.1:5000"));
        const consumer = run.resources.find((r) => r.name === "consumer")!;
        assert.ok(consumer.dependencies.includes(mirrors.find((m) => m.name === "registry-mirror-ironic")!.urn), "consumer depends on the push of its image");
        assert.strictEqual(consumer.inputs.create, ironic);
        assert.deepStrictEqual(run.generatedSecrets, []);
        assert.ok(!plainStrings(container.rawInputs).some((s) => s.includes("localimages/registry")));
    });
});

describe("IpaCache", () => {
    const cfg = labConfig("dev");
    const host = cfg.dockerHosts[0];

    it("downloads into the kept cache directory unless both files are there", () => {
        const spec = downloaderSpec(cfg, "127.0.0.1:5000/localimages/ironic-ipa-downloader:x", host);
        assert.deepStrictEqual(spec.mounts, [`${IPA_CACHE_DIR}:/shared`]);
        assert.strictEqual(spec.run.kind, "once");
        assert.strictEqual(spec.name, "dev-ipa-downloader");
        // The guard, run by a real sh over a scratch SHARED_DIR.
        const script = spec.args![1].replace(/\/shared\//g, "$SHARED/").replace("/usr/local/bin/get-resource.sh", "echo would-download");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ipa-"));
        try {
            const sh = () => spawnSync(spec.entrypoint!, ["-c", script], { encoding: "utf8", env: { ...process.env, SHARED: dir } }).stdout.trim();
            assert.strictEqual(sh(), "would-download");
            fs.mkdirSync(`${dir}/html/images`, { recursive: true });
            fs.writeFileSync(`${dir}/html/images/ironic-python-agent.kernel`, "k");
            assert.strictEqual(sh(), "would-download", "one file is not enough");
            fs.writeFileSync(`${dir}/html/images/ironic-python-agent.initramfs`, "r");
            assert.strictEqual(sh(), "IPA images already cached");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("serves <cache>/html on provisioningHostIp:imageCache, healthy once both URLs answer", () => {
        const spec = serverSpec(cfg, "img", host);
        const urls = ipaImageUrls(cfg);
        assert.strictEqual(urls.kernel, "http://172.22.0.1:6280/images/ironic-python-agent.kernel");
        assert.deepStrictEqual([spec.entrypoint, ...spec.args!], ["python3.12", "-m", "http.server", "6280", "--bind", "172.22.0.1", "--directory", "/shared/html"]);
        assert.deepStrictEqual(spec.mounts, [`${IPA_CACHE_DIR}:/shared:ro`]);
        assert.strictEqual(spec.run.kind === "service" && spec.run.healthCmd, serverHealthCmd(urls));
        assert.ok(containerCreateScript(spec).includes("'--restart' 'unless-stopped'"));
    });

    it("health command succeeds only when both files are served (real python3 http.server)", async function () {
        this.timeout(30000);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ipa-http-"));
        fs.mkdirSync(path.join(dir, "html/images"), { recursive: true });
        fs.writeFileSync(path.join(dir, "html/images/ironic-python-agent.kernel"), "k");
        const port = 20000 + (process.pid % 20000);
        const server = spawn("python3", ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", path.join(dir, "html")], { stdio: "ignore" });
        try {
            const urls = ipaImageUrls({ ...cfg, network: { ...cfg.network, provisioningHostIp: "127.0.0.1" }, ports: { ...cfg.ports, imageCache: port } });
            const check = () => spawnSync("/bin/sh", ["-c", serverHealthCmd(urls).replace(/^python3\.12/, "python3")]).status;
            for (let i = 0; i < 50 && spawnSync("python3", ["-c", `import socket; socket.create_connection(("127.0.0.1", ${port}), 1)`]).status !== 0; i++) {
                await new Promise((r) => setTimeout(r, 100));
            }
            assert.notStrictEqual(check(), 0, "the ramdisk is missing");
            fs.writeFileSync(path.join(dir, "html/images/ironic-python-agent.initramfs"), "r");
            assert.strictEqual(check(), 0);
        } finally {
            server.kill();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("capi mode writes the placeholder node image and its checksum file once, and the server waits for it", () => {
        const capi = labConfig("dev", { mode: "capi", clusters: 2 });
        const spec = nodeImageSpec(capi, "img", capi.dockerHosts[0]);
        assert.strictEqual(spec.run.kind, "once");
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "node-image-"));
        try {
            const script = spec.args![1].replace(/\/shared\//g, `${dir}/`);
            const images = path.join(dir, "html/images");
            assert.strictEqual(spawnSync(spec.entrypoint!, ["-c", script]).status, 0);
            const file = path.join(images, NODE_IMAGE.file);
            assert.strictEqual(fs.statSync(file).size, NODE_IMAGE.bytes);
            // The checksum file verifies with sha256sum -c, as Ironic reads "<hash>  <file>" lines.
            assert.strictEqual(spawnSync("sha256sum", ["-c", `${NODE_IMAGE.file}.sha256sum`], { cwd: images }).status, 0);
            const mtime = fs.statSync(file).mtimeMs;
            assert.strictEqual(spawnSync(spec.entrypoint!, ["-c", script]).status, 0);
            assert.strictEqual(fs.statSync(file).mtimeMs, mtime, "a second run keeps the cached image");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
        // The URLs the clusters are given are the files written here, and the server is healthy only once they answer.
        const urls = ipaImageUrls(capi);
        assert.strictEqual(nodeImage(capi).url, `${urls.base}/${NODE_IMAGE.file}`);
        assert.strictEqual(nodeImage(capi).checksum, `${urls.base}/${NODE_IMAGE.file}.sha256sum`);
        const server = serverSpec(capi, "img", capi.dockerHosts[0]);
        assert.ok(server.run.kind === "service" && server.run.healthCmd.includes(nodeImage(capi).url));
        assert.ok(!(serverSpec(cfg, "img", host).run as { healthCmd: string }).healthCmd.includes(NODE_IMAGE.file), "no node image outside capi mode");
    });

    it("runs the download, then the server, on the lab host (mocks)", async () => {
        const scfg = labConfig("scale1000");
        let cache!: IpaCache;
        const run = await runProgram(
            () => {
                cache = new IpaCache("ipa", { config: scfg, downloaderImage: "127.0.0.1:5000/localimages/ironic-ipa-downloader:t", serverImage: "127.0.0.1:5000/localimages/ironic:v35.0.2" });
                new command.local.Command("host", { create: "true" }, { dependsOn: [cache.server] });
            },
            { stack: "scale1000", config: stackConfig("scale1000") },
        );
        const component = run.resources.find((r) => r.type === "metal3-scale-lab:registry:IpaCache")!;
        const [download, server] = ["ipa-download", "ipa-server"].map((n) => run.resources.find((r) => r.name === n)!);
        for (const r of [download, server]) {
            assert.strictEqual(r.parent, component.urn);
            assert.strictEqual(r.type, COMMAND);
            assert.strictEqual(r.inputs.environment.DOCKER_HOST, scfg.dockerHosts[0].url);
        }
        assert.strictEqual(download.inputs.create, containerCreateScript(downloaderSpec(scfg, "127.0.0.1:5000/localimages/ironic-ipa-downloader:t", scfg.dockerHosts[0])));
        assert.strictEqual(server.inputs.create, containerCreateScript(serverSpec(scfg, "127.0.0.1:5000/localimages/ironic:v35.0.2", scfg.dockerHosts[0])));
        assert.ok(server.dependencies.includes(download.urn), "the server starts after the download");
        assert.ok(!download.inputs.delete.includes(IPA_CACHE_DIR), "destroy keeps the cache");
        assert.ok(run.resources.find((r) => r.name === "host")!.dependencies.includes(server.urn));
        assert.deepStrictEqual(cache.urls, ipaImageUrls(scfg));
    });
});
