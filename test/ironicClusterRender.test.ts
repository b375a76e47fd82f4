// Pure render and sizing functions of the Ironic cluster (no engine).
import { strict as assert } from "node:assert";
import { DEFAULT_PORTS } from "../components/config/defaults";
import {
    CONDUCTOR_BLOCK,
    DB_MAX_OVERFLOW,
    DB_POOL_SIZE,
    MARIADB_MIN_CONNECTIONS,
    conductorCapacity,
    mariadbMaxConnections,
} from "../components/ironic/sizing";
import { imageParts, minorOf, releaseVersion } from "../components/registry/images";
import {
    certManagerValues,
    clientAuthConfig,
    conductorCertificateSpec,
    conductorDeploymentSpec,
    conductorEnv,
    dnsmasqDeploymentSpec,
    helmImage,
    htpasswdLine,
    ipaUrls,
    k8sName,
    mariadbDeploymentSpec,
    planConductors,
    primaryConductor,
} from "../components/ironic/render";
import { labConfig } from "./support/clusterFixtures";

describe("Ironic sizing", () => {
    it("bounds MariaDB connections by what the conductors can open, in blocks of conductors", () => {
        const perConductor = (2 + 1) * (DB_POOL_SIZE + DB_MAX_OVERFLOW);
        assert.equal(mariadbMaxConnections(2, 2), CONDUCTOR_BLOCK * perConductor + 16);
        assert.equal(mariadbMaxConnections(15, 2), 16 * perConductor + 16);
        assert.ok(mariadbMaxConnections(15, 2) > 300, "more than the study's hand-picked 300 for 15 conductors");
        assert.ok(mariadbMaxConnections(1, 1) >= MARIADB_MIN_CONNECTIONS);
    });

    it("changes only when the conductor count crosses a block", () => {
        for (let n = 1; n <= 40; n++) {
            assert.equal(conductorCapacity(n) % CONDUCTOR_BLOCK, 0);
            assert.ok(conductorCapacity(n) >= n && conductorCapacity(n) - n < CONDUCTOR_BLOCK);
            const same = n % CONDUCTOR_BLOCK !== 0;
            assert.equal(mariadbMaxConnections(n + 1, 2) === mariadbMaxConnections(n, 2), same, `n=${n}`);
        }
        assert.throws(() => mariadbMaxConnections(0, 2));
        assert.throws(() => mariadbMaxConnections(2, 0));
    });
});

describe("image references", () => {
    it("splits registry ports, tags and digests", () => {
        assert.deepEqual(imageParts("172.22.0.1:5000/localimages/ironic:v26.0.1"), {
            repository: "172.22.0.1:5000/localimages/ironic",
            name: "ironic",
            prefix: "172.22.0.1:5000/localimages",
            tag: "v26.0.1",
            digest: undefined,
        });
        const digest = `sha256:${"a".repeat(64)}`;
        assert.equal(imageParts(`172.22.0.1:5000/x/y@${digest}`).digest, digest);
        assert.equal(imageParts("172.22.0.1:5000/x/y").tag, undefined);
        assert.equal(releaseVersion("quay.io/jetstack/cert-manager-controller:v1.16.2", "cm"), "v1.16.2");
        assert.throws(() => releaseVersion("quay.io/metal3-io/mariadb:latest", "db"), /release tag/);
        assert.equal(minorOf("v0.9.0"), "v0.9");
    });

    it("turns local refs into cert-manager chart values, CRDs on and the unmirrored startupapicheck off", () => {
        assert.deepEqual(helmImage("172.22.0.1:5000/localimages/cert-manager-webhook:v1.16.2"), { repository: "172.22.0.1:5000/localimages/cert-manager-webhook", tag: "v1.16.2" });
        const values = certManagerValues({ controller: "r:5000/l/c:v1", webhook: "r:5000/l/w:v1", cainjector: "r:5000/l/i:v1" }) as any;
        assert.equal(values.image.repository, "r:5000/l/c");
        assert.equal(values.webhook.image.repository, "r:5000/l/w");
        assert.equal(values.cainjector.image.repository, "r:5000/l/i");
        assert.deepEqual(values.crds, { enabled: true, keep: false });
        assert.deepEqual(values.startupapicheck, { enabled: false });
    });
});

describe("Ironic rendering", () => {
    const config = labConfig("dev", { conductors: 3 });
    const plans = planConductors("ironic", config);

    it("plans conductors by index from the allocated IPs", () => {
        assert.deepEqual(
            plans.map((p) => [p.name, p.ip, p.endpoint, p.tlsSecretName]),
            [
                ["ironic-conductor-000", "172.22.0.2", "https://172.22.0.2:6385", "ironic-conductor-000-tls"],
                ["ironic-conductor-001", "172.22.0.3", "https://172.22.0.3:6385", "ironic-conductor-001-tls"],
                ["ironic-conductor-002", "172.22.0.4", "https://172.22.0.4:6385", "ironic-conductor-002-tls"],
            ],
        );
        assert.equal(primaryConductor(plans).index, 0);
        // Adding a conductor keeps every existing plan identical.
        assert.deepEqual(planConductors("ironic", labConfig("dev", { conductors: 4 })).slice(0, 3), plans);
        assert.throws(() => k8sName("Ironic_Conductor"));
    });

    it("renders a conductor's environment from its own IP only", () => {
        const env = conductorEnv(config, plans[1], "ironic-mariadb.ironic.svc");
        assert.equal(env.PROVISIONING_IP, "172.22.0.3");
        assert.equal(env.IRONIC_CONDUCTOR_HOST, "172.22.0.3");
        assert.equal(env.IRONIC_ACCESS_PORT, String(DEFAULT_PORTS.ironicApi));
        assert.equal(env.HTTP_PORT, String(DEFAULT_PORTS.httpd));
        assert.equal(env.OS_JSON_RPC__PORT, String(DEFAULT_PORTS.ironicJsonRpc));
        assert.equal(env.NUMWORKERS, String(config.ironic.apiWorkers));
        assert.equal(env.OS_DATABASE__MAX_POOL_SIZE, String(DB_POOL_SIZE));
        assert.equal(env.USE_IRONIC_INSPECTOR, "false");
        assert.equal(env.IRONIC_INSPECTOR_BASE_URL, undefined);
        for (const other of ["172.22.0.2", "172.22.0.4"]) assert.ok(!Object.values(env).includes(other));
        assert.throws(() => conductorEnv({ ...config, ironic: { ...config.ironic, inspector: true } }, plans[1], "db"), /inspector URL/);
    });

    it("renders the conductor pod: three containers on the host network, bound to its IP", () => {
        const spec = conductorDeploymentSpec({
            instance: "ironic",
            plan: plans[2],
            image: "reg/ironic:v1",
            configMapName: "cm",
            authSecretName: "auth",
            dbSecretName: "db",
            ports: config.ports,
            inspector: false,
        }) as any;
        const pod = spec.template.spec;
        assert.equal(pod.hostNetwork, true);
        assert.equal(pod.dnsPolicy, "ClusterFirstWithHostNet");
        assert.equal(spec.strategy.type, "Recreate");
        assert.deepEqual(pod.containers.map((c: any) => c.name), ["ironic", "httpd", "ironic-log-watch"]);
        const ironic = pod.containers[0];
        assert.deepEqual(ironic.readinessProbe.httpGet, { host: "172.22.0.4", port: 6385, path: "/", scheme: "HTTPS" });
        assert.deepEqual(ironic.env, [{ name: "MARIADB_PASSWORD", valueFrom: { secretKeyRef: { name: "db", key: "password" } } }]);
        const mounts = Object.fromEntries(ironic.volumeMounts.map((m: any) => [m.mountPath, m.name]));
        assert.equal(mounts["/certs/ironic"], "cert");
        assert.equal(mounts["/certs/ca/ironic"], "ca");
        assert.equal(mounts["/auth/ironic"], "htpasswd");
        assert.equal(mounts["/auth/ironic-rpc"], "json-rpc-auth");
        const cert = pod.volumes.find((v: any) => v.name === "cert");
        assert.equal(cert.secret.secretName, "ironic-conductor-002-tls");
        assert.equal(spec.selector.matchLabels["metal3-scale-lab/conductor"], "ironic-conductor-002");
    });

    it("issues the certificate for the conductor's IP only", () => {
        const spec = conductorCertificateSpec(plans[0], "ironic-ca") as any;
        assert.deepEqual(spec.ipAddresses, ["172.22.0.2"]);
        assert.equal(spec.secretName, "ironic-conductor-000-tls");
        assert.deepEqual(spec.issuerRef, { name: "ironic-ca", kind: "Issuer", group: "cert-manager.io" });
        assert.ok(spec.usages.includes("server auth") && spec.usages.includes("client auth"));
    });

    it("renders MariaDB with the generated password by reference and the sized limit", () => {
        const spec = mariadbDeploymentSpec({ instance: "ironic", image: "reg/mariadb:v1", dbSecretName: "db", maxConnections: 256 }) as any;
        const c = spec.template.spec.containers[0];
        const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
        assert.equal(env.MARIADB_MAX_CONNECTIONS, "256");
        assert.equal(env.MARIADB_HOST, "%");
        assert.deepEqual(env.MARIADB_PASSWORD, { secretKeyRef: { name: "db", key: "password" } });
        assert.ok(c.readinessProbe.exec.command.join(" ").includes("mysqladmin status"));
        assert.equal(c.livenessProbe.tcpSocket.port, 3306);
    });

    it("points dnsmasq at the primary conductor and downloads IPA once into the node cache", () => {
        const spec = dnsmasqDeploymentSpec({ instance: "ironic", ironicImage: "reg/ironic:v1", ipaDownloaderImage: "reg/ipa:v1", primary: plans[0], config }) as any;
        const pod = spec.template.spec;
        assert.equal(pod.initContainers[0].image, "reg/ipa:v1");
        const env = Object.fromEntries(pod.containers[0].env.map((e: any) => [e.name, e.value]));
        assert.equal(env.PROVISIONING_IP, "172.22.0.2");
        assert.equal(env.DHCP_RANGE, config.network.dhcpRange);
        assert.deepEqual(ipaUrls(plans[0], 6180), {
            kernel: "http://172.22.0.2:6180/images/ironic-python-agent.kernel",
            ramdisk: "http://172.22.0.2:6180/images/ironic-python-agent.initramfs",
        });
    });

    it("renders htpasswd and oslo auth-config sections", () => {
        assert.equal(htpasswdLine("ironic", "$2a$10$abc"), "ironic:$2a$10$abc\n");
        assert.throws(() => htpasswdLine("a:b", "x"));
        assert.equal(clientAuthConfig("json_rpc", "ironic", "s3cr3t"), "[json_rpc]\nauth_type = http_basic\nusername = ironic\npassword = s3cr3t\n");
        assert.throws(() => clientAuthConfig("json_rpc", "ironic", "has$dollar"), /\$/);
    });
});
