// LocalRegistry: image reference mapping, the mirror plan, and the component under mocks.
import * as docker from "@pulumi/docker";
import * as assert from "assert";
import { spawnSync } from "child_process";
import { ImageName } from "../components/config/types";
import { localImageRef, mirrorPlan, parseImageRef } from "../components/registry/images";
import { LocalRegistry, mirrorCreateCommand, mirrorDeleteCommand } from "../components/registry/localRegistry";
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
        assert.strictEqual(ironic.pushRef, "127.0.0.1:5000/localimages/ironic:v26.0.1");
        assert.strictEqual(ironic.localRef, "172.22.0.1:5000/localimages/ironic:v26.0.1");
        assert.strictEqual(new Set(plan.map((e) => e.localRef)).size, plan.length);
    });

    it("rejects two upstream images that would share a local name", () => {
        const cfg = labConfig("dev");
        const images = { ...cfg.images, bmo: "quay.io/other/ironic:v26.0.1" };
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

describe("LocalRegistry component (mocks)", () => {
    it("runs one registry container with a volume and one mirror command per image", async () => {
        const cfg = labConfig("scale1000");
        let registry!: LocalRegistry;
        let consumerName = "";
        const run = await runProgram(
            () => {
                const provider = new docker.Provider("lab-host", { host: cfg.dockerHosts[0].url });
                registry = new LocalRegistry("registry", { config: cfg, dockerProvider: provider });
                // A consumer of one image must wait for that image's push.
                consumerName = "consumer";
                new docker.Container(consumerName, { image: registry.images.ironic }, { provider });
            },
            { stack: "scale1000", config: stackConfig("scale1000") },
        );
        const component = run.resources.find((r) => r.type === "metal3-scale-lab:registry:LocalRegistry")!;
        const children = run.resources.filter((r) => r.parent === component.urn);
        const count = (type: string) => children.filter((r) => r.type === type).length;
        assert.strictEqual(count("docker:index/volume:Volume"), 1);
        assert.strictEqual(count("docker:index/container:Container"), 1);
        assert.strictEqual(count("command:local:Command"), Object.keys(cfg.images).length - 1);
        assert.strictEqual(children.length, 2 + Object.keys(cfg.images).length - 1);

        const container = children.find((r) => r.type === "docker:index/container:Container")!;
        assert.strictEqual(container.inputs.name, "scale1000-registry");
        assert.strictEqual(container.inputs.image, cfg.images.registry);
        assert.strictEqual(container.inputs.networkMode, "host");
        assert.strictEqual(container.inputs.restart, "unless-stopped");
        assert.deepStrictEqual(container.inputs.envs, ["REGISTRY_HTTP_ADDR=0.0.0.0:5000"]);
        assert.strictEqual(container.inputs.volumes[0].containerPath, "/var/lib/registry");

        const mirrors = children.filter((r) => r.type === "command:local:Command");
        assert.ok(!mirrors.some((m) => m.inputs.create.includes("registry:2.8.3")), "the registry image is not mirrored into itself");
        for (const m of mirrors) {
            assert.ok(m.dependencies.includes(container.urn), `${m.name} waits for the registry`);
            assert.strictEqual(m.inputs.environment.DOCKER_HOST, "unix:///var/run/docker.sock");
        }

        assert.strictEqual(registry.address, "172.22.0.1:5000");
        const ironic = await new Promise<string>((resolve) => registry.images.ironic.apply(resolve));
        assert.strictEqual(ironic, "172.22.0.1:5000/localimages/ironic:v26.0.1");
        assert.strictEqual(await new Promise<string>((resolve) => registry.loopbackImages.fakeIpa.apply(resolve)), "127.0.0.1:5000/localimages/fake-ipa:main");
        const consumer = run.resources.find((r) => r.name === consumerName)!;
        const ironicMirror = mirrors.find((m) => m.name === "registry-mirror-ironic")!;
        assert.ok(consumer.dependencies.includes(ironicMirror.urn), "consumer depends on the push of its image");
        assert.strictEqual(consumer.inputs.image, ironic);
        assert.deepStrictEqual(run.generatedSecrets, []);
        assert.ok(!plainStrings(container.rawInputs).some((s) => s.includes("localimages/registry")));
    });
});
