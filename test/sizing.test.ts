// What a stack needs from the lab host: the pure rule, the README table that quotes it, and the prereqs check using it.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { FAKE_IPA_MIB, labHostSizing, SUSHY_MIB } from "../components/sizing";
import { labConfig } from "./support/mockProgram";

const ROOT = path.resolve(__dirname, "..");

describe("lab host sizing", () => {
    it("adds the VM, the host's own share, and the lab host's part of the fleet", () => {
        const dev = labConfig("dev");
        const need = labHostSizing(dev);
        assert.equal(need.cpus, dev.managementCluster.cpus + 2 + 1);
        assert.equal(need.memoryMib, dev.managementCluster.memoryMb + 2048 + 256 + SUSHY_MIB + FAKE_IPA_MIB);
        assert.equal(need.diskGib, dev.managementCluster.diskGb + 40);
        // Remote docker hosts carry their share of the fleet: the lab host needs less.
        const remote = labConfig("scale1000", { dockerHosts: [{ name: "local", url: "unix:///var/run/docker.sock", address: "10.0.0.1" }, { name: "rack2", url: "ssh://root@10.0.0.12", address: "10.0.0.12" }] });
        assert.ok(labHostSizing(remote).memoryMib < labHostSizing(labConfig("scale1000")).memoryMib);
        // An existing cluster runs no VM here.
        const existing = labHostSizing(labConfig("dev", {
            managementCluster: { kind: "existing", kubeconfig: __filename, conductorNodes: [{ name: "a", address: "10.0.1.1" }, { name: "b", address: "10.0.1.2" }] },
            dockerHosts: [{ name: "local", url: "unix:///var/run/docker.sock", address: "10.0.0.1" }],
        }));
        assert.equal(existing.parts.vm.cpus, 0);
    });

    it("README's cost table quotes exactly what the rule gives for both stack files", () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        for (const stack of ["dev", "scale1000"]) {
            const need = labHostSizing(labConfig(stack));
            const row = readme.split("\n").find((l) => l.startsWith(`| \`${stack}\` |`));
            assert.ok(row, `README has a cost row for ${stack}`);
            const cells = row.split("|").map((c) => c.trim());
            assert.deepEqual(cells.slice(3, 6), [String(need.cpus), `${(need.memoryMib / 1024).toFixed(1)} GiB`, `${need.diskGib} GiB`], stack);
        }
    });

    it("check-prereqs.sh --stack compares this host with what the stack needs", function () {
        this.timeout(60_000);
        const need = labHostSizing(labConfig("dev"));
        const run = spawnSync("bash", [path.join(ROOT, "scripts", "check-prereqs.sh"), "--stack", "dev"], { encoding: "utf8", cwd: ROOT });
        const out = run.stdout + run.stderr;
        assert.match(out, new RegExp(`cpus +\\d+ CPUs.*needs ${need.cpus}`));
        assert.match(out, new RegExp(`memory +\\d+ MiB.*needs ${need.memoryMib}`));
        assert.match(out, new RegExp(`disk +\\d+ GiB.*needs ${need.diskGib}`));
    });
});
