import { strict as assert } from "assert";
import { parseResults, renderResults } from "../bench/results";

describe("bench/RESULTS.md sections", () => {
    const a = { title: "Program size", markdown: "| a |\n\ntext A", provenance: "measured by `npm run bench` on day 1" };
    const b = { title: "Enrollment on real Ironic", markdown: "### sub\n\ntext B", provenance: "measured by `npm run bench` on day 1" };

    it("reads back what it wrote: titles, bodies (sub-headings included), provenance and the whole-run line", () => {
        const text = renderResults({ sections: [] }, [a, b], "2 × cpu", "900 s, `npm run bench`");
        const back = parseResults(text);
        assert.deepEqual(back.sections, [a, b]);
        assert.equal(back.wholeRun, "900 s, `npm run bench`");
    });

    it("an --only run replaces its own section in place, keeps the others and the last whole run", () => {
        const before = parseResults(renderResults({ sections: [] }, [a, b], "m", "900 s"));
        const a2 = { ...a, markdown: "text A again", provenance: "measured by `npm run bench -- --only program` on day 2" };
        const after = parseResults(renderResults(before, [a2], "m"));
        assert.deepEqual(after.sections, [a2, b]);
        assert.equal(after.wholeRun, "900 s");
    });

    it("a section the earlier file lacks is added after the others", () => {
        const after = parseResults(renderResults({ sections: [a] }, [b], "m"));
        assert.deepEqual(after.sections.map((s) => s.title), [a.title, b.title]);
    });
});
