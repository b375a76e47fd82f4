// Appends JSON Lines to one file of a run record: buffered in memory, written
// at most every `flushMs` and on flush() (never a write per event). A failure
// to create or write the file warns once (per run dir and process) and turns
// this writer off: a record is never worth failing a batch for.
//
// Serialized into `__provider` with the batch providers: fields are assigned
// in the constructor and `fs` is loaded inside methods.

export interface WriterOptions {
    /** Longest time an event waits in memory (default 1000 ms). */
    readonly flushMs?: number;
    readonly warn?: (message: string) => void;
}

/** Warns once per key in this process (every batch of a run shares its run dir's warning). */
export function warnOnce(key: string, message: string, warn: (message: string) => void = (m) => console.warn(m)): void {
    const g = globalThis as { __metal3ScaleLabRecordWarned?: Record<string, boolean> };
    const warned = (g.__metal3ScaleLabRecordWarned ??= {});
    if (warned[key]) return;
    warned[key] = true;
    warn(message);
}

export class JsonlWriter {
    private buffer: string[];
    private timer: ReturnType<typeof setTimeout> | undefined;
    private pending: Promise<void>;
    private disabled: boolean;
    private ready: boolean;
    private readonly flushMs: number;
    private readonly warn: (message: string) => void;

    constructor(
        readonly runDir: string,
        /** Path inside the run dir, e.g. events/dev_ironic-batch-000.jsonl. */
        readonly file: string,
        options: WriterOptions = {},
    ) {
        this.buffer = [];
        this.timer = undefined;
        this.pending = Promise.resolve();
        this.disabled = false;
        this.ready = false;
        this.flushMs = options.flushMs ?? 1000;
        this.warn = options.warn ?? ((m) => console.warn(m));
    }

    /** False once a write failed: later events are dropped. */
    enabled(): boolean {
        return !this.disabled;
    }

    write(event: object): void {
        if (this.disabled) return;
        this.buffer.push(JSON.stringify(event));
        if (this.timer === undefined) {
            this.timer = setTimeout(() => void this.flush(), this.flushMs);
            // A pending flush never keeps the process alive; close() writes what is left.
            this.timer.unref?.();
        }
    }

    /** Writes what is buffered; resolves when it is on disk (or the writer turned itself off). */
    flush(): Promise<void> {
        if (this.timer !== undefined) clearTimeout(this.timer);
        this.timer = undefined;
        if (this.buffer.length > 0 && !this.disabled) {
            const text = `${this.buffer.join("\n")}\n`;
            this.buffer = [];
            this.pending = this.pending.then(() => this.append(text));
        }
        return this.pending;
    }

    private async append(text: string): Promise<void> {
        if (this.disabled) return;
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const fs = require("fs");
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const path = require("path");
        const target = path.join(this.runDir, this.file);
        try {
            if (!this.ready) {
                await fs.promises.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
                this.ready = true;
            }
            await fs.promises.appendFile(target, text, { mode: 0o600 });
        } catch (err) {
            this.disabled = true;
            this.buffer = [];
            warnOnce(this.runDir, `metal3-scale-lab: the run record cannot be written in ${this.runDir} (${err instanceof Error ? err.message : String(err)}); recording is off, the run goes on`, this.warn);
        }
    }
}
