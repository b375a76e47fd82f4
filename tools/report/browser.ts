// Opens a report page in Debian's headless Chromium, driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: no port, no extra package), with networking cut off, and
// tells what a person would see: console errors, every request the page made, each chart's
// drawn SVG, and a PNG screenshot. Used by the browser test and by screenshot.ts (README's picture).
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { pathToFileURL } from "url";

export const CHROMIUM = process.env.CHROMIUM ?? "chromium";

export interface ChartView {
    readonly id: string;
    readonly width: number;
    readonly height: number;
    /** Data marks drawn (vega's role-mark paths with geometry), axes and legends not counted. */
    readonly dataMarks: number;
    readonly texts: number;
}

export interface PageView {
    readonly title: string;
    readonly consoleErrors: readonly string[];
    /** Every URL the page asked for (the page itself included). */
    readonly requests: readonly string[];
    readonly charts: readonly ChartView[];
    readonly bodyText: string;
    readonly screenshot: Buffer;
}

export interface OpenOptions {
    readonly width?: number;
    readonly height?: number;
    /** Screenshot the whole page (default) or only the viewport. */
    readonly fullPage?: boolean;
    /** Cut a full-page screenshot at this height (CSS pixels). */
    readonly maxHeight?: number;
    readonly timeoutMs?: number;
}

type Message = { id?: number; method?: string; params?: any; result?: any; error?: { message: string }; sessionId?: string };

class Cdp {
    private next = 1;
    private buffer = "";
    private readonly waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
    private readonly listeners: ((m: Message) => void)[] = [];

    constructor(private readonly proc: ChildProcess) {
        const input = proc.stdio[4] as NodeJS.ReadableStream;
        input.setEncoding("utf8");
        input.on("data", (chunk: string) => {
            this.buffer += chunk;
            let end: number;
            while ((end = this.buffer.indexOf("\0")) >= 0) {
                const msg = JSON.parse(this.buffer.slice(0, end)) as Message;
                this.buffer = this.buffer.slice(end + 1);
                if (msg.id !== undefined && this.waiting.has(msg.id)) {
                    const w = this.waiting.get(msg.id)!;
                    this.waiting.delete(msg.id);
                    if (msg.error) w.reject(new Error(`CDP: ${msg.error.message}`));
                    else w.resolve(msg.result);
                } else {
                    for (const l of this.listeners) l(msg);
                }
            }
        });
    }

    send(method: string, params: object = {}, sessionId?: string): Promise<any> {
        const id = this.next++;
        const out = this.proc.stdio[3] as NodeJS.WritableStream;
        return new Promise((resolve, reject) => {
            this.waiting.set(id, { resolve, reject });
            out.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + "\0");
        });
    }

    on(listener: (m: Message) => void): void {
        this.listeners.push(listener);
    }

    waitFor(pred: (m: Message) => boolean, timeoutMs: number, what: string): Promise<Message> {
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
            this.on((m) => {
                if (pred(m)) {
                    clearTimeout(timer);
                    resolve(m);
                }
            });
        });
    }
}

// Runs in the page: each chart section's SVG, measured as drawn.
const INSPECT = `(() => {
  const charts = [...document.querySelectorAll('section.chart')].map((s) => {
    const svg = s.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    // A data mark counts when drawn with a size: areas, bars and dots in both directions, lines and rules in one.
    const marks = svg ? [...svg.querySelectorAll('g.role-mark > path, g.role-mark > line')].filter((p) => {
      const d = p.getAttribute('d') || '';
      if (p.tagName === 'path' && (d === '' || d.includes('NaN'))) return false;
      const b = p.getBBox();
      const linear = /mark-(line|rule)/.test(p.parentNode.getAttribute('class'));
      return linear ? b.width > 0 || b.height > 0 : b.width > 0 && b.height > 0;
    }).length : 0;
    return { id: s.dataset.chart, width: box.width, height: box.height, dataMarks: marks, texts: svg ? svg.querySelectorAll('text').length : 0 };
  });
  return { title: document.title, charts, bodyText: document.body.innerText };
})()`;

export async function openInChromium(file: string, options: OpenOptions = {}): Promise<PageView> {
    const width = options.width ?? 1600;
    const height = options.height ?? 1000;
    const timeoutMs = options.timeoutMs ?? 60_000;
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "report-chromium-"));
    const proc = spawn(
        CHROMIUM,
        [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--remote-debugging-pipe",
            `--user-data-dir=${profile}`,
            // No network: names resolve nowhere and anything else goes to a closed local port.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--font-render-hinting=none",
            `--window-size=${width},${height}`,
            "about:blank",
        ],
        // Its own process group: the helpers it forks (zygote, renderer) are ended with it. Its
        // temporary files (the profile's singleton socket directory) go into the profile, removed
        // below: a killed Chromium leaves them behind in the system temp directory otherwise.
        { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"], detached: true, env: { ...process.env, TMPDIR: profile } },
    );
    let stderr = "";
    proc.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    const failed = new Promise<never>((_, reject) => {
        proc.once("error", reject);
        proc.once("exit", (code) => reject(new Error(`chromium exited (${code}) before the page was read:\n${stderr}`)));
    });
    try {
        return await Promise.race([failed, drive(new Cdp(proc), file, width, height, options.fullPage ?? true, options.maxHeight, timeoutMs)]);
    } finally {
        if (proc.exitCode === null && proc.signalCode === null) {
            proc.kill("SIGTERM");
            const killer = setTimeout(() => proc.kill("SIGKILL"), 5000);
            await exited;
            clearTimeout(killer);
        }
        try {
            process.kill(-proc.pid!, "SIGKILL");
        } catch {
            // the group is gone already
        }
        // A helper may still be writing its profile files for a moment.
        fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    }
}

async function drive(cdp: Cdp, file: string, width: number, height: number, fullPage: boolean, maxHeight: number | undefined, timeoutMs: number): Promise<PageView> {
    const consoleErrors: string[] = [];
    const requests: string[] = [];
    cdp.on((m) => {
        if (m.method === "Runtime.consoleAPICalled" && ["error", "warning", "assert"].includes(m.params.type)) {
            consoleErrors.push(`console.${m.params.type}: ${m.params.args.map((a: any) => a.value ?? a.description).join(" ")}`);
        } else if (m.method === "Runtime.exceptionThrown") {
            consoleErrors.push(`exception: ${m.params.exceptionDetails.exception?.description ?? m.params.exceptionDetails.text}`);
        } else if (m.method === "Log.entryAdded" && m.params.entry.level === "error") {
            consoleErrors.push(`log: ${m.params.entry.text} ${m.params.entry.url ?? ""}`.trim());
        } else if (m.method === "Network.requestWillBeSent") {
            requests.push(m.params.request.url);
        }
    });
    const { targetInfos } = await cdp.send("Target.getTargets");
    const pageTarget = targetInfos.find((t: any) => t.type === "page");
    if (!pageTarget) throw new Error("chromium opened no page");
    const { sessionId } = await cdp.send("Target.attachToTarget", { targetId: pageTarget.targetId, flatten: true });
    const send = (method: string, params: object = {}) => cdp.send(method, params, sessionId);
    await Promise.all([send("Page.enable"), send("Runtime.enable"), send("Log.enable"), send("Network.enable")]);
    await send("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: false });
    const loaded = cdp.waitFor((m) => m.sessionId === sessionId && m.method === "Page.loadEventFired", timeoutMs, "the page's load event");
    const nav = await send("Page.navigate", { url: pathToFileURL(file).href });
    if (nav.errorText) throw new Error(`navigation failed: ${nav.errorText}`);
    await loaded;
    const { result, exceptionDetails } = await send("Runtime.evaluate", { expression: INSPECT, returnByValue: true });
    if (exceptionDetails) throw new Error(`page inspection failed: ${exceptionDetails.text}`);
    let clip: object | undefined;
    if (fullPage) {
        const metrics = await send("Page.getLayoutMetrics");
        const full = Math.ceil(metrics.cssContentSize.height);
        clip = { x: 0, y: 0, width, height: Math.min(full, maxHeight ?? full), scale: 1 };
    }
    const shot = await send("Page.captureScreenshot", { format: "png", captureBeyondViewport: fullPage, ...(clip ? { clip } : {}) });
    await cdp.send("Browser.close").catch(() => undefined);
    return { ...result.value, consoleErrors, requests, screenshot: Buffer.from(shot.data, "base64") };
}

/** Width and height from a PNG's IHDR chunk (throws when it is not a PNG). */
export function pngSize(png: Buffer): { width: number; height: number } {
    if (png.length < 24 || png.toString("latin1", 1, 4) !== "PNG" || png.toString("latin1", 12, 16) !== "IHDR") throw new Error("not a PNG");
    return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
