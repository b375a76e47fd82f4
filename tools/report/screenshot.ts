// A PNG of a report page as headless Chromium draws it (README's picture):
//   node --import=tsx tools/report/screenshot.ts <report.html> <out.png> [--width 1600] [--height 1700]
// Fails when the page logs an error, loads anything but itself, or a chart draws nothing.
import * as fs from "fs";
import * as path from "path";
import { pathToFileURL } from "url";
import { parseArgs } from "../cli/args";
import { openInChromium } from "./browser";

export async function main(argv: readonly string[]): Promise<void> {
    const [htmlArg, pngArg, ...flags] = argv;
    if (!htmlArg || !pngArg || htmlArg.startsWith("--") || pngArg.startsWith("--")) throw new Error("usage: screenshot.ts <report.html> <out.png> [--width N] [--height N]");
    const args = parseArgs(flags, { values: ["width", "height"] });
    const [html, png] = [path.resolve(htmlArg), path.resolve(pngArg)];
    const view = await openInChromium(html, { width: Number(args.values.width ?? 1600), maxHeight: args.values.height ? Number(args.values.height) : undefined });
    const problems = [
        ...view.consoleErrors,
        ...view.requests.filter((u) => u !== pathToFileURL(html).href).map((u) => `loaded ${u}`),
        ...view.charts.filter((c) => c.dataMarks === 0).map((c) => `chart ${c.id} draws nothing`),
    ];
    if (problems.length > 0) throw new Error(problems.join("\n"));
    fs.writeFileSync(png, view.screenshot);
    console.log(`wrote ${png} (${view.charts.length} charts, ${Math.round(view.screenshot.length / 1024)} KiB)`);
}

if (require.main === module) {
    main(process.argv.slice(2)).catch((err: unknown) => {
        console.error(`screenshot: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
    });
}
