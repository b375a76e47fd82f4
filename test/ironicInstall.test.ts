// scripts/ironic-local/install.sh leaves the host as it found it: the policy-rc.d that keeps package
// scripts from starting services exists only for the length of the install, and one that was there
// before is left alone. Run against fake dpkg-query/apt-get/debconf-set-selections/id on PATH.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const INSTALL_SH = path.resolve(__dirname, "..", "scripts", "ironic-local", "install.sh");

function fakeTools(dir: string, policy: string, log: string): string {
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    const tool = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    // Nothing installed yet: every package is missing, so the install path runs.
    tool("dpkg-query", "exit 1");
    tool("debconf-set-selections", "cat >/dev/null");
    tool("id", '[ "$1" = "-u" ] && echo 0 || /usr/bin/id "$@"');
    // apt-get notes whether service starts are blocked while it runs.
    tool("apt-get", `if [ -e '${policy}' ]; then echo "apt-get $1: blocked by $(tail -n1 '${policy}')" >>'${log}'; else echo "apt-get $1: not blocked" >>'${log}'; fi`);
    return bin;
}

function runInstall(dir: string, policy: string, log: string) {
    const bin = fakeTools(dir, policy, log);
    return spawnSync("bash", [INSTALL_SH], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, METAL3_POLICY_RC_D: policy } });
}

describe("ironic-local install.sh and the host's policy-rc.d", () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "install-sh-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("blocks service starts only while packages install, then removes the policy it created", () => {
        const policy = path.join(dir, "policy-rc.d");
        const log = path.join(dir, "apt.log");
        const run = runInstall(dir, policy, log);
        assert.match(run.stdout, /install.sh: installing/);
        assert.deepEqual(fs.readFileSync(log, "utf8").trim().split("\n"), ["apt-get update: blocked by exit 101", "apt-get install: blocked by exit 101"]);
        assert.equal(fs.existsSync(policy), false, "the policy-rc.d it created is gone, whatever the install's outcome");
    });

    it("leaves a policy-rc.d that was there before exactly as it was", () => {
        const policy = path.join(dir, "policy-rc.d");
        const log = path.join(dir, "apt.log");
        fs.writeFileSync(policy, "#!/bin/sh\n# the host's own\nexit 0\n", { mode: 0o755 });
        runInstall(dir, policy, log);
        assert.equal(fs.readFileSync(policy, "utf8"), "#!/bin/sh\n# the host's own\nexit 0\n");
        assert.match(fs.readFileSync(log, "utf8"), /apt-get install: blocked by exit 0/);
    });
});
