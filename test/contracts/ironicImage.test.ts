// Contract: what our conductor and dnsmasq rendering relies on in
// metal3-io/ironic-image at the pinned release v35.0.2 (each fact names the
// upstream file and lines it was read from; "II" = ironic-image@v35.0.2).
import { strict as assert } from "node:assert";
import { DEFAULT_IMAGES } from "../../components/config/defaults";
import {
    conductorDeploymentSpec,
    conductorEnv,
    dnsmasqDeploymentSpec,
    planConductors,
} from "../../components/ironic/render";
import { releaseVersion } from "../../components/registry/images";
import { ipaImageUrls } from "../../components/registry/ipaImages";
import { labConfig } from "../support/clusterFixtures";

const II_RELEASE = "v35.0.2";

/**
 * Every environment variable we render, and where II reads it. A variable
 * missing here is one the v35.0.2 scripts never look at: the test fails.
 */
const READ_BY_II: Record<string, string> = {
    PROVISIONING_IP: "scripts/ironic-common.sh:9,106-124 (wait_for_interface_or_ip)",
    IRONIC_CONDUCTOR_HOST: "scripts/configure-ironic.sh:55; ironic-config/ironic.conf.j2:37",
    LISTEN_ALL_INTERFACES: "scripts/ironic-common.sh:57; ironic.conf.j2:82,207; httpd.conf.j2:2",
    IRONIC_ACCESS_PORT: "scripts/ironic-common.sh:149,187",
    IRONIC_LISTEN_PORT: "scripts/ironic-common.sh:188; ironic.conf.j2:83",
    HTTP_PORT: "scripts/ironic-common.sh:26,147; httpd.conf.j2:3-5; dnsmasq.conf.j2:50",
    NUMWORKERS: "scripts/configure-ironic.sh:37; ironic.conf.j2:88",
    IRONIC_USE_MARIADB: "scripts/ironic-common.sh:39; configure-ironic.sh:22",
    MARIADB_HOST: "scripts/configure-ironic.sh:29-30",
    MARIADB_DATABASE: "scripts/configure-ironic.sh:27,30",
    // oslo.config reads OS_<GROUP>__<OPTION>; configure-ironic.sh:84-86 logs them at start.
    OS_DATABASE__MAX_POOL_SIZE: "oslo.config environment source ([database]max_pool_size); configure-ironic.sh:84-86",
    OS_DATABASE__MAX_OVERFLOW: "oslo.config environment source ([database]max_overflow); configure-ironic.sh:84-86",
    IRONIC_SKIP_DBSYNC: "scripts/runironic:10",
    IRONIC_EXPOSE_JSON_RPC: "scripts/auth-common.sh:14-18; configure-ironic.sh:106",
    IRONIC_JSON_RPC_PORT: "scripts/ironic-common.sh:29; ironic.conf.j2:208",
    RESTART_CONTAINER_CERTIFICATE_UPDATED: "scripts/tls-common.sh:18,111",
    DEPLOY_KERNEL_URL: "scripts/ironic-common.sh:199; ironic.conf.j2:104-107",
    DEPLOY_RAMDISK_URL: "scripts/ironic-common.sh:199; ironic.conf.j2:111-114",
    IRONIC_IPA_BASE_URL: "scripts/ironic-common.sh:152-154; inspector.ipxe.j2:46-47,67-68",
    DHCP_RANGE: "ironic-config/dnsmasq.conf.j2:11-15",
    DNS_PORT: "scripts/rundnsmasq:12; dnsmasq.conf.j2:9",
};

/** Scripts the image copies to /bin (II Dockerfile:126 `COPY ... scripts/ /bin/`); `git ls-tree v35.0.2 scripts`. */
const II_BIN = ["runironic", "runhttpd", "rundnsmasq", "runlogwatch.sh", "ironic-probe.sh", "rundatabase-upgrade", "runonline-data-migrations"].map((s) => `/bin/${s}`);

describe("contract: ironic-image v35.0.2", () => {
    const config = labConfig("dev", { conductors: 3 });
    const plans = planConductors("ironic", config);
    const ipa = ipaImageUrls(config);
    const envs = plans.map((p) => conductorEnv(config, p, "ironic-mariadb.ironic.svc", ipa));
    const pod = (index: number) =>
        (conductorDeploymentSpec({
            instance: "ironic",
            plan: plans[index],
            image: DEFAULT_IMAGES.ironic,
            configMapName: "cm",
            authSecretName: "auth",
            credentialsSecretName: "ironic-credentials",
            dbSecretName: "ironic-mariadb-credentials",
            ports: config.ports,
        }).template as any).spec;
    const container = (name: string, index = 0) => pod(index).containers.find((c: any) => c.name === name);
    const mountsOf = (name: string) => Object.fromEntries(container(name).volumeMounts.map((m: any) => [m.mountPath, pod(0).volumes.find((v: any) => v.name === m.name)]));
    const dnsmasq = (dnsmasqDeploymentSpec({ instance: "ironic", ironicImage: DEFAULT_IMAGES.ironic, primary: plans[0], config }).template as any).spec;

    it("is the release the lab pins", () => {
        assert.equal(releaseVersion(DEFAULT_IMAGES.ironic, "ironic"), II_RELEASE);
    });

    it("renders only environment variables the v35.0.2 scripts and templates read", () => {
        const rendered = new Set([...envs.flatMap(Object.keys), ...dnsmasq.containers[0].env.map((e: any) => e.name)]);
        const unread = [...rendered].filter((name) => !(name in READ_BY_II));
        assert.deepEqual(unread, []);
        // Gone upstream: ironic-inspector (removed in v25, commit 4fe398f0), the oslo JSON-RPC port override
        // (IRONIC_JSON_RPC_PORT since v32), the MARIADB_* secrets in the environment (deprecated in v29).
        for (const gone of ["USE_IRONIC_INSPECTOR", "IRONIC_INSPECTOR_BASE_URL", "OS_JSON_RPC__PORT", "MARIADB_PASSWORD", "MARIADB_USER", "IRONIC_DEFAULT_KERNEL"]) {
            assert.ok(!rendered.has(gone), gone);
        }
        for (const c of pod(0).containers) assert.equal(c.env, undefined, `${c.name}: everything comes from the ConfigMap and mounted files`);
    });

    it("mounts the JSON-RPC client credentials as /auth/ironic-rpc/{username,password}", () => {
        // II scripts/auth-common.sh:51-66: username+password files first, auth-config is deprecated (:59-60),
        // and neither is FATAL (:63-66) when IRONIC_EXPOSE_JSON_RPC=true (configure-ironic.sh:106-108).
        assert.ok(envs.every((e) => e.IRONIC_EXPOSE_JSON_RPC === "true"));
        const rpc = mountsOf("ironic")["/auth/ironic-rpc"];
        assert.equal(rpc.secret.secretName, "ironic-credentials");
        assert.deepEqual(rpc.secret.items.map((i: any) => i.path).sort(), ["password", "username"]);
        // auth-common.sh:22-29: the server side uses /auth/ironic/htpasswd when no /auth/ironic-rpc/htpasswd exists.
        assert.deepEqual(mountsOf("ironic")["/auth/ironic"].secret.items.map((i: any) => i.path), ["htpasswd"]);
        assert.deepEqual(mountsOf("httpd")["/auth/ironic"].secret.items.map((i: any) => i.path), ["htpasswd"]);
    });

    it("mounts the database login as /auth/mariadb/{username,password} and names the server by env", () => {
        // II scripts/auth-common.sh:31-35 reads /auth/mariadb/password unless MARIADB_PASSWORD is set (deprecated),
        // :37-39 reads /auth/mariadb/username unless MARIADB_USER is set; configure-ironic.sh:22-30 builds the URL
        // from them, MARIADB_HOST and MARIADB_DATABASE, and exits when the password is missing.
        const db = mountsOf("ironic")["/auth/mariadb"];
        assert.equal(db.secret.secretName, "ironic-mariadb-credentials");
        assert.deepEqual(db.secret.items.map((i: any) => i.path).sort(), ["password", "username"]);
        for (const env of envs) {
            assert.equal(env.IRONIC_USE_MARIADB, "true");
            assert.equal(env.MARIADB_HOST, "ironic-mariadb.ironic.svc");
            assert.equal(env.MARIADB_USER, undefined, "would shadow the username file");
        }
    });

    it("mounts certificate, key and CA where tls-common.sh reads them, in the API and httpd containers", () => {
        // II scripts/tls-common.sh:9-10 IRONIC_CERT_FILE/KEY_FILE=/certs/ironic/tls.{crt,key}; :25 IRONIC_CACERT_FILE
        // defaults to /certs/ca/ironic/tls.crt (only a missing CA falls back to a copy under /conf, :73-77).
        for (const name of ["ironic", "httpd"]) {
            const m = mountsOf(name);
            assert.deepEqual(m["/certs/ironic"].secret.items.map((i: any) => i.path).sort(), ["tls.crt", "tls.key"]);
            assert.deepEqual(m["/certs/ca/ironic"].secret.items.map((i: any) => i.path), ["tls.crt"]);
        }
    });

    it("mounts nothing over /conf, /data or /etc/ironic: the image owns and writes them", () => {
        // II scripts/ironic-common.sh:12-13,20-34: config is written under /conf, data under /data (mkdir -p at start);
        // prepare-image.sh:104 creates both and configure-nonroot.sh:21-22 gives them to the ironic user.
        // configure-ironic.sh:103 renders from /etc/ironic/ironic.conf.j2, which a mount there would hide.
        for (const c of pod(0).containers) {
            for (const m of c.volumeMounts) assert.doesNotMatch(m.mountPath, /^\/(conf|data|etc\/ironic)(\/|$)/, `${c.name}: ${m.mountPath}`);
        }
    });

    it("runs the schema migration on the primary conductor only", () => {
        // II scripts/runironic:10: dbsync is skipped when IRONIC_SKIP_DBSYNC is exactly "true".
        assert.deepEqual(envs.map((e) => e.IRONIC_SKIP_DBSYNC), ["false", "true", "true"]);
    });

    it("takes the IPA kernel and ramdisk from the lab host, also for the iPXE inspection fallback", () => {
        // II ironic.conf.j2:104-116 deploy_kernel/deploy_ramdisk from DEPLOY_KERNEL_URL/DEPLOY_RAMDISK_URL (v31+);
        // ironic-common.sh:199-203 falls back to /shared/html/images only when both are unset.
        for (const env of envs) assert.deepEqual([env.DEPLOY_KERNEL_URL, env.DEPLOY_RAMDISK_URL], [ipa.kernel, ipa.ramdisk]);
        // inspector.ipxe.j2:67-68 boots IRONIC_IPA_BASE_URL + /images/ironic-python-agent.{kernel,initramfs}
        // (ironic-common.sh:152-154 defaults it to the conductor's own httpd, which no longer holds them).
        assert.equal(`${envs[0].IRONIC_IPA_BASE_URL}/images/ironic-python-agent.kernel`, ipa.kernel);
        assert.equal(`${envs[0].IRONIC_IPA_BASE_URL}/images/ironic-python-agent.initramfs`, ipa.ramdisk);
        // No images directory of ours in httpd's document root (ironic.conf.j2:140 http_root = /shared/html/).
        for (const c of pod(0).containers) assert.ok(c.volumeMounts.every((m: any) => !m.mountPath.startsWith("/shared/html")), c.name);
    });

    it("binds JSON-RPC on the lab's port", () => {
        // II ironic-common.sh:29 (default 6189), ironic.conf.j2:207-208 [json_rpc] host_ip/port.
        for (const env of envs) assert.equal(env.IRONIC_JSON_RPC_PORT, String(config.ports.ironicJsonRpc));
    });

    it("runs commands the image ships, and probes the URL its own probe script checks", () => {
        const commands = [...pod(0).containers, ...dnsmasq.containers].map((c: any) => c.command[0]);
        assert.deepEqual(commands, ["/bin/runironic", "/bin/runhttpd", "/bin/runlogwatch.sh", "/bin/rundnsmasq"]);
        for (const c of commands) assert.ok(II_BIN.includes(c), c);
        // II scripts/ironic-probe.sh:18-19 curls IRONIC_BASE_URL = https://<IRONIC_IP>:<IRONIC_ACCESS_PORT> (ironic-common.sh:149).
        const probe = container("ironic").readinessProbe.httpGet;
        assert.deepEqual(probe, { host: plans[0].ip, port: Number(envs[0].IRONIC_ACCESS_PORT), path: "/", scheme: "HTTPS" });
    });

    it("gives dnsmasq what rundnsmasq and dnsmasq.conf.j2 read, and nothing else", () => {
        // II rundnsmasq:6,14 finds the interface from PROVISIONING_IP (ironic-common.sh:106-124); dnsmasq.conf.j2:11-15
        // DHCP_RANGE, :50 chains iPXE to http://<IRONIC_URL_HOST>:<HTTP_PORT>/boot.ipxe; rundnsmasq:12 DNS_PORT.
        const env = Object.fromEntries(dnsmasq.containers[0].env.map((e: any) => [e.name, e.value]));
        assert.deepEqual(env, { PROVISIONING_IP: plans[0].ip, DHCP_RANGE: config.network.dhcpRange, HTTP_PORT: String(config.ports.httpd), DNS_PORT: "0" });
        assert.equal(dnsmasq.initContainers, undefined, "no ipa-downloader: the lab host serves IPA");
    });
});
