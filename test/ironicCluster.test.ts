// IronicCluster evaluated under mocks for the dev and scale1000 stacks in every mode.
import { strict as assert } from "node:assert";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ImageName } from "../components/config/types";
import { IronicCluster } from "../components/ironic/ironicCluster";
import { MODES } from "../components/config/types";
import { cidrContains, parseCidr, parseIpv4 } from "../components/network/ipv4";
import { mariadbMaxConnections } from "../components/ironic/sizing";
import { ipaImageUrls } from "../components/registry/ipaImages";
import { RegisteredResource, runProgram, stackConfig } from "./support/mockProgram";
import {
    CERTIFICATE,
    CONFIGMAP,
    DEPLOYMENT,
    HELM_RELEASE,
    ISSUER,
    SERVICE,
    ClusterRun,
    byName,
    component,
    fakeImages,
    labConfig,
    leakedSecrets,
    ofType,
    runClusterSide,
    unwrappedSecretData,
    valueOf,
    workloadImages,
} from "./support/clusterFixtures";

const isIronicChild = (r: RegisteredResource) => r.parent.includes("metal3-scale-lab:ironic:IronicCluster");
const commands = (r: RegisteredResource): string[] =>
    (r.inputs.spec?.template?.spec?.containers ?? []).flatMap((c: { command?: string[] }) => c.command ?? []);
const conductorDeployments = (run: ClusterRun) => ofType(run, DEPLOYMENT).filter((d) => commands(d).includes("/bin/runironic"));
const envOf = (run: ClusterRun, name: string): Record<string, string> => byName(run, CONFIGMAP, name).inputs.data;
const containerEnv = (d: RegisteredResource, container: string): Record<string, unknown> =>
    Object.fromEntries(
        d.inputs.spec.template.spec.containers.find((c: { name: string }) => c.name === container).env.map((e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e.value ?? e.valueFrom]),
    );
const JOB = "kubernetes:batch/v1:Job";
const PVC = "kubernetes:core/v1:PersistentVolumeClaim";

for (const stack of ["dev", "scale1000"]) {
    for (const mode of MODES) {
        describe(`IronicCluster: ${stack} stack, ${mode} mode`, () => {
            let run: ClusterRun;
            before(async () => {
                run = await runClusterSide(stack, { mode });
            });

            it("creates one ConfigMap, Certificate and Deployment per conductor, one MariaDB, one dnsmasq, no inspector", () => {
                const n = run.config.conductors;
                const conductors = conductorDeployments(run);
                assert.equal(conductors.length, n);
                assert.deepEqual(
                    conductors.map((d) => d.name),
                    Array.from({ length: n }, (_, i) => `ironic-conductor-${String(i).padStart(3, "0")}`),
                );
                assert.equal(ofType(run, CONFIGMAP).filter((c) => component(c) === "conductor").length, n);
                assert.equal(ofType(run, CERTIFICATE).length, n);
                assert.equal(ofType(run, ISSUER).length, 1);
                assert.equal(ofType(run, DEPLOYMENT).filter((d) => component(d) === "mariadb").length, 1);
                assert.equal(ofType(run, SERVICE).filter((s) => component(s) === "mariadb").length, 1);
                assert.equal(ofType(run, DEPLOYMENT).filter((d) => commands(d).includes("/bin/rundnsmasq")).length, 1);
                assert.equal(ofType(run, DEPLOYMENT).filter((d) => component(d) === "inspector").length, 0);
                assert.ok(!JSON.stringify(run.resources.filter(isIronicChild).map((r) => r.inputs)).toLowerCase().includes("inspector"), "no ironic-inspector anywhere");
                for (const d of conductors) {
                    const c = d.inputs.spec.template.spec.containers.map((x: { command: string[] }) => x.command[0]);
                    assert.deepEqual(c, ["/bin/runironic", "/bin/runhttpd", "/bin/runlogwatch.sh"]);
                    assert.equal(d.inputs.spec.template.spec.hostNetwork, true);
                }
            });

            it("takes every workload image from the images map it was given", () => {
                const local = new Set(Object.values(run.images));
                const workloads = run.resources.filter((r) => r.type === DEPLOYMENT || r.type === "kubernetes:apps/v1:StatefulSet" || r.type === JOB);
                assert.ok(workloads.length > 0);
                for (const w of workloads) for (const image of workloadImages(w)) assert.ok(local.has(image), `${w.name} runs ${image}`);
                for (const d of conductorDeployments(run)) assert.deepEqual(new Set(workloadImages(d)), new Set([run.images.ironic]));
                assert.deepEqual(workloadImages(byName(run, DEPLOYMENT, "ironic-mariadb")), [run.images.mariadb]);
                assert.deepEqual(workloadImages(byName(run, DEPLOYMENT, "ironic-dnsmasq")), [run.images.ironic]);
                assert.deepEqual(workloadImages(byName(run, JOB, "ironic-mariadb-max-connections")), [run.images.mariadb]);
            });

            it("installs cert-manager at the pinned chart version with images from the local registry", () => {
                const release = byName(run, HELM_RELEASE, "ironic-cert-manager").inputs;
                assert.equal(release.chart, "cert-manager");
                assert.equal(release.version, run.config.images.certManagerController.split(":").pop());
                assert.equal(release.repositoryOpts.repo, "https://charts.jetstack.io");
                const values = release.values;
                const ref = (v: { repository: string; tag: string }) => `${v.repository}:${v.tag}`;
                assert.equal(ref(values.image), run.images.certManagerController);
                assert.equal(ref(values.webhook.image), run.images.certManagerWebhook);
                assert.equal(ref(values.cainjector.image), run.images.certManagerCainjector);
                assert.equal(values.crds.enabled, true);
            });

            it("gives conductors unique IPs inside the provisioning CIDR, each in its own ConfigMap only", () => {
                const cidr = parseCidr(run.config.network.provisioningCidr)!;
                const ips = conductorDeployments(run).map((d) => envOf(run, d.name).PROVISIONING_IP);
                assert.equal(new Set(ips).size, ips.length);
                for (const ip of ips) assert.ok(cidrContains(cidr, parseIpv4(ip)!), `${ip} outside ${run.config.network.provisioningCidr}`);
                assert.deepEqual(ips, run.config.network.conductorIps.slice(0, run.config.conductors));
                for (const d of conductorDeployments(run)) {
                    const env = envOf(run, d.name);
                    const others = ips.filter((ip) => ip !== env.PROVISIONING_IP);
                    const text = JSON.stringify(env);
                    for (const other of others) assert.ok(!text.includes(`"${other}"`), `${d.name} mentions ${other}`);
                    assert.equal(env.IRONIC_CONDUCTOR_HOST, env.PROVISIONING_IP);
                    assert.equal(env.IRONIC_USE_MARIADB, "true");
                    assert.equal(env.IRONIC_EXPOSE_JSON_RPC, "true");
                    assert.equal(env.LISTEN_ALL_INTERFACES, "false");
                    assert.equal(env.MARIADB_HOST, `ironic-mariadb.${run.config.namespaces.ironic}.svc`);
                    assert.equal(env.IRONIC_JSON_RPC_PORT, String(run.config.ports.ironicJsonRpc));
                    assert.equal(env.DEPLOY_KERNEL_URL, ipaImageUrls(run.config).kernel);
                    assert.equal(env.DEPLOY_RAMDISK_URL, ipaImageUrls(run.config).ramdisk);
                    assert.equal(env.IRONIC_SKIP_DBSYNC, d.name === "ironic-conductor-000" ? "false" : "true");
                }
            });

            it("issues each conductor a certificate for exactly its own IP, mounted into that conductor only", () => {
                for (const cert of ofType(run, CERTIFICATE)) {
                    const ip = envOf(run, cert.name).PROVISIONING_IP;
                    assert.deepEqual(cert.inputs.spec.ipAddresses, [ip]);
                    assert.equal(cert.inputs.spec.dnsNames, undefined);
                    assert.deepEqual(cert.inputs.spec.issuerRef, { name: "ironic-ca", kind: "Issuer", group: "cert-manager.io" });
                    const deployment = byName(run, DEPLOYMENT, cert.name);
                    const secrets = deployment.inputs.spec.template.spec.volumes.filter((v: { secret?: unknown }) => v.secret).map((v: { secret: { secretName: string } }) => v.secret.secretName);
                    assert.ok(secrets.includes(cert.inputs.spec.secretName));
                    assert.ok(secrets.every((s: string) => !s.endsWith("-tls") || s === cert.inputs.spec.secretName));
                }
                assert.equal(byName(run, ISSUER, "ironic-issuer").inputs.spec.ca.secretName, "ironic-ca");
            });

            it("sizes MariaDB for the conductor count through its ConfigMap and Job, keeps its data on a claim, and probes it", () => {
                const limit = mariadbMaxConnections(run.config.conductors, run.config.ironic.apiWorkers);
                const mariadb = byName(run, DEPLOYMENT, "ironic-mariadb");
                const pod = mariadb.inputs.spec.template.spec;
                const env = containerEnv(mariadb, "mariadb");
                assert.equal(env.MARIADB_HOST, "%");
                assert.equal(env.MARIADB_MAX_CONNECTIONS, undefined);
                const volume = (name: string) => pod.volumes.find((v: { name: string }) => v.name === name);
                const mountOf = (path: string) => pod.containers[0].volumeMounts.find((m: { mountPath: string }) => m.mountPath === path).name;
                const config = byName(run, CONFIGMAP, "ironic-mariadb-config");
                assert.equal(volume(mountOf(env.MYSQL_HOME as string)).configMap.name, "ironic-mariadb-config");
                assert.equal(config.inputs.data["my.cnf"], `[mysqld]\nmax_connections = ${limit}\n`);
                assert.equal(volume(mountOf("/var/lib/mysql")).persistentVolumeClaim.claimName, "ironic-mariadb-data");
                assert.equal(byName(run, PVC, "ironic-mariadb-data").inputs.metadata.name, "ironic-mariadb-data");
                assert.equal(volume(mountOf("/auth/mariadb")).secret.secretName, "ironic-mariadb-credentials");
                const job = byName(run, JOB, "ironic-mariadb-max-connections");
                assert.ok(job.inputs.spec.template.spec.containers[0].command.join(" ").includes(`SET GLOBAL max_connections = ${limit}`));
                assert.ok(job.dependencies.includes(mariadb.urn), "the Job runs against a ready MariaDB");
                assert.equal(job.inputs.metadata.annotations["pulumi.com/replaceUnready"], "true", "a failed Job re-runs on the next up");
                assert.ok(pod.containers[0].readinessProbe && pod.containers[0].livenessProbe);
            });

            it("keeps every Secret's content secret and no generated secret in plain text", () => {
                assert.ok(run.generatedSecrets.length >= 4, "the API and DB passwords and their hashes were generated");
                assert.deepEqual(unwrappedSecretData(run), []);
                assert.deepEqual(leakedSecrets(run), []);
            });

            it("orders conductors after MariaDB and their own certificate, certificates after cert-manager", () => {
                const urn = (type: string, name: string) => byName(run, type, name).urn;
                const release = urn(HELM_RELEASE, "ironic-cert-manager");
                const issuer = urn(ISSUER, "ironic-issuer");
                assert.ok(byName(run, ISSUER, "ironic-issuer").dependencies.includes(release));
                for (const cert of ofType(run, CERTIFICATE)) {
                    assert.ok(cert.dependencies.includes(release), `${cert.name} after cert-manager`);
                    assert.ok(cert.dependencies.includes(issuer), `${cert.name} after the issuer`);
                }
                const certs = ofType(run, CERTIFICATE).map((c) => c.urn);
                for (const d of conductorDeployments(run)) {
                    assert.ok(d.dependencies.includes(urn(DEPLOYMENT, "ironic-mariadb")), `${d.name} after MariaDB`);
                    assert.ok(d.dependencies.includes(urn(SERVICE, "ironic-mariadb")), `${d.name} after MariaDB's Service`);
                    assert.ok(d.dependencies.includes(urn(CERTIFICATE, d.name)), `${d.name} after its certificate`);
                    assert.deepEqual(certs.filter((c) => d.dependencies.includes(c)), [urn(CERTIFICATE, d.name)]);
                }
            });

            it("migrates once: every conductor but the primary skips dbsync and starts after the primary", () => {
                const [primary, ...others] = conductorDeployments(run);
                assert.equal(primary.name, "ironic-conductor-000");
                const deployments = conductorDeployments(run).map((d) => d.urn);
                assert.deepEqual(deployments.filter((u) => primary.dependencies.includes(u)), []);
                for (const d of others) {
                    assert.deepEqual(deployments.filter((u) => d.dependencies.includes(u)), [primary.urn], `${d.name} after the primary only`);
                    assert.equal(envOf(run, d.name).IRONIC_SKIP_DBSYNC, "true");
                }
                assert.equal(envOf(run, primary.name).IRONIC_SKIP_DBSYNC, "false");
            });

            it("exposes endpoints, CA, credentials and namespace", async () => {
                const ironic = run.side.ironic;
                assert.deepEqual(
                    ironic.endpoints,
                    run.config.network.conductorIps.slice(0, run.config.conductors).map((ip) => `https://${ip}:${run.config.ports.ironicApi}`),
                );
                assert.equal(ironic.username, "ironic");
                assert.ok(pulumi.Output.isInstance(ironic.caCertPem));
                assert.equal(await pulumi.isSecret(ironic.password), true);
                assert.equal(await valueOf(ironic.credentialsSecretName), "ironic-credentials");
                assert.equal(await valueOf(ironic.namespace), run.config.namespaces.ironic);
                assert.equal(ironic.conductorDeployments.length, run.config.conductors);
                assert.deepEqual([ironic.deployKernelUrl, ironic.deployRamdiskUrl], [ipaImageUrls(run.config).kernel, ipaImageUrls(run.config).ramdisk]);
                const credentials = byName(run, "kubernetes:core/v1:Secret", "ironic-credentials");
                assert.deepEqual(Object.keys(credentials.inputs.stringData).sort(), ["password", "username"]);
            });

            it("parents everything to the IronicCluster and gives every Kubernetes child the provider explicitly", () => {
                const children = run.resources.filter(isIronicChild);
                assert.ok(children.length >= 3 * run.config.conductors + 8);
                for (const r of children.filter((c) => c.type.startsWith("kubernetes:"))) {
                    assert.equal(run.providers.get(`${r.type}::${r.name}`), "management", `${r.type} ${r.name}`);
                }
            });
        });
    }
}

/** URN -> raw inputs (JSON) of every resource inside our components. */
function ours(run: ClusterRun): Map<string, string> {
    const mine = /metal3-scale-lab:(ironic|bmo|capi):/;
    return new Map(run.resources.filter((r) => mine.test(r.urn)).map((r) => [r.urn, JSON.stringify(r.rawInputs)]));
}

function diff(before: ClusterRun, after: ClusterRun) {
    const a = ours(before);
    const b = ours(after);
    const name = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2) + " " + urn.split("$").pop()!.split("::")[0];
    return {
        added: [...b.keys()].filter((u) => !a.has(u)).map(name).sort(),
        removed: [...a.keys()].filter((u) => !b.has(u)).map(name).sort(),
        changed: [...b.keys()].filter((u) => a.has(u) && a.get(u) !== b.get(u)).map(name).sort(),
    };
}

describe("IronicCluster preview when a conductor is added", () => {
    it("3 -> 4 conductors adds exactly conductor 003's objects and changes nothing that runs", async () => {
        const three = await runClusterSide("dev", { mode: "capi", conductors: 3 }, true);
        const four = await runClusterSide("dev", { mode: "capi", conductors: 4 }, true);
        assert.deepEqual(diff(three, four), {
            added: [
                "ironic-conductor-003 kubernetes:apps/v1:Deployment",
                "ironic-conductor-003 kubernetes:cert-manager.io/v1:Certificate",
                "ironic-conductor-003 kubernetes:core/v1:ConfigMap",
            ],
            removed: [],
            // No object lists every conductor: BMO and dnsmasq use the primary conductor only.
            changed: [],
        });
    });

    it("8 -> 9 conductors raises MariaDB's limit through its ConfigMap and Job, never restarting MariaDB", async () => {
        const eight = await runClusterSide("dev", { mode: "bmo", conductors: 8 }, true);
        const nine = await runClusterSide("dev", { mode: "bmo", conductors: 9 }, true);
        const d = diff(eight, nine);
        assert.deepEqual(d.added, [
            "ironic-conductor-008 kubernetes:apps/v1:Deployment",
            "ironic-conductor-008 kubernetes:cert-manager.io/v1:Certificate",
            "ironic-conductor-008 kubernetes:core/v1:ConfigMap",
        ]);
        assert.deepEqual(d.removed, []);
        assert.deepEqual(d.changed, ["ironic-mariadb-config kubernetes:core/v1:ConfigMap", "ironic-mariadb-max-connections kubernetes:batch/v1:Job"]);
    });
});

describe("IronicCluster wired like index.ts wires it", () => {
    it("waits for the bridge-IP commands and takes images that are still outputs", async () => {
        const config = labConfig("dev", { mode: "ironic" });
        const images = fakeImages(config.images);
        const run = await runProgram(
            () => {
                const provider = new k8s.Provider("management", {});
                const bridge = new command.local.Command("bridge-ips", { create: "true" });
                const outputs = Object.fromEntries(Object.entries(images).map(([k, v]) => [k, bridge.stdout.apply(() => v)])) as unknown as Record<ImageName, pulumi.Output<string>>;
                new IronicCluster("ironic", { config, provider, images: outputs, ipaImages: ipaImageUrls(config), dependsOn: [bridge] });
                return {};
            },
            { stack: "dev", config: stackConfig("dev", { mode: "ironic" }) },
        );
        const bridge = run.resources.find((r) => r.name === "bridge-ips")!.urn;
        const hostNetwork = run.resources.filter((r) => r.type === DEPLOYMENT && r.inputs.spec.template.spec.hostNetwork);
        assert.equal(hostNetwork.length, config.conductors + 1);
        for (const d of hostNetwork) assert.ok(d.dependencies.includes(bridge), `${d.name} after the bridge IPs`);
        assert.ok(byName(run, "kubernetes:core/v1:Namespace", "ironic-namespace").dependencies.includes(bridge));
        for (const d of ofType(run, DEPLOYMENT)) for (const image of workloadImages(d)) assert.ok(Object.values(images).includes(image), image);
        assert.equal(byName(run, HELM_RELEASE, "ironic-cert-manager").inputs.values.image.repository, `${images.certManagerController.split(":v")[0]}`);
    });
});
