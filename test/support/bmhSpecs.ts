// Specs for the Kubernetes batch provider tests: BareMetalHosts with unique names, MACs and BMC
// addresses per prefix, one-node clusters on them, and the failure a batch operation throws.
import type { ClusterSpec } from "../../components/clusters/render";
import type { BmhSpec } from "../../components/enroll/bareMetalHostBatch";

/** `count` hosts named `<prefix>-host-NNNNN`; `macByte` keeps MACs apart between prefixes of one test. */
export function bmhSpecs(prefix: string, count: number, macByte: number): BmhSpec[] {
    return Array.from({ length: count }, (_, i) => {
        const hex = i.toString(16).padStart(4, "0");
        return {
            name: `${prefix}-host-${String(i).padStart(5, "0")}`,
            bootMac: `00:5c:52:${macByte.toString(16).padStart(2, "0")}:${hex.slice(0, 2)}:${hex.slice(2)}`,
            bmcAddress: `redfish+http://192.168.111.1:8000/redfish/v1/Systems/27946b59-9e44-4fa7-8e91-f3527a${hex}aa`,
            bootMode: "legacy",
            online: true,
        };
    });
}

/** `count` one-node clusters `<prefix>-cluster-NNNNN`, each on the host of the same number (bmhSpecs' names). */
export function clusterSpecs(prefix: string, count: number): ClusterSpec[] {
    return Array.from({ length: count }, (_, i) => ({ name: `${prefix}-cluster-${String(i).padStart(5, "0")}`, controlPlaneHost: `${prefix}-host-${String(i).padStart(5, "0")}`, workerHosts: [] }));
}

/** The node image workload clusters "deploy", at the lab host's default image cache. */
export const NODE_IMAGE_SPEC = { url: "http://172.22.0.1:6280/images/node-image.raw", checksum: "http://172.22.0.1:6280/images/node-image.raw.sha256sum", checksumType: "sha256", format: "raw" } as const;

/** A provider operation's error as Pulumi sees it: a failed batch carries its id and outs. */
export type BatchFailure = Error & { id: string; properties: Record<string, any> };

/** The error `run` throws; fails the test when it does not throw. */
export async function failureOf(run: () => Promise<unknown>): Promise<BatchFailure> {
    try {
        await run();
    } catch (err) {
        return err as BatchFailure;
    }
    throw new Error("expected the operation to fail");
}
