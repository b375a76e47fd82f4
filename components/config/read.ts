// Reads this project's stack config from the Pulumi runtime into a RawConfig.
// Everything is read as text and parsed by loadLabConfig, so every problem is
// reported together instead of the first getNumber() failure stopping the run.
import * as pulumi from "@pulumi/pulumi";
import { OBJECT_KEYS, PROJECT, RawConfig } from "./load";

export function readRawConfig(): RawConfig {
    const raw: Record<string, unknown> = {};
    const prefix = `${PROJECT}:`;
    for (const [fullKey, text] of Object.entries(pulumi.runtime.allConfig())) {
        if (!fullKey.startsWith(prefix)) continue;
        const key = fullKey.slice(prefix.length);
        raw[key] = (OBJECT_KEYS as readonly string[]).includes(key) ? parseObject(text) : text;
    }
    return raw;
}

/** Objects arrive as JSON text; a value that is not JSON is kept as text for the loader to report. */
function parseObject(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}
