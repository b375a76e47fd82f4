// Waiting in tests for something a simulated controller or a provider does in
// its own time: poll a condition, fail naming it at the timeout.

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until(what: string, cond: () => boolean, timeoutMs = 20_000, stepMs = 10): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!cond()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await sleep(stepMs);
    }
}
