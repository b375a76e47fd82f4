// What each host batch costs the program and the stack state: every batch
// resource carries its serialized provider (`__provider`) as an input, so
// code the provider reaches by accident is paid once per batch, in every
// registration and in the state. The provider must reach its own code only,
// never the Pulumi SDK (which the program uses, the provider does not).
import { strict as assert } from "assert";
import { runLab } from "./support/labProgram";

describe("batch providers as serialized into each batch", function () {
    this.timeout(120_000);

    for (const mode of ["ironic", "bmo"] as const) {
        it(`${mode} mode: the provider carries none of the Pulumi SDK's code`, async () => {
            const run = await runLab("dev", { mode });
            const batches = run.resources.filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/enroll:"));
            assert.ok(batches.length > 0);
            const provider = String(batches[0].inputs.__provider);
            assert.ok(provider.startsWith("exports.handler"), "a serialized provider");
            // Reached through a module that imports the SDK (e.g. for startRun or kubeBatchProps), the closure
            // serializer copies the SDK's Output machinery and requires its files: about half of the text.
            assert.ok(!/require\("@pulumi\/pulumi\/[^"]*\.js"\)/.test(provider), "no file of the Pulumi SDK is required");
            assert.ok(!/\bOutputImpl\b/.test(provider), "no Output implementation is copied");
        });
    }
});
