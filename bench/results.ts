// bench/RESULTS.md as sections, one per bench section, each saying which run
// measured it. A `--only` run replaces its own sections and keeps the others,
// so one section can be measured again on a quiet machine without losing the
// rest (each keeps the provenance of the run that measured it).

export interface MeasuredSection {
    readonly title: string;
    readonly markdown: string;
    /** One line: the command, date, commit and duration of the run that measured it. */
    readonly provenance: string;
}

const PREAMBLE = [
    "# Benchmark results",
    "",
    "Written by `npm run bench`; every figure below is from the run named under its section's heading (command, date, commit).",
].join("\n");

export interface Results {
    readonly sections: readonly MeasuredSection[];
    /** The last run of every section: its command, date and duration (a `--only` run keeps it). */
    readonly wholeRun?: string;
}

/** The sections of an earlier RESULTS.md, in order, and its whole-run line (none if it is absent or not in this shape). */
export function parseResults(text: string | undefined): Results {
    if (!text) return { sections: [] };
    const [head, ...parts] = text.split(/^## /m);
    const wholeRun = /^- whole run: (.*)$/m.exec(head)?.[1];
    const sections = parts.map((part) => {
        const nl = part.indexOf("\n");
        const title = (nl < 0 ? part : part.slice(0, nl)).trim();
        const body = (nl < 0 ? "" : part.slice(nl + 1)).trim();
        const m = /^_(measured by .*)_\n*/.exec(body);
        return { title, provenance: m ? m[1] : "measured by an earlier run", markdown: m ? body.slice(m[0].length).trim() : body };
    });
    return { sections, ...(wholeRun ? { wholeRun } : {}) };
}

/**
 * The new RESULTS.md: `fresh` sections replace those of the same title in
 * `previous` (in place), others of `previous` are kept, and new ones follow
 * in the order they ran.
 */
export function renderResults(previous: Results, fresh: readonly MeasuredSection[], machine: string, wholeRun = previous.wholeRun): string {
    const byTitle = new Map(fresh.map((s) => [s.title, s]));
    const kept = previous.sections.map((s) => byTitle.get(s.title) ?? s);
    const added = fresh.filter((s) => !previous.sections.some((p) => p.title === s.title));
    const head = [`- machine: ${machine}`, ...(wholeRun ? [`- whole run: ${wholeRun}`] : [])].join("\n");
    return [PREAMBLE, head, ...[...kept, ...added].map((s) => `## ${s.title}\n\n_${s.provenance}_\n\n${s.markdown}`)].join("\n\n") + "\n";
}
