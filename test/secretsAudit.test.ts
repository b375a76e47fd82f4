// Secrets audit with the values the mock runtime generated for the program
// (the BMC password, Ironic's password, the management cluster's token): no
// secret unmasked in the stack outputs of any mode (registered inputs: see
// program.test.ts), nor in any error message, progress line or run record of
// every batch kind as the program declares it, failures included (an Ironic
// that answers 401/500/400 echoing what it was sent, a Kubernetes API whose
// errors quote the request); run record files 0600 in 0700 dirs.
import { strict as assert } from "assert";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { rebuildProvider } from "./support/capturedProvider";
import { FkasDouble } from "./support/fkasDouble";
import { KubeApiTestServer } from "./support/kubeApiServer";
import { runLab } from "./support/labProgram";
import { isSecretWrapper, plainStrings, ProgramRun, RegisteredResource, unwrapSecrets } from "./support/mockProgram";
import { filesUnder } from "./support/runRecord";
import { SimulatedBmo } from "./support/simulatedBmo";
import { SimulatedCapi } from "./support/simulatedCapi";

const MODES = ["ironic", "bmo", "capi"] as const;
const TOKEN = `tok-${randomBytes(12).toString("hex")}`;

/** Tokens of the kubeconfigs the mocks answered with (the management cluster's credentials). */
function kubeconfigTokens(run: ProgramRun): string[] {
    const texts = run.resources.flatMap((r) => plainStrings(unwrapSecrets(r.rawInputs)));
    return [...new Set(texts.flatMap((t) => [...t.matchAll(/token: "([^"]+)"/g)].map((m) => m[1])))];
}

function firstBatch(run: ProgramRun, kind: string): RegisteredResource {
    const r = run.resources.find((x) => x.type === `pulumi-nodejs:dynamic/${kind}`);
    assert.ok(r, `the program declares a ${kind}`);
    return r;
}

/** Every place a secret must not be, each with where it came from. */
function leaks(secrets: readonly string[], texts: Record<string, readonly string[]>): string[] {
    const found: string[] = [];
    for (const [where, list] of Object.entries(texts)) {
        for (const t of list) for (const s of secrets) if (s.length >= 4 && t.includes(s)) found.push(`${where}: ${t.slice(0, 160)}`);
    }
    return found;
}

/** A stand-in Ironic API that refuses everything in the way `mode` says, quoting the request (auth header and body) in its fault. */
async function echoingIronic(mode: "401" | "500" | "400-on-create"): Promise<{ url: string; close: () => Promise<void>; requests: number }> {
    const state = { requests: 0 };
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
            state.requests++;
            const echo = `${req.method} ${req.url} authorization=${req.headers.authorization ?? ""} body=${body}`;
            const fault = (status: number, text: string) => {
                res.writeHead(status, { "Content-Type": "application/json" });
                res.end(JSON.stringify({ error_message: JSON.stringify({ faultstring: text, debuginfo: null }) }));
            };
            if (mode === "401") return fault(401, `The request you have made requires authentication. ${echo}`);
            if (mode === "500") return fault(500, `Internal Server Error. ${echo}`);
            if (req.method === "GET" && (req.url ?? "").startsWith("/v1/nodes")) {
                res.writeHead(200, { "Content-Type": "application/json" });
                return res.end(JSON.stringify({ nodes: [] }));
            }
            if (req.method === "GET" && (req.url ?? "").startsWith("/v1/conductors")) {
                res.writeHead(200, { "Content-Type": "application/json" });
                return res.end(JSON.stringify({ conductors: [] }));
            }
            return fault(400, `Invalid input for field/attribute driver_info. Value: ${body}`);
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise<void>((r) => server.close(() => r())),
        get requests() {
            return state.requests;
        },
    };
}

describe("secrets audit: generated secrets never shown unmasked (outputs of every mode, errors, progress, run records; record files 0600)", function () {
    this.timeout(120_000);
    const runs: Partial<Record<(typeof MODES)[number], ProgramRun>> = {};
    const logs: string[] = [];
    const thrown: string[] = [];
    const outs: Record<string, any>[] = [];
    const realLog = console.log;
    let runDir: string;

    beforeEach(() => {
        // Each batch kind's texts are audited on their own.
        logs.length = 0;
        thrown.length = 0;
        outs.length = 0;
    });

    const expectFailure = async (run: () => Promise<unknown>): Promise<Error & { properties?: Record<string, any> }> => {
        try {
            await run();
        } catch (err) {
            const e = err as Error & { properties?: Record<string, any> };
            thrown.push(e.message);
            if (e.properties) outs.push(e.properties);
            return e;
        }
        throw new Error("expected a failure");
    };

    before(async function () {
        for (const mode of MODES) runs[mode] = await runLab("dev", { mode, ...(mode === "capi" ? { clusters: 2 } : {}) });
        runDir = fs.mkdtempSync(path.join(os.tmpdir(), "secrets-audit-run-"));
        console.log = (...args: unknown[]) => (typeof args[0] === "string" && args[0].startsWith("[") ? void logs.push(args.map(String).join(" ")) : realLog(...args));
    });

    after(() => {
        console.log = realLog;
        if (runDir) fs.rmSync(runDir, { recursive: true, force: true });
    });

    for (const mode of MODES) {
        it(`${mode} mode: no generated secret or cluster token in plain text in the stack outputs`, () => {
            const run = runs[mode]!;
            const secrets = [...run.generatedSecrets, ...kubeconfigTokens(run)];
            assert.ok(run.generatedSecrets.length >= 2 && kubeconfigTokens(run).length >= 1, "the mocks generated passwords and a kubeconfig");
            assert.deepEqual(leaks(secrets, { outputs: plainStrings(run.rawOutputs) }), []);
            assert.ok(isSecretWrapper(run.rawOutputs.kubeconfig), "the kubeconfig output is a secret");
        });
    }

    it("IronicNodeBatch (as ironic mode declares it): an Ironic answering 401, 500 or 400 while quoting the request shows no secret in errors, progress, outs or record", async () => {
        const run = runs.ironic!;
        const batch = firstBatch(run, "enroll:IronicNodeBatch");
        // The Basic credentials as sent (base64) count as the password.
        const basic = Buffer.from(`${batch.inputs.username}:${batch.inputs.password}`).toString("base64");
        const secrets = [...run.generatedSecrets, ...kubeconfigTokens(run), basic];
        assert.ok(secrets.includes(batch.inputs.password), "Ironic's password is a generated one");
        assert.ok(secrets.includes(batch.inputs.driverInfoSecrets.redfish_password), "the BMC password is a generated one");
        const provider = rebuildProvider(batch.inputs.__provider);
        for (const mode of ["401", "500", "400-on-create"] as const) {
            const ironic = await echoingIronic(mode);
            try {
                const inputs = { ...batch.inputs, label: `audit/ironic-${mode}`, endpoints: [ironic.url], caPem: "", hosts: batch.inputs.hosts.slice(0, 3), timeoutSeconds: 5, runDir };
                const err = await expectFailure(() => provider.create(inputs));
                assert.ok(ironic.requests > 0, "Ironic was asked");
                assert.match(err.message, mode === "400-on-create" ? /3 of 3 hosts not available/ : new RegExp(`answered ${mode}`));
            } finally {
                await ironic.close();
            }
        }
        assert.deepEqual(leaks(secrets, { error: thrown, progress: logs, outs: outs.flatMap((o) => plainStrings({ ...o, password: "", driverInfoSecrets: {} })) }), []);
    });

    it("BareMetalHostBatch (as bmo mode declares it): errors quoting the request, a host in error, progress, outs and record show no secret", async () => {
        const run = runs.bmo!;
        const batch = firstBatch(run, "enroll:BareMetalHostBatch");
        const secrets = [...run.generatedSecrets, ...kubeconfigTokens(run), TOKEN];
        assert.ok(secrets.includes(batch.inputs.bmcPassword), "the BMC password is a generated one");
        const server = new KubeApiTestServer({ namespaces: [batch.inputs.namespace], token: TOKEN });
        await server.start();
        const bmo = new SimulatedBmo(server, { namespaces: [batch.inputs.namespace] });
        try {
            const provider = rebuildProvider(batch.inputs.__provider);
            const inputs: Record<string, any> = { ...batch.inputs, kubeconfig: server.kubeconfigYaml(), hosts: batch.inputs.hosts.slice(0, 4), timeoutSeconds: 20, runDir };
            // A webhook (or a proxy) that quotes what it was sent: the Secret holds the password.
            server.faults.fail(1, 400, { resource: "secrets" }, `admission webhook "validate.example" denied the request: ${batch.inputs.bmcPassword} ${TOKEN}`);
            bmo.failHost(inputs.hosts[1].name, { state: "inspecting", errorType: "inspection error", errorMessage: `BMC said: bad password ${batch.inputs.bmcPassword}` });
            const err = await expectFailure(() => provider.create(inputs));
            assert.match(err.message, /answered 400/);
            assert.match(err.message, /inspection error: BMC said: bad password/);
            bmo.clearFailure();
            const res = await provider.update(inputs.label, err.properties!, inputs);
            outs.push(res.outs!);
            await provider.delete(inputs.label, res.outs!);
            const bad = await expectFailure(() => provider.create({ ...inputs, kubeconfig: server.kubeconfigYaml().replace(TOKEN, `${TOKEN}x`) }));
            assert.match(bad.message, /401/);
        } finally {
            bmo.stop();
            await server.stop();
        }
        const plainOuts = outs.flatMap((o) => plainStrings({ ...o, kubeconfig: "", bmcPassword: "", password: "", driverInfoSecrets: {} }));
        assert.deepEqual(leaks(secrets, { error: thrown, progress: logs, outs: plainOuts }), []);
    });

    it("WorkloadClusterBatch (as capi mode declares it): errors quoting the token, progress, outs and record show no secret", async () => {
        const run = runs.capi!;
        const batch = firstBatch(run, "clusters:WorkloadClusterBatch");
        const secrets = [...run.generatedSecrets, ...kubeconfigTokens(run), TOKEN];
        const ns = batch.inputs.namespace;
        const server = new KubeApiTestServer({ namespaces: [ns], token: TOKEN, autoRegisterResources: false });
        await server.start();
        const fkas = new FkasDouble(server);
        await fkas.start();
        const bmo = new SimulatedBmo(server, { namespaces: [ns], delays: { registering: 5, inspecting: 5, preparing: 5, provisioning: 20, deprovisioning: 20 } });
        const capi = new SimulatedCapi(server, { namespaces: [ns], fkas });
        try {
            const hosts = firstBatch(runs.capi!, "enroll:BareMetalHostBatch");
            const hostProvider = rebuildProvider(hosts.inputs.__provider);
            const hostInputs: Record<string, any> = { ...hosts.inputs, kubeconfig: server.kubeconfigYaml(), timeoutSeconds: 30 };
            await hostProvider.create(hostInputs);
            const provider = rebuildProvider(batch.inputs.__provider);
            const inputs: Record<string, any> = { ...batch.inputs, kubeconfig: server.kubeconfigYaml(), fkasUrl: fkas.url, timeoutSeconds: 30, runDir };
            server.faults.fail(1, 422, { verb: "apply" }, `quoting the request: Authorization: Bearer ${TOKEN}`);
            const err = await expectFailure(() => provider.create(inputs));
            assert.match(err.message, /answered 422/);
            const res = await provider.update(inputs.label, err.properties!, inputs);
            assert.equal(res.outs!.status.ready, true, JSON.stringify(res.outs!.status));
            outs.push(res.outs!);
            await provider.delete(inputs.label, res.outs!);
            await hostProvider.delete(hostInputs.label, { ...hostInputs, status: { ready: true } });
        } finally {
            capi.stop();
            bmo.stop();
            await fkas.stop();
            await server.stop();
        }
        const plainOuts = outs.flatMap((o) => plainStrings({ ...o, kubeconfig: "", bmcPassword: "", password: "", driverInfoSecrets: {} }));
        assert.deepEqual(leaks(secrets, { error: thrown, progress: logs, outs: plainOuts }), []);
    });

    it("the run record of every batch kind holds no secret, in files 0600 under dirs 0700", () => {
        const secrets = [...Object.values(runs).flatMap((r) => [...r!.generatedSecrets, ...kubeconfigTokens(r!)]), TOKEN];
        const files = filesUnder(runDir);
        const names = files.map((f) => path.basename(f)).sort();
        for (const label of ["audit_ironic-401", "audit_ironic-500", "audit_ironic-400-on-create"]) assert.ok(names.includes(`${label}.jsonl`), `${label} recorded: ${names.join(", ")}`);
        assert.ok(names.some((n) => n.includes("bmh-batch")) && names.some((n) => n.includes("cluster-batch")), `hosts and clusters recorded: ${names.join(", ")}`);
        for (const file of files) {
            assert.equal(fs.statSync(file).mode & 0o777, 0o600, file);
            assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700, path.dirname(file));
        }
        assert.deepEqual(leaks(secrets, Object.fromEntries(files.map((f) => [f, [fs.readFileSync(f, "utf8")]]))), []);
    });
});
