// Test harness for a REAL, local, multi-conductor Ironic (Debian packages,
// fake-hardware), started and stopped by the tests themselves.
//
// The heavy lifting is done by scripts/ironic-local/{install,start,stop}.sh;
// this module picks a free loopback subnet, runs them, optionally puts a TLS
// reverse proxy (CA made by start.sh --tls) in front of every API, waits until
// every API answers and every conductor is alive, and offers small REST
// helpers (HTTP basic auth, microversion 1.82).
//
//   const lab = await startIronicLab({ conductors: 3, tls: true });
//   ... lab.endpoints, lab.username, lab.password, lab.caPem ...
//   await lab.stop();
//
// Tests that need it call `requireIronicOrSkip(this)` in `before`: it skips
// when Ironic can't be had here, except under CI=true where it fails.

import { execFile, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export const IRONIC_API_VERSION = "1.82";

const REPO_ROOT = path.resolve(__dirname, "..", "..");
const SCRIPTS = path.join(REPO_ROOT, "scripts", "ironic-local");
const START_SH = path.join(SCRIPTS, "start.sh");
const STOP_SH = path.join(SCRIPTS, "stop.sh");
const INSTALL_SH = path.join(SCRIPTS, "install.sh");
/** Where labs keep their state by default: outside the checkout (see IronicLabOptions.stateDir). */
const STATE_ROOT = path.join(os.tmpdir(), "metal3-ironic-local");

// ------------------------------------------------------------ availability

export interface IronicAvailability {
    available: boolean;
    /** Whether the packages are already installed (no install step needed). */
    installed: boolean;
    reason: string;
}

let availabilityCache: IronicAvailability | undefined;

/** Can a real Ironic be run here? Installed packages, or root + apt to install them. */
export function ironicAvailability(): IronicAvailability {
    if (availabilityCache) return availabilityCache;
    availabilityCache = computeAvailability();
    return availabilityCache;
}

function computeAvailability(): IronicAvailability {
    if (process.platform !== "linux") {
        return { available: false, installed: false, reason: `real Ironic needs Linux (this is ${process.platform})` };
    }
    const check = spawnSync("bash", [INSTALL_SH, "--check"], { encoding: "utf8", timeout: 30_000 });
    if (check.status === 0) {
        return { available: true, installed: true, reason: "Ironic packages are installed" };
    }
    const why = (check.stderr || check.stdout || String(check.error ?? "")).trim();
    const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
    const hasApt = fs.existsSync("/usr/bin/apt-get") && fs.existsSync("/usr/bin/dpkg-query");
    if (isRoot && hasApt) {
        return {
            available: true,
            installed: false,
            reason: `Ironic packages missing (${why}); running as root, ${INSTALL_SH} will install them`,
        };
    }
    return {
        available: false,
        installed: false,
        reason: `Ironic packages missing (${why}) and cannot install them here ` +
            `(${isRoot ? "no apt-get" : "not root"}); run ${INSTALL_SH} as root`,
    };
}

/**
 * For `before` hooks of @real suites: returns when Ironic is available; otherwise
 * skips the suite, except when CI=true, where it throws (CI must not skip).
 */
export function requireIronicOrSkip(ctx: Mocha.Context): void {
    const a = ironicAvailability();
    if (a.available) return;
    if (process.env.CI === "true") {
        throw new Error(`real Ironic is required under CI=true but is not available: ${a.reason}`);
    }
    console.log(`      (skipping: ${a.reason})`);
    ctx.skip();
}

// ---------------------------------------------------------------- types

export interface IronicLabOptions {
    /** Number of "Ironic pods" (one ironic-api + one ironic-conductor each, own loopback IP). */
    conductors: number;
    /** Also serve every API over HTTPS through a local reverse proxy (CA in caPem). */
    tls?: boolean;
    /**
     * State directory; default `<tmpdir>/metal3-ironic-local/ironic-<pid>-<random>`, outside the checkout:
     * MariaDB runs as the mysql user, which cannot traverse a checkout under /root or a mode-700 folder.
     */
    stateDir?: string;
    /** Loopback subnet K (IPs 127.0.K.x); default: a free one in 100..249, claimed with a lock. */
    subnet?: number;
    apiPort?: number; // default 6385
    jsonRpcPort?: number; // default 8089
    dbPort?: number; // default 13306
    /** HTTPS proxy port on every pod IP; default 6388. */
    tlsPort?: number;
    apiWorkers?: number; // default 1
    /** Bound on waiting for APIs + conductors (default 120 s). */
    readyTimeoutMs?: number;
    /** Run install.sh when packages are missing (default true). */
    install?: boolean;
    /** Keep the state dir (logs) on stop(); also with env IRONIC_LAB_KEEP=1. */
    keepStateDir?: boolean;
    /**
     * oslo.config text every ironic-api/conductor reads after the generated config
     * (start.sh --extra-config), e.g. more enabled interfaces for a failure test.
     */
    extraConfig?: string;
    /**
     * Conductor heartbeat (start.sh --heartbeat): short values make a dead conductor's nodes move to
     * the live ones within seconds (fault tests). Default: every 5 s, offline after 20 s.
     */
    heartbeat?: { intervalSeconds: number; timeoutSeconds: number };
    /**
     * With tls: also serve pod i's HTTPS proxy on `host` (an address of this machine, e.g. the end of a
     * veth pair a network namespace routes to) at tlsPort + i, and add `subjectAltIps` (e.g. the address
     * a TCP proxy in front publishes) to the certificate. Served in `alsoOn`.
     */
    tlsAlsoOn?: { host: string; subjectAltIps?: readonly string[] };
}

/** A process of the lab, as named in its pids/ and log/ directories. */
export type LabProcess = "mariadb" | `api-${number}` | `conductor-${number}`;

/** One Ironic port, as GET /v1/ports/detail lists it. */
export interface IronicPort {
    uuid: string;
    address: string;
    node_uuid: string;
    [k: string]: unknown;
}

export interface IronicConductor {
    hostname: string;
    conductor_group: string;
    alive: boolean;
    drivers?: string[];
    [k: string]: unknown;
}

export interface IronicNode {
    uuid: string;
    name: string | null;
    driver: string;
    provision_state: string;
    target_provision_state: string | null;
    power_state: string | null;
    maintenance: boolean;
    conductor?: string | null;
    last_error: string | null;
    [k: string]: unknown;
}

export interface IronicResponse<T = any> {
    status: number;
    headers: http.IncomingHttpHeaders;
    /** Parsed JSON body, or undefined when empty / not JSON. */
    body: T;
    text: string;
}

export interface IronicRequestOptions {
    body?: unknown;
    /** Base URL or index into `endpoints` (default 0). */
    endpoint?: string | number;
    /** false: no Authorization header; object: other credentials. Default: the lab's. */
    auth?: boolean | { username: string; password: string };
    headers?: Record<string, string>;
    /** CA for https; default the lab's caPem. */
    ca?: string;
    timeoutMs?: number;
}

/** One answer the TLS proxy passed back (what a test can count: a storm, a refusal, a conflict). */
export interface ServedRequest {
    readonly method: string;
    /** Path without the query string. */
    readonly path: string;
    /** The query string as sent ("" when none): what a list asked for. */
    readonly query: string;
    readonly status: number;
    /** Epoch milliseconds of the answer. */
    readonly at: number;
}

export interface IronicLab {
    stateDir: string;
    /** One API URL per pod: https (proxy) when tls, else http. */
    endpoints: string[];
    /** Plain-http API URL per pod (always available). */
    httpEndpoints: string[];
    /** HTTPS proxy URL per pod, when tls. */
    httpsEndpoints?: string[];
    username: string;
    password: string;
    /** PEM of the CA that signed the HTTPS certificate, when tls. */
    caPem?: string;
    caFile?: string;
    /** Conductor host names (= their loopback IPs), pod order. */
    conductorHosts: string[];
    subnet: number;
    /** Seconds from start to "all APIs answer and all conductors alive". */
    startupSeconds: number;
    request<T = any>(method: string, urlPath: string, opts?: IronicRequestOptions): Promise<IronicResponse<T>>;
    /** GET /v1/nodes/detail (all pages). */
    listNodes(endpoint?: string | number): Promise<IronicNode[]>;
    /** GET /v1/conductors (all pages). */
    conductors(endpoint?: string | number): Promise<IronicConductor[]>;
    getNode(idOrName: string, endpoint?: string | number): Promise<IronicNode>;
    /** POST /v1/nodes with driver fake-hardware unless given. */
    createNode(fields: Record<string, unknown>, endpoint?: string | number): Promise<IronicNode>;
    /** PUT /v1/nodes/<id>/states/provision {target}; expects 202. */
    setProvisionState(idOrName: string, target: string, endpoint?: string | number): Promise<void>;
    /** Poll until provision_state === state (and no target); throws on a "failed" state or timeout. */
    waitForProvisionState(idOrName: string, state: string, timeoutMs?: number): Promise<IronicNode>;
    /** Delete every node (maintenance on for states that forbid deletion; retries while locked). */
    deleteAllNodes(): Promise<void>;
    /**
     * Removes every node (and what hangs off it: ports, history, ...) straight from the database, in
     * well under a second whatever the count: for benchmarks between runs, while no request is in flight.
     */
    wipeNodes(): Promise<void>;
    /** Runs SQL on the lab's `ironic` database as its owner (tab-separated rows, no header): what no API does, e.g. a lock left behind. */
    sql(query: string): Promise<string>;
    /** GET /v1/ports/detail (all pages). */
    listPorts(endpoint?: string | number): Promise<IronicPort[]>;
    /** Signals one process (its whole process group) and waits until it is gone: fault injection. */
    kill(name: LabProcess, signal?: NodeJS.Signals): Promise<void>;
    /** Starts the processes that are not running (start.sh again, same options) and waits until the lab is ready. */
    startMissing(): Promise<void>;
    /** Last lines of a log in the state dir, e.g. "api-1", "conductor-2", "mariadb". */
    logTail(name: string, lines?: number): string;
    /** Requests each pod's HTTPS endpoint served so far (pod order; empty without tls). */
    requestsServedOverTls(): number[];
    /** Every answer the HTTPS endpoints gave so far, oldest first (empty without tls). */
    servedOverTls(): ServedRequest[];
    /** The tlsAlsoOn endpoints (pod order) and the requests each served so far. */
    alsoOn?: { endpoints: string[]; requestsServed(): number[] };
    stop(opts?: { wipe?: boolean }): Promise<void>;
}

/** IronicNodeBatch inputs that point a batch at this lab (TLS, basic auth, a fast poll). */
export function batchAccess(lab: IronicLab) {
    return { endpoints: lab.endpoints, username: lab.username, password: lab.password, caPem: lab.caPem, apiVersion: "1.81", pollSeconds: 1 };
}

// ------------------------------------------------------- process cleanup

interface Running {
    stateDir: string;
    subnetLock?: string;
    keep: boolean;
}
const running = new Map<string, Running>();
let hooksInstalled = false;

function stopSync(r: Running): void {
    const args = [STOP_SH, r.stateDir, "--timeout", "5", ...(r.keep ? [] : ["--wipe"])];
    spawnSync("bash", args, { stdio: "ignore", timeout: 60_000 });
    releaseSubnet(r.subnetLock);
    removeStateRootIfEmpty();
}

function installExitHooks(): void {
    if (hooksInstalled) return;
    hooksInstalled = true;
    process.on("exit", () => {
        for (const r of running.values()) stopSync(r);
        running.clear();
    });
    for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
        const handler = () => {
            for (const r of running.values()) stopSync(r);
            running.clear();
            process.removeListener(sig, handler);
            if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
        };
        process.on(sig, handler);
    }
}

// ------------------------------------------------------ subnet selection

const SUBNET_LOCK_DIR = path.join(os.tmpdir(), "metal3-ironic-local-subnets");

function pidAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e: any) {
        return e?.code === "EPERM";
    }
}

function claimSubnet(k: number): string | undefined {
    const lock = path.join(SUBNET_LOCK_DIR, String(k));
    for (let attempt = 0; attempt < 3; attempt++) {
        try {
            fs.mkdirSync(SUBNET_LOCK_DIR, { recursive: true });
            fs.writeFileSync(lock, String(process.pid), { flag: "wx" });
            return lock;
        } catch (e: any) {
            // The dir went with another lab's release between the two calls: make it again.
            if (e?.code === "ENOENT") continue;
            if (e?.code !== "EEXIST") throw e;
            const owner = Number(fs.readFileSync(lock, "utf8").trim());
            if (Number.isInteger(owner) && owner > 0 && pidAlive(owner)) return undefined;
            fs.rmSync(lock, { force: true }); // stale
        }
    }
    return undefined;
}

/** The last lab to go takes the shared state root with it: tests leave /tmp as they found it. */
function removeStateRootIfEmpty(): void {
    try {
        fs.rmdirSync(STATE_ROOT);
    } catch {
        /* another lab still runs there, or a kept state dir */
    }
}

function releaseSubnet(lock?: string): void {
    if (!lock) return;
    try {
        if (fs.readFileSync(lock, "utf8").trim() === String(process.pid)) fs.rmSync(lock, { force: true });
    } catch {
        /* already gone */
    }
    try {
        // The last lab to go takes the lock dir with it: tests leave /tmp as they found it.
        fs.rmdirSync(SUBNET_LOCK_DIR);
    } catch {
        /* another lab still holds a subnet */
    }
}

function portFree(host: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const srv = net.createServer();
        srv.once("error", () => resolve(false));
        srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
    });
}

async function pickSubnet(conductors: number, ports: number[]): Promise<{ subnet: number; lock?: string }> {
    const first = 100 + (process.pid % 150);
    for (let n = 0; n < 150; n++) {
        const k = 100 + ((first - 100 + n) % 150);
        const lock = claimSubnet(k);
        if (!lock) continue;
        const checks: Promise<boolean>[] = [];
        for (let i = 0; i <= conductors; i++) for (const p of ports) checks.push(portFree(`127.0.${k}.${1 + i}`, p));
        if ((await Promise.all(checks)).every(Boolean)) return { subnet: k, lock };
        releaseSubnet(lock);
    }
    throw new Error("no free loopback subnet 127.0.K.0 (K in 100..249) for an Ironic lab");
}

// ---------------------------------------------------------------- helpers

function runScript(args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        execFile("bash", args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
            if (err) {
                reject(new Error(`${path.basename(args[0])} failed: ${err.message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
            } else resolve({ stdout, stderr });
        });
    });
}

function tailFile(file: string, lines = 25): string {
    try {
        const text = fs.readFileSync(file, "utf8");
        // strip ANSI colour codes oslo.log puts in
        return text.replace(/\x1b\[[0-9;]*m/g, "").trimEnd().split("\n").slice(-lines).join("\n");
    } catch (e: any) {
        return `(cannot read ${file}: ${e?.message ?? e})`;
    }
}

function readPid(stateDir: string, name: string): number | undefined {
    try {
        const pid = Number(fs.readFileSync(path.join(stateDir, "pids", `${name}.pid`), "utf8").trim());
        return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
        return undefined;
    }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rawRequest(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
    ca: string | undefined,
    timeoutMs: number,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
    return new Promise((resolve, reject) => {
        const mod = url.protocol === "https:" ? https : http;
        const req = mod.request(
            url,
            { method, headers, timeout: timeoutMs, ...(url.protocol === "https:" && ca ? { ca } : {}) },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () =>
                    resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }),
                );
                res.on("error", reject);
            },
        );
        req.on("timeout", () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
        req.on("error", reject);
        req.end(body);
    });
}

// ------------------------------------------------------------ TLS proxy

/** An HTTPS proxy that counts the requests it served, so tests can see how a client spread its calls. */
type CountingServer = https.Server & { requestsServed: number; served: ServedRequest[] };

function startTlsProxy(listenHost: string, listenPort: number, upstreamPort: number, key: string, cert: string, upstreamHost = listenHost): Promise<CountingServer> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const server = Object.assign(https.createServer({ key, cert }, (req, res) => {
        server.requestsServed++;
        const headers = { ...req.headers, "x-forwarded-proto": "https" };
        const up = http.request(
            { host: upstreamHost, port: upstreamPort, method: req.method, path: req.url, headers, agent },
            (ur) => {
                const [reqPath, query = ""] = (req.url ?? "").split("?");
                server.served.push({ method: req.method ?? "", path: reqPath, query, status: ur.statusCode ?? 502, at: Date.now() });
                res.writeHead(ur.statusCode ?? 502, ur.headers);
                ur.pipe(res);
            },
        );
        up.on("error", (e) => {
            if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
            res.end(JSON.stringify({ error: `ironic-local TLS proxy: upstream ${upstreamHost}:${upstreamPort}: ${e.message}` }));
        });
        req.pipe(up);
    }), { requestsServed: 0, served: [] as ServedRequest[] });
    server.on("close", () => agent.destroy());
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(listenPort, listenHost, () => {
            server.removeListener("error", reject);
            server.unref(); // a forgotten lab must not keep mocha alive (the exit hook stops it)
            resolve(server);
        });
    });
}

function closeServer(s: https.Server): Promise<void> {
    return new Promise((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
    });
}

// ---------------------------------------------------------------- start

const FAILED_STATES = new Set(["clean failed", "deploy failed", "inspect failed", "error", "rescue failed", "unrescue failed", "adopt failed", "service failed"]);
const DELETABLE_STATES = new Set(["enroll", "manageable", "available", "adopt failed"]);

export async function startIronicLab(opts: IronicLabOptions): Promise<IronicLab> {
    const n = opts.conductors;
    if (!Number.isInteger(n) || n < 1 || n > 250) throw new Error(`conductors must be an integer 1..250 (got ${n})`);
    const apiPort = opts.apiPort ?? 6385;
    const jsonRpcPort = opts.jsonRpcPort ?? 8089;
    const dbPort = opts.dbPort ?? 13306;
    const tlsPort = opts.tlsPort ?? 6388;
    const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
    const t0 = Date.now();

    const avail = ironicAvailability();
    if (!avail.installed) {
        if (!avail.available || opts.install === false) throw new Error(`real Ironic not available: ${avail.reason}`);
        await runScript([INSTALL_SH], 20 * 60_000);
        availabilityCache = undefined;
    }

    let subnet = opts.subnet;
    let lock: string | undefined;
    if (subnet === undefined) {
        const ports = [apiPort, jsonRpcPort, dbPort, ...(opts.tls ? [tlsPort] : [])];
        ({ subnet, lock } = await pickSubnet(n, ports));
    }
    const stateDir = path.resolve(
        opts.stateDir ?? path.join(STATE_ROOT, `ironic-${process.pid}-${Math.random().toString(36).slice(2, 8)}`),
    );
    fs.mkdirSync(stateDir, { recursive: true });
    // Traversable by the mysql user whatever the umask (the contents stay private to their owners).
    for (const dir of [path.dirname(stateDir), stateDir]) if (dir.startsWith(STATE_ROOT)) fs.chmodSync(dir, 0o755);

    installExitHooks();
    const keep = !!opts.keepStateDir || process.env.IRONIC_LAB_KEEP === "1";
    const reg: Running = { stateDir, subnetLock: lock, keep };
    running.set(stateDir, reg);
    const servers: CountingServer[] = [];
    const alsoOnServers: CountingServer[] = [];

    const fail = async (err: unknown): Promise<never> => {
        for (const s of [...servers, ...alsoOnServers]) await closeServer(s);
        running.delete(stateDir);
        await runScript([STOP_SH, stateDir, "--timeout", "5"], 120_000).catch(() => undefined);
        releaseSubnet(lock);
        const msg = err instanceof Error ? err.message : String(err);
        throw new Error(`${msg}\n(state dir kept for inspection: ${stateDir})`);
    };

    const args = [
        START_SH, stateDir,
        "--conductors", String(n),
        "--subnet", String(subnet),
        "--api-port", String(apiPort),
        "--json-rpc-port", String(jsonRpcPort),
        "--db-port", String(dbPort),
        "--api-workers", String(opts.apiWorkers ?? 1),
        ...(opts.tls ? ["--tls"] : []),
        ...(opts.tls && opts.tlsAlsoOn ? ["--tls-san", [opts.tlsAlsoOn.host, ...(opts.tlsAlsoOn.subjectAltIps ?? [])].map((ip) => `IP:${ip}`).join(",")] : []),
        ...(opts.heartbeat ? ["--heartbeat", `${opts.heartbeat.intervalSeconds},${opts.heartbeat.timeoutSeconds}`] : []),
    ];
    if (opts.extraConfig !== undefined) {
        const extra = path.join(stateDir, "extra-config.conf");
        fs.writeFileSync(extra, opts.extraConfig, { mode: 0o600 });
        args.push("--extra-config", extra);
    }
    try {
        await runScript(args, 180_000);
    } catch (e) {
        return fail(e);
    }

    let lab: IronicLab;
    try {
        const desc = JSON.parse(fs.readFileSync(path.join(stateDir, "lab.json"), "utf8"));
        const username = fs.readFileSync(desc.usernameFile, "utf8").trim();
        const password = fs.readFileSync(desc.passwordFile, "utf8").trim();
        const httpEndpoints: string[] = desc.endpoints;
        const conductorHosts: string[] = desc.conductorHosts;
        let caPem: string | undefined;
        let caFile: string | undefined;
        let httpsEndpoints: string[] | undefined;
        if (opts.tls) {
            caFile = desc.tls.caFile as string;
            caPem = fs.readFileSync(caFile, "utf8");
            const key = fs.readFileSync(desc.tls.keyFile, "utf8");
            const cert = fs.readFileSync(desc.tls.certFile, "utf8");
            httpsEndpoints = [];
            for (const host of conductorHosts) {
                servers.push(await startTlsProxy(host, tlsPort, apiPort, key, cert));
                httpsEndpoints.push(`https://${host}:${tlsPort}`);
            }
            for (const [i, host] of conductorHosts.entries()) {
                if (opts.tlsAlsoOn) alsoOnServers.push(await startTlsProxy(opts.tlsAlsoOn.host, tlsPort + i, apiPort, key, cert, host));
            }
        }
        lab = makeLab({
            stateDir, httpEndpoints, httpsEndpoints, username, password, caPem, caFile, conductorHosts,
            subnet: subnet!, servers, reg, keep, startArgs: args, readyTimeoutMs, alsoOnServers,
            alsoOnEndpoints: opts.tlsAlsoOn ? conductorHosts.map((_, i) => `https://${opts.tlsAlsoOn!.host}:${tlsPort + i}`) : undefined,
        });
        await waitReady(lab, Math.max(1_000, readyTimeoutMs - (Date.now() - t0)), readyTimeoutMs);
    } catch (e) {
        return fail(e);
    }
    lab.startupSeconds = (Date.now() - t0) / 1000;
    return lab;
}

async function waitReady(lab: IronicLab, timeoutMs: number, budgetMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const n = lab.conductorHosts.length;
    const apiUp = new Array<boolean>(n).fill(false);
    let alive = new Set<string>();
    let lastErr = "";
    const deadProcess = (): string | undefined => {
        for (let i = 1; i <= n; i++) {
            for (const name of [`api-${i}`, `conductor-${i}`]) {
                const pid = readPid(lab.stateDir, name);
                if (pid === undefined || !pidAlive(pid)) return name;
            }
        }
        const db = readPid(lab.stateDir, "mariadb");
        return db === undefined || !pidAlive(db) ? "mariadb" : undefined;
    };
    while (Date.now() < deadline) {
        const dead = deadProcess();
        if (dead) throw new Error(`Ironic lab process ${dead} exited during start-up; tail of its log:\n${lab.logTail(dead, 40)}`);
        await Promise.all(
            lab.httpEndpoints.map(async (url, i) => {
                if (apiUp[i]) return;
                try {
                    const r = await lab.request("GET", "/", { endpoint: url, auth: false, timeoutMs: 3_000 });
                    apiUp[i] = r.status === 200;
                } catch (e: any) {
                    lastErr = e?.message ?? String(e);
                }
            }),
        );
        if (apiUp.every(Boolean)) {
            try {
                const cs = await lab.conductors(lab.httpEndpoints[0]);
                alive = new Set(cs.filter((c) => c.alive).map((c) => c.hostname));
                if (lab.conductorHosts.every((h) => alive.has(h))) {
                    // every TLS proxy must answer too
                    for (const ep of lab.httpsEndpoints ?? []) {
                        const r = await lab.request("GET", "/", { endpoint: ep, auth: false, timeoutMs: 3_000 });
                        if (r.status !== 200) throw new Error(`TLS proxy ${ep} answered ${r.status}`);
                    }
                    return;
                }
            } catch (e: any) {
                lastErr = e?.message ?? String(e);
            }
        }
        await sleep(500);
    }
    const problems: string[] = [];
    lab.httpEndpoints.forEach((url, i) => {
        if (!apiUp[i]) problems.push(`ironic-api ${url} not answering; tail of api-${i + 1}.log:\n${lab.logTail(`api-${i + 1}`)}`);
    });
    lab.conductorHosts.forEach((h, i) => {
        if (apiUp.every(Boolean) && !alive.has(h)) {
            problems.push(`conductor ${h} not alive in /v1/conductors; tail of conductor-${i + 1}.log:\n${lab.logTail(`conductor-${i + 1}`)}`);
        }
    });
    throw new Error(
        `Ironic lab not ready within its ${Math.round(budgetMs / 1000)} s start-up budget (last error: ${lastErr || "none"})\n` + problems.join("\n"),
    );
}

interface LabParts {
    stateDir: string;
    httpEndpoints: string[];
    httpsEndpoints?: string[];
    username: string;
    password: string;
    caPem?: string;
    caFile?: string;
    conductorHosts: string[];
    subnet: number;
    servers: CountingServer[];
    reg: Running;
    keep: boolean;
    /** start.sh's arguments, for startMissing(). */
    startArgs: string[];
    readyTimeoutMs: number;
    alsoOnServers: CountingServer[];
    alsoOnEndpoints?: string[];
}

function makeLab(p: LabParts): IronicLab {
    const endpoints = p.httpsEndpoints ?? p.httpEndpoints;
    let stopped = false;

    const baseUrl = (endpoint: string | number | undefined): string => {
        if (endpoint === undefined) return endpoints[0];
        if (typeof endpoint === "number") {
            const e = endpoints[endpoint];
            if (!e) throw new Error(`no endpoint #${endpoint} (have ${endpoints.length})`);
            return e;
        }
        return endpoint;
    };

    const lab: IronicLab = {
        stateDir: p.stateDir,
        endpoints,
        httpEndpoints: p.httpEndpoints,
        httpsEndpoints: p.httpsEndpoints,
        username: p.username,
        password: p.password,
        caPem: p.caPem,
        caFile: p.caFile,
        conductorHosts: p.conductorHosts,
        subnet: p.subnet,
        startupSeconds: 0,

        async request<T = any>(method: string, urlPath: string, o: IronicRequestOptions = {}): Promise<IronicResponse<T>> {
            const url = new URL(urlPath, baseUrl(o.endpoint));
            const headers: Record<string, string> = {
                "X-OpenStack-Ironic-API-Version": IRONIC_API_VERSION,
                Accept: "application/json",
                ...(o.headers ?? {}),
            };
            const auth = o.auth ?? true;
            if (auth) {
                const cred = auth === true ? { username: p.username, password: p.password } : auth;
                headers.Authorization = "Basic " + Buffer.from(`${cred.username}:${cred.password}`).toString("base64");
            }
            let body: string | undefined;
            if (o.body !== undefined) {
                body = JSON.stringify(o.body);
                headers["Content-Type"] = "application/json";
            }
            const r = await rawRequest(url, method, headers, body, o.ca ?? p.caPem, o.timeoutMs ?? 30_000);
            let parsed: any;
            if (r.text) {
                try {
                    parsed = JSON.parse(r.text);
                } catch {
                    parsed = undefined;
                }
            }
            return { status: r.status, headers: r.headers, body: parsed as T, text: r.text };
        },

        async listNodes(endpoint) {
            return collect<IronicNode>(lab, "/v1/nodes/detail?limit=1000", "nodes", endpoint);
        },

        async conductors(endpoint) {
            return collect<IronicConductor>(lab, "/v1/conductors?detail=true", "conductors", endpoint);
        },

        async getNode(idOrName, endpoint) {
            const r = await lab.request<IronicNode>("GET", `/v1/nodes/${encodeURIComponent(idOrName)}`, { endpoint });
            if (r.status !== 200) throw new Error(`GET node ${idOrName}: HTTP ${r.status}: ${r.text}`);
            return r.body;
        },

        async createNode(fields, endpoint) {
            const r = await lab.request<IronicNode>("POST", "/v1/nodes", {
                endpoint,
                body: { driver: "fake-hardware", ...fields },
            });
            if (r.status !== 201) throw new Error(`POST /v1/nodes: HTTP ${r.status}: ${r.text}`);
            return r.body;
        },

        async setProvisionState(idOrName, target, endpoint) {
            const r = await lab.request("PUT", `/v1/nodes/${encodeURIComponent(idOrName)}/states/provision`, {
                endpoint,
                body: { target },
            });
            if (r.status !== 202) throw new Error(`provision ${target} on ${idOrName}: HTTP ${r.status}: ${r.text}`);
        },

        async waitForProvisionState(idOrName, state, timeoutMs = 30_000) {
            const deadline = Date.now() + timeoutMs;
            let node: IronicNode | undefined;
            for (;;) {
                node = await lab.getNode(idOrName);
                if (node.provision_state === state && !node.target_provision_state) return node;
                if (FAILED_STATES.has(node.provision_state) && node.provision_state !== state) {
                    throw new Error(`node ${idOrName} went to '${node.provision_state}' waiting for '${state}': ${node.last_error}`);
                }
                if (Date.now() > deadline) {
                    throw new Error(
                        `node ${idOrName} not '${state}' after ${timeoutMs} ms: ` +
                            `${node.provision_state} -> ${node.target_provision_state} (last_error: ${node.last_error})`,
                    );
                }
                await sleep(250);
            }
        },

        sql(query) {
            return new Promise<string>((resolve, reject) => {
                const user = typeof process.getuid === "function" && process.getuid() === 0 ? "root" : os.userInfo().username;
                const socket = path.join(p.stateDir, "mysql", "run", "mysqld.sock");
                execFile("mariadb", ["--no-defaults", "--protocol=socket", `--socket=${socket}`, "-u", user, "-N", "-B", "ironic", "-e", query], (err, stdout, stderr) =>
                    err ? reject(new Error(`SQL on the lab's database: ${stderr.trim() || err.message}`)) : resolve(stdout),
                );
            });
        },

        async wipeNodes() {
            const sql = (query: string) => lab.sql(query);
            const children = (await sql("SELECT table_name FROM information_schema.columns WHERE table_schema = 'ironic' AND column_name = 'node_id'")).split("\n").filter(Boolean);
            await sql(["SET FOREIGN_KEY_CHECKS = 0", ...children.map((t) => `DELETE FROM \`${t}\``), "DELETE FROM nodes", "SET FOREIGN_KEY_CHECKS = 1"].join("; "));
        },

        async deleteAllNodes() {
            const deadline = Date.now() + 120_000;
            for (;;) {
                const nodes = await lab.listNodes();
                if (nodes.length === 0) return;
                if (Date.now() > deadline) {
                    throw new Error(`deleteAllNodes: ${nodes.length} nodes left after 120 s, e.g. ${JSON.stringify(nodes[0]).slice(0, 400)}`);
                }
                await mapLimit(nodes, 10, async (node) => {
                    if (!DELETABLE_STATES.has(node.provision_state) && !node.maintenance) {
                        const m = await lab.request("PUT", `/v1/nodes/${node.uuid}/maintenance`, {
                            body: { reason: "ironicLocal.deleteAllNodes" },
                        });
                        if (m.status !== 202 && m.status !== 409) {
                            throw new Error(`maintenance on ${node.uuid}: HTTP ${m.status}: ${m.text}`);
                        }
                    }
                    const d = await lab.request("DELETE", `/v1/nodes/${node.uuid}`);
                    // 409: locked by a conductor right now -> next round
                    if (d.status !== 204 && d.status !== 404 && d.status !== 409 && d.status !== 400) {
                        throw new Error(`DELETE node ${node.uuid}: HTTP ${d.status}: ${d.text}`);
                    }
                });
                await sleep(200);
            }
        },

        async listPorts(endpoint) {
            return collect<IronicPort>(lab, "/v1/ports/detail?limit=1000", "ports", endpoint);
        },

        async kill(name, signal = "SIGKILL") {
            const pid = readPid(p.stateDir, name);
            if (pid === undefined || !pidAlive(pid)) throw new Error(`lab process ${name} is not running`);
            process.kill(-pid, signal); // start.sh made it a process group leader (setsid)
            const deadline = Date.now() + 60_000;
            while (groupRunning(pid)) {
                if (Date.now() > deadline) throw new Error(`lab process ${name} (pid ${pid}) still running 60 s after ${signal}`);
                await sleep(100);
            }
        },

        async startMissing() {
            await runScript(p.startArgs, 180_000);
            await waitReady(lab, p.readyTimeoutMs, p.readyTimeoutMs);
        },

        requestsServedOverTls() {
            return p.servers.map((server) => server.requestsServed);
        },
        servedOverTls() {
            return p.servers.flatMap((server) => server.served).sort((a, b) => a.at - b.at);
        },
        alsoOn: p.alsoOnEndpoints ? { endpoints: p.alsoOnEndpoints, requestsServed: () => p.alsoOnServers.map((s) => s.requestsServed) } : undefined,
        logTail(name, lines = 25) {
            return tailFile(path.join(p.stateDir, "log", `${name}.log`), lines);
        },

        async stop(o = {}) {
            if (stopped) return;
            stopped = true;
            for (const s of [...p.servers, ...p.alsoOnServers]) await closeServer(s);
            const wipe = o.wipe ?? !p.keep;
            try {
                await runScript([STOP_SH, p.stateDir, ...(wipe ? ["--wipe"] : [])], 120_000);
            } finally {
                running.delete(p.stateDir);
                releaseSubnet(p.reg.subnetLock);
                removeStateRootIfEmpty();
            }
        },
    };
    return lab;
}

/** Whether any process of group `pgid` runs (zombies do not count: nobody may reap them in a container). */
function groupRunning(pgid: number): boolean {
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            if (Number(pgrp) === pgid && state !== "Z" && state !== "X") return true;
        } catch {
            /* exited meanwhile */
        }
    }
    return false;
}

/** Follow Ironic's `next` links; returns every item of `key`. */
async function collect<T>(lab: IronicLab, firstPath: string, key: string, endpoint?: string | number): Promise<T[]> {
    const out: T[] = [];
    let next: string | undefined = firstPath;
    for (let page = 0; next && page < 10_000; page++) {
        const r: IronicResponse = await lab.request("GET", next, { endpoint });
        if (r.status !== 200) throw new Error(`GET ${next}: HTTP ${r.status}: ${r.text}`);
        out.push(...((r.body?.[key] ?? []) as T[]));
        // keep our own endpoint (the link may name http:// behind the TLS proxy)
        next = r.body?.next ? (() => { const u = new URL(r.body.next); return u.pathname + u.search; })() : undefined;
    }
    return out;
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
    let i = 0;
    const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
        while (i < items.length) await fn(items[i++]);
    });
    await Promise.all(workers);
}
