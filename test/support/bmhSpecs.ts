// BareMetalHost specs for provider tests: unique names, MACs and BMC addresses per prefix.
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
