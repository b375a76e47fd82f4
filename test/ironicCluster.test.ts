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
                for (const d of conductors) {
                    const c = d.inputs.spec.template.spec.containers.map((x: { command: string[] }) => x.command[0]);
                    assert.deepEqual(c, ["/bin/runironic", "/bin/runhttpd", "/bin/runlogwatch.sh"]);
                    assert.equal(d.inputs.spec.template.spec.hostNetwork, true);
                }
            });

            it("takes every workload image from the images map it was given", () => {
                const local = new Set(Object.values(run.images));
                const workloads = run.resources.filter((r) => r.type === DEPLOYMENT || r.type === "kubernetes:apps/v1:StatefulSet");
                assert.ok(workloads.length > 0);
                for (const w of workloads) for (const image of workloadImages(w)) assert.ok(local.has(image), `${w.name} runs ${image}`);
                for (const d of conductorDeployments(run)) assert.deepEqual(new Set(workloadImages(d)), new Set([run.images.ironic]));
                assert.deepEqual(workloadImages(byName(run, DEPLOYMENT, "ironic-mariadb")), [run.images.mariadb]);
                assert.deepEqual(workloadImages(byName(run, DEPLOYMENT, "ironic-dnsmasq")), [run.images.ipaDownloader, run.images.ironic]);
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

            it("sizes MariaDB for the conductor count and probes it", () => {
                const mariadb = byName(run, DEPLOYMENT, "ironic-mariadb");
                const env = containerEnv(mariadb, "mariadb");
                assert.equal(env.MARIADB_MAX_CONNECTIONS, String(mariadbMaxConnections(run.config.conductors, run.config.ironic.apiWorkers)));
                assert.equal(env.MARIADB_HOST, "%");
                assert.deepEqual(env.MARIADB_PASSWORD, { secretKeyRef: { name: "ironic-mariadb-credentials", key: "password" } });
                const container = mariadb.inputs.spec.template.spec.containers[0];
                assert.ok(container.readinessProbe && container.livenessProbe);
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

describe("IronicCluster with an image that still needs ironic-inspector", () => {
    let run: ClusterRun;
    before(async () => {
        run = await runClusterSide("dev", { mode: "bmo", ironic: { inspector: true } });
    });

    it("adds one inspector on the primary conductor's IP, and points every conductor at it", () => {
        const inspectors = ofType(run, DEPLOYMENT).filter((d) => component(d) === "inspector");
        assert.equal(inspectors.length, 1);
        const inspector = inspectors[0];
        assert.deepEqual(workloadImages(inspector), [run.images.ironic]);
        assert.deepEqual(inspector.inputs.spec.template.spec.containers[0].command, ["/bin/runironic-inspector"]);
        const primaryIp = run.config.network.conductorIps[0];
        assert.equal(containerEnv(inspector, "ironic-inspector").PROVISIONING_IP, primaryIp);
        assert.ok(inspector.dependencies.includes(byName(run, CERTIFICATE, "ironic-conductor-000").urn));
        for (const d of conductorDeployments(run)) {
            const env = envOf(run, d.name);
            assert.equal(env.USE_IRONIC_INSPECTOR, "true");
            assert.equal(env.IRONIC_INSPECTOR_BASE_URL, `https://${primaryIp}:${run.config.ports.inspector}`);
        }
        const auth = byName(run, "kubernetes:core/v1:Secret", "ironic-auth").inputs.stringData;
        assert.deepEqual(Object.keys(auth).sort(), ["htpasswd", "inspector-auth-config", "ironic-auth-config", "json-rpc-auth-config"]);
        assert.deepEqual(leakedSecrets(run), []);
    });
});

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
            // No object lists every conductor: BMO, dnsmasq and the inspector use the primary conductor only.
            changed: [],
        });
    });

    it("8 -> 9 conductors also resizes MariaDB, the one object sized by the conductor count", async () => {
        const eight = await runClusterSide("dev", { mode: "bmo", conductors: 8 }, true);
        const nine = await runClusterSide("dev", { mode: "bmo", conductors: 9 }, true);
        const d = diff(eight, nine);
        assert.deepEqual(d.added, [
            "ironic-conductor-008 kubernetes:apps/v1:Deployment",
            "ironic-conductor-008 kubernetes:cert-manager.io/v1:Certificate",
            "ironic-conductor-008 kubernetes:core/v1:ConfigMap",
        ]);
        assert.deepEqual(d.removed, []);
        assert.deepEqual(d.changed, ["ironic-mariadb kubernetes:apps/v1:Deployment"]);
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
                new IronicCluster("ironic", { config, provider, images: outputs, dependsOn: [bridge] });
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
