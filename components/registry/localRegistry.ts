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
import * as pulumi from "@pulumi/pulumi";
import { LabConfig } from "../config/types";
import { labContainer } from "../fleet/containerCommand";
import { labDockerHost, labLabels, stackLabel } from "../fleet/containers";
import { childName, typeToken } from "../naming";
import { shQuote, shScript } from "../shell";
import { MirrorEntry, MirroredImageName, mirrorPlan } from "./images";

/** Where the registry keeps its data inside the container (registry:2 default). */
export const REGISTRY_DATA_DIR = "/var/lib/registry";
/** Bound on the registry's start, in seconds. */
export const REGISTRY_WAIT_SECONDS = 120;

export function registryAddress(cfg: Pick<LabConfig, "network" | "ports">): string {
    return `${cfg.network.provisioningHostIp}:${cfg.ports.registry}`;
}

/** The address the registry host's own daemon pushes to. */
export function pushAddress(cfg: Pick<LabConfig, "ports">): string {
    return `127.0.0.1:${cfg.ports.registry}`;
}

/** What a pull step prints: `lab-pulled=yes` when the lab pulled the image (it was not there before). */
export const PULLED_MARK = "lab-pulled=yes";

/**
 * Pulls `image` unless the daemon has it, remembering in $pulled whether the
 * lab did; an update (same image: a new image replaces the resource) keeps
 * what the previous run recorded. A failed run removes what it pulled, since
 * Pulumi keeps no stdout of a failed create.
 */
function pullLines(image: string): string[] {
    const ref = shQuote(image);
    return [
        `pulled=no`,
        `case "\${PULUMI_COMMAND_STDOUT-}" in *${PULLED_MARK}*) pulled=yes ;; esac`,
        `fresh=no`,
        `if ! docker image inspect ${ref} >/dev/null 2>&1; then`,
        `  trap 'rc=$?; if [ "$rc" -ne 0 ] && [ "$fresh" = yes ]; then docker image rm ${ref} >/dev/null 2>&1 || :; fi; exit "$rc"' EXIT`,
        `  fresh=yes`,
        `  docker pull -q ${ref} >/dev/null`,
        `  pulled=yes`,
        `fi`,
    ];
}

/** Removes `image` when the create that pulled it said so; an image present before the lab stays. */
function unpullLines(image: string): string[] {
    const ref = shQuote(image);
    return [
        `case "\${PULUMI_COMMAND_STDOUT-}" in *${PULLED_MARK}*)`,
        `  if docker image inspect ${ref} >/dev/null 2>&1; then`,
        `    docker image rm ${ref} >/dev/null || echo "could not remove ${image}, which this lab pulled (in use?)" >&2`,
        `  fi ;;`,
        `esac`,
    ];
}

/** Pulls an image for a lab container, printing whether the lab pulled it. */
export function pullCreateCommand(image: string): string {
    return shScript([...pullLines(image), `if [ "$pulled" = yes ]; then echo ${PULLED_MARK}; else echo lab-pulled=no; fi`]);
}

/** Removes the image only if this resource's create pulled it. */
export function pullDeleteCommand(image: string): string {
    return shScript(unpullLines(image));
}

/** Pull (when missing), tag and push: each step is a no-op when already done, so re-running is safe. */
export function mirrorCreateCommand(entry: MirrorEntry): string {
    return shScript([
        ...pullLines(entry.upstream),
        `docker tag ${shQuote(entry.upstream)} ${shQuote(entry.pushRef)}`,
        `docker push -q ${shQuote(entry.pushRef)} >/dev/null`,
        `if [ "$pulled" = yes ]; then echo ${PULLED_MARK}; else echo lab-pulled=no; fi`,
    ]);
}

/** Drops the local tag, and the upstream image when the lab pulled it; the registry's copy goes with its volume. */
export function mirrorDeleteCommand(entry: MirrorEntry): string {
    return shScript([
        `if docker image inspect ${shQuote(entry.pushRef)} >/dev/null 2>&1; then docker image rm ${shQuote(entry.pushRef)} >/dev/null; fi`,
        ...unpullLines(entry.upstream),
    ]);
}

/** registry:2 is Alpine-based: busybox wget is there, curl is not. */
export function registryHealthCmd(port: number): string {
    return `wget -q -O /dev/null http://127.0.0.1:${port}/v2/`;
}

export interface LocalRegistryArgs {
    readonly config: LabConfig;
    /** DOCKER_HOST of the lab host's daemon (where provisioningHostIp lives); default config.dockerHosts[0].url. */
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
    public readonly container: command.local.Command;

    constructor(name: string, args: LocalRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("registry", "LocalRegistry"), name, {}, opts);
        const cfg = args.config;
        const port = cfg.ports.registry;
        const dockerHost = labDockerHost(cfg, args.dockerHostUrl);
        const environment = { DOCKER_HOST: dockerHost.url };
        this.address = registryAddress(cfg);

        // The registry's own image, pulled by a step that remembers whether the lab pulled it.
        const image = new command.local.Command(
            childName(name, "image"),
            { create: pullCreateCommand(cfg.images.registry), delete: pullDeleteCommand(cfg.images.registry), environment, triggers: [cfg.images.registry, dockerHost.url] },
            { parent: this, deleteBeforeReplace: true },
        );
        const volume = `${cfg.slug}-registry-data`;
        this.container = labContainer(
            childName(name, "registry"),
            {
                spec: {
                    name: `${cfg.slug}-registry`,
                    image: image.stdout.apply(() => cfg.images.registry),
                    labels: labLabels(cfg, "registry", dockerHost),
                    ownerLabel: stackLabel(cfg),
                    // Host network: reachable on the provisioning bridge without docker-proxy/NAT rules.
                    env: { REGISTRY_HTTP_ADDR: `0.0.0.0:${port}` },
                    mounts: [`${volume}:${REGISTRY_DATA_DIR}`],
                    volumes: [volume],
                    run: { kind: "service", healthCmd: registryHealthCmd(port), waitSeconds: REGISTRY_WAIT_SECONDS },
                },
                dockerHostUrl: dockerHost.url,
            },
            { parent: this, dependsOn: [image] },
        );

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
                    triggers: [entry.upstream, entry.pushRef, this.container.stdout],
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
