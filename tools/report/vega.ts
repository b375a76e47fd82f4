// Vega-Lite spec -> Vega spec -> SVG text, in Node (no browser, no canvas: vega's headless
// "none" renderer with its SVG string output).
import type { TopLevelSpec } from "vega-lite/build/index";

type VegaModule = typeof import("vega");
type VegaLiteModule = typeof import("vega-lite/build/index");

// vega 6 and vega-lite 6 are ES modules only (with a top-level await inside vega): they load
// through import(), which tsx keeps as a real dynamic import; a specifier held in a variable keeps
// TypeScript's "node" resolution (which cannot see vega-lite's "exports" types) out of the way.
const VEGA = "vega";
const VEGA_LITE = "vega-lite";
let modules: Promise<[VegaModule, VegaLiteModule]> | undefined;

function load(): Promise<[VegaModule, VegaLiteModule]> {
    modules ??= Promise.all([import(VEGA) as Promise<VegaModule>, import(VEGA_LITE) as Promise<VegaLiteModule>]);
    return modules;
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
    const [vega, vegaLite] = await load();
    const compiled = vegaLite.compile(spec).spec;
    const view = new vega.View(vega.parse(compiled), { renderer: "none", logLevel: vega.Warn });
    try {
        return await view.toSVG();
    } finally {
        view.finalize();
    }
}
