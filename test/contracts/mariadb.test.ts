// Contract: what our MariaDB rendering relies on in metal3-io/mariadb-image at
// the pinned tag capm3-v1.11.0 ("MDB"), on BMO's mariadb component
// (baremetal-operator@v0.13.2) and on MariaDB's option-file order, the last
// checked against a real mariadbd (Debian package; same mysys code as the
// image's CentOS build).
import { strict as assert } from "node:assert";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { DEFAULT_IMAGES } from "../../components/config/defaults";
import {
    AUTH_MARIADB,
    MARIADB_CONF_KEY,
    MARIADB_DATA_DIR,
    mariadbConfigFile,
    mariadbDeploymentSpec,
    mariadbLimitJobSpec,
    mariadbLimitScript,
} from "../../components/ironic/render";
import { imageParts } from "../../components/registry/images";
import { requireToolOrSkip } from "../support/requireTool";

const MDB_RELEASE = "capm3-v1.11.0";

describe("contract: mariadb-image capm3-v1.11.0", () => {
    const spec = mariadbDeploymentSpec({ instance: "ironic", image: DEFAULT_IMAGES.mariadb, dbSecretName: "db", configMapName: "my-cnf", pvcName: "data" }) as any;
    const pod = spec.template.spec;
    const c = pod.containers[0];
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    const volumeAt = (mountPath: string) => pod.volumes.find((v: any) => v.name === c.volumeMounts.find((m: any) => m.mountPath === mountPath)?.name);

    it("is the release the lab pins", () => {
        assert.equal(imageParts(DEFAULT_IMAGES.mariadb).tag, MDB_RELEASE);
    });

    it("leaves the entrypoint alone and passes the login as /auth/mariadb/{password,username}", () => {
        // MDB Dockerfile:24 ENTRYPOINT /bin/runmariadb; runmariadb:5-15 reads /auth/mariadb/password unless
        // MARIADB_PASSWORD is set, :19-21 /auth/mariadb/username unless MARIADB_USER is set.
        assert.equal(c.command, undefined);
        assert.equal(AUTH_MARIADB, "/auth/mariadb");
        assert.deepEqual(volumeAt(AUTH_MARIADB).secret.items.map((i: any) => i.path).sort(), ["password", "username"]);
        assert.equal(env.MARIADB_PASSWORD, undefined);
        assert.equal(env.MARIADB_USER, undefined);
        // runmariadb:79-80 creates the user for MARIADB_HOST: "%" because the conductors connect from node IPs.
        assert.equal(env.MARIADB_HOST, "%");
    });

    it("runs as mysql (uid/gid 27) so a restart, which skips the first-boot config, still starts", () => {
        // MDB runmariadb:53-62 writes `user = $(whoami)` and max_connections to /etc/my.cnf.d/metal3.cnf only when
        // /var/lib/mysql/mysql is missing; every later start is a plain `exec mysqld` (:89-90), and mysqld started
        // as root without `user=` refuses to run. configure-nonroot.sh:8-22 makes my.cnf.d and /var/lib/mysql
        // writable for gid 27; BMO@v0.13.2 ironic-deployment/components/mariadb/mariadb_patch.yaml:18-19 runs uid/gid 27.
        assert.deepEqual([pod.securityContext.runAsUser, pod.securityContext.runAsGroup, pod.securityContext.runAsNonRoot], [27, 27, true]);
        assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    });

    it("keeps the data directory the image initialises on a PersistentVolumeClaim", () => {
        // MDB runmariadb:24 DATADIR=/var/lib/mysql, :53 first boot is decided by ${DATADIR}/mysql.
        assert.equal(MARIADB_DATA_DIR, "/var/lib/mysql");
        assert.deepEqual(volumeAt(MARIADB_DATA_DIR).persistentVolumeClaim, { claimName: "data" });
    });

    it("reads max_connections from $MYSQL_HOME/my.cnf, outside the image's /etc/my.cnf.d", () => {
        // MDB runmariadb:28 writes /etc/my.cnf.d/metal3.cnf and configure-nonroot.sh:16-18 needs that directory
        // writable: nothing of ours may be mounted over it.
        assert.ok(c.volumeMounts.every((m: any) => !m.mountPath.startsWith("/etc/my.cnf")), "my.cnf.d stays the image's");
        const conf = volumeAt(env.MYSQL_HOME);
        assert.equal(conf.configMap.name, "my-cnf");
        assert.deepEqual(conf.configMap.items, [{ key: MARIADB_CONF_KEY, path: "my.cnf" }]);
        // mysqld ignores world-writable option files.
        assert.equal(conf.configMap.defaultMode & 0o022, 0);
        assert.equal(env.MARIADB_MAX_CONNECTIONS, undefined, "first-boot only (runmariadb:33,56); the ConfigMap wins on every boot");
    });

    it("applies a new limit with a Job in the same image, as the same user, with the same login files", () => {
        const job = mariadbLimitJobSpec({ instance: "ironic", image: DEFAULT_IMAGES.mariadb, dbSecretName: "db", host: "ironic-mariadb.ironic.svc", maxConnections: 300 }) as any;
        const jobPod = job.template.spec;
        assert.equal(jobPod.containers[0].image, DEFAULT_IMAGES.mariadb, "the image ships the mysql client (mariadb-server requires it)");
        assert.equal(jobPod.securityContext.runAsUser, 27);
        assert.equal(jobPod.containers[0].volumeMounts[0].mountPath, AUTH_MARIADB);
    });

    describe("against a real mariadbd @real", function () {
        this.timeout(120_000);
        let dir = "";
        let server: ChildProcess | undefined;
        let port = 0;
        const password = randomBytes(18).toString("base64url");
        const asRoot = process.getuid?.() === 0;
        const sock = () => path.join(dir, "run", "mysqld.sock");
        const confDir = () => path.join(dir, "conf");
        const authDir = () => path.join(dir, "auth");
        const sqlAsAdmin = (sql: string): string => {
            const user = asRoot ? "root" : os.userInfo().username;
            const r = spawnSync("mariadb", ["--no-defaults", "--protocol=socket", `--socket=${sock()}`, "-u", user, "-N", "-B", "-e", sql], { encoding: "utf8" });
            if (r.status !== 0) throw new Error(`mariadb: ${r.stderr}`);
            return r.stdout.trim();
        };
        const maxConnections = () => Number(sqlAsAdmin("SELECT @@GLOBAL.max_connections"));

        async function startServer(): Promise<void> {
            // Option files are read as in the pod: no --no-defaults, MYSQL_HOME pointing at the rendered my.cnf.
            server = spawn(
                "mariadbd",
                [
                    ...(asRoot ? ["--user=mysql"] : []),
                    `--datadir=${path.join(dir, "data")}`,
                    `--socket=${sock()}`,
                    `--port=${port}`,
                    "--bind-address=127.0.0.1",
                    `--pid-file=${path.join(dir, "run", "mariadbd.pid")}`,
                    `--log-error=${path.join(dir, "run", "error.log")}`,
                    "--skip-name-resolve",
                ],
                { env: { ...process.env, MYSQL_HOME: confDir() }, stdio: "ignore" },
            );
            const deadline = Date.now() + 60_000;
            for (;;) {
                const ping = spawnSync("mariadb-admin", ["--no-defaults", `--socket=${sock()}`, "-u", asRoot ? "root" : os.userInfo().username, "ping"], { encoding: "utf8" });
                if (ping.status === 0) return;
                if (server.exitCode !== null || Date.now() > deadline) {
                    throw new Error(`mariadbd did not start: ${fs.readFileSync(path.join(dir, "run", "error.log"), "utf8").slice(-2000)}`);
                }
                await new Promise((r) => setTimeout(r, 250));
            }
        }

        async function stopServer(): Promise<void> {
            if (!server || server.exitCode !== null) return;
            const exited = new Promise((r) => server!.once("exit", r));
            server.kill("SIGTERM");
            await exited;
        }

        before(async function () {
            requireToolOrSkip(this, "mariadbd", "bash scripts/ironic-local/install.sh");
            dir = fs.mkdtempSync(path.join(os.tmpdir(), "lab-mariadb-contract-"));
            fs.chmodSync(dir, 0o755);
            for (const d of ["run", "conf", "auth"]) fs.mkdirSync(path.join(dir, d), { mode: 0o755 });
            if (asRoot) spawnSync("chown", ["mysql:mysql", path.join(dir, "run")]);
            port = await new Promise<number>((resolve) => {
                const s = net.createServer().listen(0, "127.0.0.1", () => {
                    const p = (s.address() as net.AddressInfo).port;
                    s.close(() => resolve(p));
                });
            });
            fs.writeFileSync(path.join(confDir(), "my.cnf"), mariadbConfigFile(173), { mode: 0o644 });
            fs.writeFileSync(path.join(authDir(), "username"), "ironic");
            fs.writeFileSync(path.join(authDir(), "password"), password);
            const install = spawnSync(
                "mariadb-install-db",
                ["--no-defaults", ...(asRoot ? ["--user=mysql"] : []), `--datadir=${path.join(dir, "data")}`, "--skip-test-db", "--auth-root-authentication-method=socket"],
                { encoding: "utf8" },
            );
            assert.equal(install.status, 0, install.stderr);
            await startServer();
            // What runmariadb:79-80 does on first boot, for the host we render.
            sqlAsAdmin(`CREATE USER 'ironic'@'%' IDENTIFIED BY '${password}'; GRANT ALL ON *.* TO 'ironic'@'%' WITH GRANT OPTION;`);
        });

        after(async () => {
            await stopServer();
            if (dir) fs.rmSync(dir, { recursive: true, force: true });
        });

        it("reads $MYSQL_HOME/my.cnf after the system option files", () => {
            const help = spawnSync("mariadbd", ["--help", "--verbose"], { env: { ...process.env, MYSQL_HOME: confDir() }, encoding: "utf8" }).stdout;
            const order = help.split("\n").find((l, i, all) => all[i - 1]?.startsWith("Default options are read from"))!.trim().split(/\s+/);
            assert.ok(order.indexOf(`${confDir()}/my.cnf`) > order.indexOf("/etc/my.cnf"), order.join(" "));
            const printed = spawnSync("mariadbd", ["--print-defaults"], { env: { ...process.env, MYSQL_HOME: confDir() }, encoding: "utf8" }).stdout;
            const limits = printed.match(/--max_connections=\d+/g) ?? [];
            assert.equal(limits.at(-1), "--max_connections=173", printed);
        });

        it("boots with the ConfigMap's limit, also after a restart", async () => {
            assert.equal(maxConnections(), 173);
            await stopServer();
            await startServer();
            assert.equal(maxConnections(), 173);
        });

        it("applies a new limit to the running server with the Job's script, without a restart", () => {
            const startedAt = () => Number(sqlAsAdmin("SELECT UNIX_TIMESTAMP() - VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'UPTIME'"));
            const before = startedAt();
            const r = spawnSync("sh", ["-c", mariadbLimitScript("127.0.0.1", port, 411, authDir())], { encoding: "utf8" });
            assert.equal(r.status, 0, r.stderr);
            assert.match(r.stdout, /max_connections = 411/);
            assert.equal(maxConnections(), 411);
            assert.ok(Math.abs(startedAt() - before) <= 1, "same server process");
            assert.ok(!r.stdout.includes(password) && !r.stderr.includes(password), "the password is never printed");
        });

        it("fails instead of passing when the login is wrong", () => {
            const bad = path.join(dir, "bad");
            fs.mkdirSync(bad);
            fs.writeFileSync(path.join(bad, "username"), "ironic");
            fs.writeFileSync(path.join(bad, "password"), "wrong");
            // A single try: the retry loop is cut short by replacing its sleep with an exit.
            const script = mariadbLimitScript("127.0.0.1", port, 99, bad).replace("sleep 5", "exit 3");
            const r = spawnSync("sh", ["-c", script], { encoding: "utf8" });
            assert.notEqual(r.status, 0);
            assert.equal(maxConnections(), 411);
        });
    });
});
