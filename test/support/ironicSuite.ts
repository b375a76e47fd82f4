// The hooks every real-Ironic provider suite shares: one lab for the suite
// (the suite skips off CI when Ironic cannot be had here, fails under CI=true),
// stopped after it, and the providers' progress lines (console.log) captured per test.
import { IronicLab, IronicLabOptions, requireIronicOrSkip, startIronicLab } from "./ironicLocal";

/**
 * Call inside a `describe`. `options` may be computed in the `before` hook (e.g. a port to refuse);
 * `started` receives the lab. Returns the current test's captured progress lines.
 */
export function realIronicSuite(options: IronicLabOptions | (() => Promise<IronicLabOptions>), started: (lab: IronicLab) => void): string[] {
    const logs: string[] = [];
    const realLog = console.log;
    let lab: IronicLab | undefined;
    before(async function () {
        requireIronicOrSkip(this);
        lab = await startIronicLab(typeof options === "function" ? await options() : options);
        started(lab);
    });
    after(async () => {
        console.log = realLog;
        await lab?.stop();
    });
    beforeEach(() => {
        logs.length = 0;
        console.log = (...args: unknown[]) => void logs.push(args.join(" "));
    });
    afterEach(() => {
        console.log = realLog;
    });
    return logs;
}
