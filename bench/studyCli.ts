// The study's way of driving Ironic (create_and_inspect_nodes.py), reproduced for
// the path IronicNodeBatch takes: one `baremetal` CLI subprocess per call; a pool
// of 100 creates each node (and here its port), then a pool of 30 takes each node
// through manage, inspect and provide, polling it with `baremetal node show` every
// 2 s after each. Credentials go in the environment, never on a command line.
import { execFile } from "child_process";
import { mapBounded, sleep } from "../components/enroll/bounded";
import type { IronicNodeSpec } from "../components/enroll/ironicNodeBatch";

export interface StudyTarget {
    /** The one endpoint the study's client was configured with. */
    readonly endpoint: string;
    readonly username: string;
    readonly password: string;
    readonly caFile: string;
    readonly apiVersion: string;
}

export interface StudyRun {
    readonly ms: number;
    /** CLI subprocesses started. */
    readonly calls: number;
}

export const STUDY_POOLS = { create: 100, states: 30, pollMs: 2000 } as const;

/** The steps after creation: the verb, and the state that ends its poll. */
const STEPS: readonly (readonly [string, string])[] = [
    ["manage", "manageable"],
    ["inspect", "manageable"],
    ["provide", "available"],
];

/** Enrolls `hosts` to available the study's way; rejects when a call fails or a node fails. */
export async function studyEnroll(target: StudyTarget, hosts: readonly IronicNodeSpec[]): Promise<StudyRun> {
    let calls = 0;
    const env = {
        ...process.env,
        OS_AUTH_TYPE: "http_basic",
        OS_ENDPOINT: target.endpoint,
        OS_USERNAME: target.username,
        OS_PASSWORD: target.password,
        OS_CACERT: target.caFile,
        OS_BAREMETAL_API_VERSION: target.apiVersion,
    };
    const baremetal = (...args: string[]) =>
        new Promise<string>((resolve, reject) => {
            calls++;
            execFile("baremetal", args, { env, timeout: 600_000 }, (err, stdout, stderr) => (err ? reject(new Error(`baremetal ${args.slice(0, 2).join(" ")}: ${stderr.trim() || err.message}`)) : resolve(stdout.trim())));
        });
    const until = async (uuid: string, state: string) => {
        for (;;) {
            const now = await baremetal("node", "show", uuid, "-f", "value", "-c", "provision_state");
            if (now === state) return;
            if (/failed|error/.test(now)) throw new Error(`node ${uuid} went to ${now}`);
            await sleep(STUDY_POOLS.pollMs);
        }
    };
    const start = performance.now();
    await mapBounded(hosts, STUDY_POOLS.create, async (spec) => {
        const props = Object.entries(spec.properties ?? {}).flatMap(([k, v]) => ["--property", `${k}=${v}`]);
        await baremetal("node", "create", "--driver", spec.driver, "--name", spec.name, "--uuid", spec.uuid, ...props, "-f", "value", "-c", "uuid");
        await baremetal("port", "create", spec.bootMac, "--node", spec.uuid, "--pxe-enabled", "true", "-f", "value", "-c", "uuid");
    });
    await mapBounded(hosts, STUDY_POOLS.states, async (spec) => {
        for (const [verb, state] of STEPS) {
            await baremetal("node", verb, spec.uuid);
            await until(spec.uuid, state);
        }
    });
    return { ms: performance.now() - start, calls };
}
