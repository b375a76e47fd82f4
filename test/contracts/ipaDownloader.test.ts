// Contract: what the lab's IPA cache relies on in metal3-io/ironic-ipa-downloader
// at 854d640e (image ironic-ipa-downloader:main_2026-07-02_854d640e..., "DL") and
// in metal3-io/ironic-image@v35.0.2 ("II"), whose python serves the cache.
import { strict as assert } from "node:assert";
import { DEFAULT_IMAGES } from "../../components/config/defaults";
import { containerCreateScript } from "../../components/fleet/containerCommand";
import { parseImageRef, releaseVersion } from "../../components/registry/images";
import { DOWNLOADER_SHARED_DIR, downloaderSpec, SERVER_PYTHON, serverSpec } from "../../components/registry/ipaCache";
import { IPA_KERNEL, IPA_RAMDISK, ipaImageUrls } from "../../components/registry/ipaImages";
import { labConfig } from "../support/mockProgram";

describe("contract: ironic-ipa-downloader 854d640e and the IPA server", () => {
    const cfg = labConfig("dev");
    const host = cfg.dockerHosts[0];
    const download = downloaderSpec(cfg, DEFAULT_IMAGES.ipaDownloader, host);
    const server = serverSpec(cfg, DEFAULT_IMAGES.ironic, host);

    it("is the image built from that commit", () => {
        assert.match(parseImageRef(DEFAULT_IMAGES.ipaDownloader).tag!, /^main_\d{4}-\d{2}-\d{2}_854d640e528685276b0d19b3027d29154733b2f6$/);
    });

    it("mounts the cache as the downloader's SHARED_DIR", () => {
        // DL:get-resource.sh:12 SHARED_DIR defaults to /shared; :51-52 writes <SHARED_DIR>/html/images.
        assert.equal(DOWNLOADER_SHARED_DIR, "/shared");
        assert.ok(download.mounts!.some((m) => m.endsWith(":/shared")));
        assert.equal(download.env, undefined, "no SHARED_DIR override needed");
    });

    it("checks and serves the names get-resource.sh links", () => {
        // DL:get-resource.sh:49 DESTNAME=ironic-python-agent; :92-93 links <DESTNAME>.initramfs and <DESTNAME>.kernel
        // (relative links into <FILENAME>-<ETAG>/, so the server mounts the whole directory).
        assert.equal(IPA_KERNEL, "ironic-python-agent.kernel");
        assert.equal(IPA_RAMDISK, "ironic-python-agent.initramfs");
        assert.match(download.args![1], /\[ -s \/shared\/html\/images\/ironic-python-agent\.kernel \] && \[ -s \/shared\/html\/images\/ironic-python-agent\.initramfs \]/);
        const urls = ipaImageUrls(cfg);
        assert.ok(urls.kernel.endsWith(`/images/${IPA_KERNEL}`) && urls.ramdisk.endsWith(`/images/${IPA_RAMDISK}`));
        assert.deepEqual(server.args!.slice(-2), ["--directory", "/shared/html"]);
    });

    it("runs get-resource.sh from where the image installs it, only when the cache is incomplete", () => {
        // DL:Dockerfile:18-20 COPY ./get-resource.sh /usr/local/bin/get-resource.sh; ENTRYPOINT (shell form) runs it.
        // A re-run over a filled cache is not a no-op (DL:get-resource.sh:64-78 asks upstream again and, without CACHEURL,
        // moves a headers file it never wrote), hence the guard.
        assert.equal(download.entrypoint, "/bin/sh");
        assert.match(download.args![1], /else exec \/usr\/local\/bin\/get-resource\.sh; fi$/);
        assert.equal(download.run.kind, "once");
    });

    it("serves with the ironic image's python3.12", () => {
        // II@v35.0.2:prepare-image.sh:36,42 installs and runs python3.12; II@v35.0.2:Dockerfile sets no USER,
        // so the server reads the root-owned cache.
        assert.equal(releaseVersion(DEFAULT_IMAGES.ironic, "ironic"), "v35.0.2");
        assert.equal(server.entrypoint, SERVER_PYTHON);
        assert.equal(SERVER_PYTHON, "python3.12");
        assert.ok(containerCreateScript(server).includes(`'--entrypoint' 'python3.12'`));
        assert.ok(server.run.kind === "service" && server.run.healthCmd.startsWith("python3.12 -c "));
    });
});
