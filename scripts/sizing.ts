// Prints what a stack needs from the lab host, for scripts/check-prereqs.sh:
//   npx tsx scripts/sizing.ts <stack>   ->   "<cpus> <memoryMiB> <diskGiB>"
// The stack's config is read as the Pulumi CLI would pass it (Pulumi.yaml, Pulumi.<stack>.yaml).
import { loadLabConfig } from "../components/config/load";
import { labHostSizing } from "../components/sizing";
import { rawStackConfig } from "./stackFiles";

const stack = process.argv[2];
if (!stack) {
    console.error("usage: sizing.ts <stack>");
    process.exit(2);
}
try {
    const need = labHostSizing(loadLabConfig(rawStackConfig(stack), stack));
    console.log(`${need.cpus} ${need.memoryMib} ${need.diskGib}`);
} catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
}
