// The lab's plain-HTTP image registry on the lab host, with every upstream
// image mirrored into it (the study's handle-images.sh).
//
// Mirroring is one idempotent local.Command per image (docker pull, tag, push)
// run against the registry host's daemon, pushing to 127.0.0.1:<port>. Docker
// daemons treat 127.0.0.0/8 as an insecure registry out of the box, so no
// daemon.json change is needed; the registry is the same one consumers reach at
// <provisioningHostIp>:<port> (minikube gets --insecure-registry for it). The
// docker provider's RegistryImage is not used: after the push it reads the
// digest with its own HTTP client from the machine running Pulumi, over HTTPS
// unless a per-resource authConfig names an http:// address, and this SDK
// types that authConfig's username and password as required (we have none).
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { LabConfig } from "../config/types";
import { labLabels } from "../fleet/containers";
import { childName, typeToken } from "../naming";
import { shQuote, shScript } from "../shell";
import { MirrorEntry, MirroredImageName, mirrorPlan } from "./images";

/** Where the registry keeps its data inside the container (registry:2 default). */
export const REGISTRY_DATA_DIR = "/var/lib/registry";

export function registryAddress(cfg: Pick<LabConfig, "network" | "ports">): string {
    return `${cfg.network.provisioningHostIp}:${cfg.ports.registry}`;
}

/** The address the registry host's own daemon pushes to. */
export function pushAddress(cfg: Pick<LabConfig, "ports">): string {
    return `127.0.0.1:${cfg.ports.registry}`;
}

/** Pull, tag and push: each step is a no-op when already done, so re-running is safe. */
export function mirrorCreateCommand(entry: MirrorEntry): string {
    return shScript([
        `docker pull -q ${shQuote(entry.upstream)} >/dev/null`,
        `docker tag ${shQuote(entry.upstream)} ${shQuote(entry.pushRef)}`,
        `docker push -q ${shQuote(entry.pushRef)}`,
    ]);
}

/** Drops the local tag; the registry's copy goes with its volume. */
export function mirrorDeleteCommand(entry: MirrorEntry): string {
    return shScript([`if docker image inspect ${shQuote(entry.pushRef)} >/dev/null 2>&1; then docker image rm ${shQuote(entry.pushRef)} >/dev/null; fi`]);
}

export function registryHealthcheck(port: number): docker.types.input.ContainerHealthcheck {
    // registry:2 is Alpine-based: busybox wget is there, curl is not.
    return { tests: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${port}/v2/`], interval: "5s", timeout: "3s", startPeriod: "5s", retries: 6 };
}

export interface LocalRegistryArgs {
    readonly config: LabConfig;
    /** Provider of the lab host's docker daemon (where provisioningHostIp lives). */
    readonly dockerProvider: docker.Provider;
    /** URL of that same daemon for the docker CLI; default config.dockerHosts[0].url. */
    readonly dockerHostUrl?: string;
}

export class LocalRegistry extends pulumi.ComponentResource {
    /** `<provisioningHostIp>:<port>`, what minikube's --insecure-registry needs. */
    public readonly address: string;
    /** Local reference of every mirrored image, known only once that image is pushed. */
    public readonly images: Record<MirroredImageName, pulumi.Output<string>>;
    /**
     * The same images as the registry host's own docker daemon pulls them
     * (127.0.0.1:<port>, plain HTTP allowed without daemon.json changes); other
     * daemons need `insecure-registries` for `images`, or the upstream refs.
     */
    public readonly loopbackImages: Record<MirroredImageName, pulumi.Output<string>>;
    public readonly container: docker.Container;

    constructor(name: string, args: LocalRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("registry", "LocalRegistry"), name, {}, opts);
        const cfg = args.config;
        const port = cfg.ports.registry;
        const dockerOpts = { parent: this, provider: args.dockerProvider };
        const dockerHostUrl = args.dockerHostUrl ?? cfg.dockerHosts[0].url;
        const dockerHost = cfg.dockerHosts.find((h) => h.url === dockerHostUrl) ?? { name: "lab-host", url: dockerHostUrl, address: cfg.network.provisioningHostIp };
        this.address = registryAddress(cfg);

        const volume = new docker.Volume(childName(name, "data"), { name: `${cfg.slug}-registry-data` }, dockerOpts);
        this.container = new docker.Container(
            childName(name, "registry"),
            {
                name: `${cfg.slug}-registry`,
                image: cfg.images.registry,
                // Host network: reachable on the provisioning bridge without docker-proxy/NAT rules.
                networkMode: "host",
                envs: [`REGISTRY_HTTP_ADDR=0.0.0.0:${port}`],
                volumes: [{ volumeName: volume.name, containerPath: REGISTRY_DATA_DIR }],
                restart: "unless-stopped",
                labels: labLabels(cfg, "registry", dockerHost),
                healthcheck: registryHealthcheck(port),
                wait: true,
                waitTimeout: 120,
            },
            dockerOpts,
        );

        const environment = { DOCKER_HOST: dockerHostUrl };
        const images = {} as Record<MirroredImageName, pulumi.Output<string>>;
        const loopbackImages = {} as Record<MirroredImageName, pulumi.Output<string>>;
        for (const entry of mirrorPlan(cfg.images, pushAddress(cfg), this.address)) {
            const mirror = new command.local.Command(
                childName(name, "mirror", entry.name),
                {
                    create: mirrorCreateCommand(entry),
                    delete: mirrorDeleteCommand(entry),
                    environment,
                    // A new registry container (or upstream image) means pushing again.
                    triggers: [entry.upstream, entry.pushRef, this.container.id],
                },
                { parent: this, dependsOn: [this.container], deleteBeforeReplace: true },
            );
            // Derived from the command's output, so consumers wait for this image's push.
            images[entry.name] = mirror.stdout.apply(() => entry.localRef);
            loopbackImages[entry.name] = mirror.stdout.apply(() => entry.pushRef);
        }
        this.images = images;
        this.loopbackImages = loopbackImages;
        this.registerOutputs({ address: this.address, images: this.images, loopbackImages: this.loopbackImages });
    }
}
