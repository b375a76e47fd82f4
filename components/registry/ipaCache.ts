// The IPA kernel/ramdisk (and in capi mode the placeholder node image), cached
// on the lab host and served over HTTP at ipaImageUrls(cfg), the way
// metal3-dev-env keeps them in IRONIC_DATA_DIR and serves them from its
// httpd-infra container.
//
// ironic-ipa-downloader runs once against IPA_CACHE_DIR (bind-mounted as its
// SHARED_DIR). The directory lives on the lab host, outside minikube's tmpfs,
// and `pulumi destroy` deliberately keeps it: a rebuilt lab finds both files
// and downloads nothing. Remove it with `sudo rm -rf /var/lib/metal3-scale-lab/ipa-cache`
// to fetch a newer IPA on the next `pulumi up`.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { DockerHostConfig, LabConfig } from "../config/types";
import { ContainerSpec, labContainer } from "../fleet/containerCommand";
import { labDockerHost, labLabels, stackLabel } from "../fleet/containers";
import { childName, typeToken } from "../naming";
import { shQuote } from "../shell";
import { imageCacheHost, IPA_KERNEL, IPA_RAMDISK, ipaImageUrls, IpaImageUrls, NODE_IMAGE } from "./ipaImages";

/** On the lab host; kept by `pulumi destroy`, shared by every stack on the host. */
export const IPA_CACHE_DIR = "/var/lib/metal3-scale-lab/ipa-cache";
/** get-resource.sh's default SHARED_DIR; it writes <SHARED_DIR>/html/images. */
export const DOWNLOADER_SHARED_DIR = "/shared";
/** The ironic image installs python3.12 (ironic-image prepare-image.sh). */
export const SERVER_PYTHON = "python3.12";
/** Bound on the server's start, in seconds (the files exist by then). */
export const IPA_SERVER_WAIT_SECONDS = 60;

type Inputs = Pick<LabConfig, "project" | "stack" | "slug" | "mode" | "network" | "ports" | "dockerHosts" | "managementCluster">;

/**
 * The downloader: get-resource.sh unless both files are already cached. A
 * second get-resource.sh run over its own cache is not a no-op (it asks
 * upstream again and, with no CACHEURL, fails moving a headers file it never
 * wrote), and "rebuilt labs download nothing" is the point of the cache.
 */
export function downloaderSpec(cfg: Inputs, image: string, host: DockerHostConfig, cacheDir = IPA_CACHE_DIR): ContainerSpec {
    const images = `${DOWNLOADER_SHARED_DIR}/html/images`;
    const check = [IPA_KERNEL, IPA_RAMDISK].map((f) => `[ -s ${images}/${f} ]`).join(" && ");
    return {
        name: `${cfg.slug}-ipa-downloader`,
        image,
        labels: labLabels(cfg, "ipa-downloader", host),
        ownerLabel: stackLabel(cfg),
        mounts: [`${cacheDir}:${DOWNLOADER_SHARED_DIR}`],
        // The image's ENTRYPOINT is get-resource.sh in shell form: replace it to check the cache first.
        entrypoint: "/bin/sh",
        args: ["-c", `if ${check}; then echo "IPA images already cached"; else exec /usr/local/bin/get-resource.sh; fi`],
        run: { kind: "once" },
    };
}

/**
 * capi mode: the placeholder node image and its `sha256sum` file, written once
 * into the cache (the ironic image has coreutils); kept like the IPA files.
 */
export function nodeImageSpec(cfg: Inputs, image: string, host: DockerHostConfig, cacheDir = IPA_CACHE_DIR): ContainerSpec {
    const dir = `${DOWNLOADER_SHARED_DIR}/html/images`;
    const file = NODE_IMAGE.file;
    const script = [
        `mkdir -p ${dir} && cd ${dir}`,
        `[ -s ${file} ] || head -c ${NODE_IMAGE.bytes} /dev/zero > ${file}`,
        `[ -s ${file}.${NODE_IMAGE.checksumType}sum ] || ${NODE_IMAGE.checksumType}sum ${file} > ${file}.${NODE_IMAGE.checksumType}sum`,
    ].join(" && ");
    return {
        name: `${cfg.slug}-node-image`,
        image,
        labels: labLabels(cfg, "node-image", host),
        ownerLabel: stackLabel(cfg),
        mounts: [`${cacheDir}:${DOWNLOADER_SHARED_DIR}`],
        entrypoint: "/bin/sh",
        args: ["-c", script],
        run: { kind: "once" },
    };
}

/** Health: every served file answers a HEAD at the URLs everyone else is given. */
export function serverHealthCmd(urls: IpaImageUrls, extra: readonly string[] = []): string {
    const files = [urls.kernel, urls.ramdisk, ...extra].map((f) => JSON.stringify(f)).join(", ");
    const program = `import urllib.request as u\nfor f in (${files},):\n    u.urlopen(u.Request(f, method="HEAD"), timeout=2).close()`;
    return `${SERVER_PYTHON} -c ${shQuote(program)}`;
}

/** The server: python's http.server over <cache>/html, on imageCacheHost:imageCache only. */
export function serverSpec(cfg: Inputs, image: string, host: DockerHostConfig, cacheDir = IPA_CACHE_DIR): ContainerSpec {
    const urls = ipaImageUrls(cfg);
    return {
        name: `${cfg.slug}-ipa-server`,
        image,
        labels: labLabels(cfg, "ipa-server", host),
        ownerLabel: stackLabel(cfg),
        mounts: [`${cacheDir}:${DOWNLOADER_SHARED_DIR}:ro`],
        entrypoint: SERVER_PYTHON,
        args: ["-m", "http.server", String(cfg.ports.imageCache), "--bind", imageCacheHost(cfg), "--directory", `${DOWNLOADER_SHARED_DIR}/html`],
        run: { kind: "service", healthCmd: serverHealthCmd(urls, cfg.mode === "capi" ? [`${urls.base}/${NODE_IMAGE.file}`] : []), waitSeconds: IPA_SERVER_WAIT_SECONDS },
    };
}

export interface IpaCacheArgs {
    readonly config: LabConfig;
    /** ironic-ipa-downloader, as the lab host's daemon pulls it (LocalRegistry.loopbackImages.ipaDownloader). */
    readonly downloaderImage: pulumi.Input<string>;
    /** An image with python3.12: the ironic image (LocalRegistry.loopbackImages.ironic). */
    readonly serverImage: pulumi.Input<string>;
    /** DOCKER_HOST of the lab host's daemon; default config.dockerHosts[0].url. */
    readonly dockerHostUrl?: string;
}

export class IpaCache extends pulumi.ComponentResource {
    /** Where conductors, BMO and node specs fetch the kernel and ramdisk. */
    public readonly urls: IpaImageUrls;
    /** Done once both files are served at `urls`: depend on it before anything boots a host. */
    public readonly server: command.local.Command;

    constructor(name: string, args: IpaCacheArgs, opts?: pulumi.ComponentResourceOptions) {
        super(typeToken("registry", "IpaCache"), name, {}, opts);
        const cfg = args.config;
        const host = labDockerHost(cfg, args.dockerHostUrl);
        const dockerHostUrl = host.url;
        // The image is an Output (known once mirrored): render with a blank one, then put the Output in.
        const spec = (make: typeof downloaderSpec, image: pulumi.Input<string>) => ({ ...make(cfg, "", host), image });
        const download = labContainer(childName(name, "download"), { spec: spec(downloaderSpec, args.downloaderImage), dockerHostUrl }, { parent: this });
        const written = cfg.mode === "capi" ? [labContainer(childName(name, "node-image"), { spec: spec(nodeImageSpec, args.serverImage), dockerHostUrl }, { parent: this })] : [];
        this.server = labContainer(childName(name, "server"), { spec: spec(serverSpec, args.serverImage), dockerHostUrl }, { parent: this, dependsOn: [download, ...written] });
        this.urls = ipaImageUrls(cfg);
        this.registerOutputs({ urls: this.urls });
    }
}
