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
    conductorCertificateSpec,
    conductorDeploymentSpec,
    conductorEnv,
    dnsmasqDeploymentSpec,
    helmImage,
    htpasswdLine,
    mariadbConfigFile,
    mariadbDeploymentSpec,
    mariadbLimitJobSpec,
    mariadbLimitScript,
    mariadbPvcSpec,
    planConductors,
    primaryConductor,
    runsMigrations,
} from "../components/ironic/render";
import { k8sName } from "../components/kube";
import { ipaImageUrls } from "../components/registry/ipaImages";
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
    const ipa = ipaImageUrls(config);

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
        const env = conductorEnv(config, plans[1], "ironic-mariadb.ironic.svc", ipa);
        assert.equal(env.PROVISIONING_IP, "172.22.0.3");
        assert.equal(env.IRONIC_CONDUCTOR_HOST, "172.22.0.3");
        assert.equal(env.IRONIC_ACCESS_PORT, String(DEFAULT_PORTS.ironicApi));
        assert.equal(env.HTTP_PORT, String(DEFAULT_PORTS.httpd));
        assert.equal(env.IRONIC_JSON_RPC_PORT, String(DEFAULT_PORTS.ironicJsonRpc));
        assert.equal(env.NUMWORKERS, String(config.ironic.apiWorkers));
        assert.equal(env.OS_DATABASE__MAX_POOL_SIZE, String(DB_POOL_SIZE));
        for (const other of ["172.22.0.2", "172.22.0.4"]) assert.ok(!Object.values(env).includes(other));
    });

    it("lets only the primary conductor migrate the database", () => {
        assert.deepEqual(plans.map(runsMigrations), [true, false, false]);
        const skip = plans.map((p) => conductorEnv(config, p, "db", ipa).IRONIC_SKIP_DBSYNC);
        assert.deepEqual(skip, ["false", "true", "true"]);
    });

    it("points the conductors at the IPA images the lab host serves, never at their own httpd", () => {
        const env = conductorEnv(config, plans[0], "db", ipa);
        assert.equal(env.DEPLOY_KERNEL_URL, ipa.kernel);
        assert.equal(env.DEPLOY_RAMDISK_URL, ipa.ramdisk);
        assert.ok(!env.DEPLOY_KERNEL_URL.includes(`:${config.ports.httpd}/`), "not the conductor's httpd");
        assert.equal(env.IRONIC_IPA_BASE_URL, `http://${config.network.provisioningHostIp}:${config.ports.imageCache}`);
        // inspector.ipxe appends /images/<file> to IRONIC_IPA_BASE_URL: the same files the node specs name.
        assert.equal(`${env.IRONIC_IPA_BASE_URL}/images/ironic-python-agent.kernel`, ipa.kernel);
    });

    it("renders the conductor pod: three containers on the host network, bound to its IP", () => {
        const spec = conductorDeploymentSpec({
            instance: "ironic",
            plan: plans[2],
            image: "reg/ironic:v1",
            configMapName: "cm",
            authSecretName: "auth",
            credentialsSecretName: "creds",
            dbSecretName: "db",
            ports: config.ports,
        }) as any;
        const pod = spec.template.spec;
        assert.equal(pod.hostNetwork, true);
        assert.equal(pod.dnsPolicy, "ClusterFirstWithHostNet");
        assert.equal(spec.strategy.type, "Recreate");
        assert.deepEqual(pod.containers.map((c: any) => c.name), ["ironic", "httpd", "ironic-log-watch"]);
        const ironic = pod.containers[0];
        assert.deepEqual(ironic.readinessProbe.httpGet, { host: "172.22.0.4", port: 6385, path: "/", scheme: "HTTPS" });
        assert.equal(ironic.env, undefined, "no secret in the environment");
        const mounts = Object.fromEntries(ironic.volumeMounts.map((m: any) => [m.mountPath, m.name]));
        assert.equal(mounts["/certs/ironic"], "cert");
        assert.equal(mounts["/certs/ca/ironic"], "ca");
        assert.equal(mounts["/auth/ironic"], "htpasswd");
        const volume = (name: string) => pod.volumes.find((v: any) => v.name === name);
        assert.equal(volume(mounts["/auth/ironic-rpc"]).secret.secretName, "creds");
        assert.equal(volume(mounts["/auth/mariadb"]).secret.secretName, "db");
        // No IPA cache on the node: the lab host serves the images.
        assert.ok(pod.volumes.every((v: any) => v.hostPath === undefined));
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

    const mariadb = () => mariadbDeploymentSpec({ instance: "ironic", image: "reg/mariadb:v1", dbSecretName: "db", configMapName: "my-cnf", pvcName: "data" }) as any;

    it("renders MariaDB as uid 27 with credentials as files, its data on a claim and its limit from the ConfigMap", () => {
        const spec = mariadb();
        const pod = spec.template.spec;
        assert.equal(spec.strategy.type, "Recreate", "one pod at a time on a ReadWriteOnce claim");
        assert.deepEqual([pod.securityContext.runAsUser, pod.securityContext.runAsGroup, pod.securityContext.fsGroup], [27, 27, 27]);
        const c = pod.containers[0];
        const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
        assert.equal(env.MARIADB_HOST, "%");
        for (const gone of ["MARIADB_PASSWORD", "MARIADB_USER", "MARIADB_MAX_CONNECTIONS"]) assert.equal(env[gone], undefined, gone);
        const mounts = Object.fromEntries(c.volumeMounts.map((m: any) => [m.mountPath, m.name]));
        const volume = (name: string) => pod.volumes.find((v: any) => v.name === name);
        assert.deepEqual(volume(mounts["/var/lib/mysql"]).persistentVolumeClaim, { claimName: "data" });
        assert.equal(volume(mounts["/auth/mariadb"]).secret.secretName, "db");
        assert.equal(volume(mounts[env.MYSQL_HOME]).configMap.name, "my-cnf");
        assert.ok(c.readinessProbe.exec.command.join(" ").includes("mysqladmin status"));
        assert.equal(c.livenessProbe.tcpSocket.port, 3306);
    });

    it("keeps MariaDB's pod template free of anything sized by the conductor count", () => {
        const text = JSON.stringify(mariadb());
        assert.ok(!/max.?connections/i.test(text), text);
        assert.equal(mariadbConfigFile(256), "[mysqld]\nmax_connections = 256\n");
        assert.throws(() => mariadbConfigFile(0));
    });

    it("asks the cluster's default StorageClass for MariaDB's data", () => {
        const pvc = mariadbPvcSpec() as any;
        assert.deepEqual(pvc.accessModes, ["ReadWriteOnce"]);
        assert.equal(pvc.storageClassName, undefined);
        assert.ok(pvc.resources.requests.storage);
    });

    it("renders the limit Job: the value in its spec, credentials from files, reaching MariaDB by its Service", () => {
        const job = (n: number) => mariadbLimitJobSpec({ instance: "ironic", image: "reg/mariadb:v1", dbSecretName: "db", host: "ironic-mariadb.ironic.svc", maxConnections: n }) as any;
        const pod = job(256).template.spec;
        assert.equal(pod.securityContext.runAsUser, 27);
        const script = pod.containers[0].command.join(" ");
        assert.ok(script.includes("SET GLOBAL max_connections = 256"));
        assert.ok(script.includes("--host='ironic-mariadb.ironic.svc'"));
        assert.ok(script.includes("/auth/mariadb/password") && !script.includes("MARIADB_PASSWORD"));
        assert.equal(pod.volumes[0].secret.secretName, "db");
        assert.notDeepEqual(job(256), job(512), "a new limit is a new Job spec (Pulumi re-runs it)");
        assert.throws(() => mariadbLimitScript("h", 3306, 1.5));
    });

    it("points dnsmasq at the primary conductor, with no IPA download and no node cache", () => {
        const spec = dnsmasqDeploymentSpec({ instance: "ironic", ironicImage: "reg/ironic:v1", primary: plans[0], config }) as any;
        const pod = spec.template.spec;
        assert.equal(pod.initContainers, undefined);
        assert.ok(pod.volumes.every((v: any) => v.hostPath === undefined));
        const env = Object.fromEntries(pod.containers[0].env.map((e: any) => [e.name, e.value]));
        assert.equal(env.PROVISIONING_IP, "172.22.0.2");
        assert.equal(env.DHCP_RANGE, config.network.dhcpRange);
    });

    it("renders htpasswd lines", () => {
        assert.equal(htpasswdLine("ironic", "$2a$10$abc"), "ironic:$2a$10$abc\n");
        assert.throws(() => htpasswdLine("a:b", "x"));
    });
});
