// Reads this project's stack config from the Pulumi runtime into a RawConfig.
// Everything is read as text and parsed by loadLabConfig, so every problem is
// reported together instead of the first getNumber() failure stopping the run.
import * as pulumi from "@pulumi/pulumi";
import { OBJECT_KEYS, PROJECT, RawConfig } from "./load";
import { isNearMiss } from "./spelling";

export function readRawConfig(): RawConfig {
    return rawConfigOf(pulumi.runtime.allConfig());
}

/**
 * Our keys without the namespace; keys under a namespace that looks like a
 * misspelling of ours (`metal3-scalelab:nodes`) are kept whole, so the loader
 * refuses them instead of the lab silently running without them.
 */
export function rawConfigOf(all: Readonly<Record<string, string>>): RawConfig {
    const raw: Record<string, unknown> = {};
    const prefix = `${PROJECT}:`;
    for (const [fullKey, text] of Object.entries(all)) {
        if (!fullKey.startsWith(prefix)) {
            const namespace = fullKey.slice(0, Math.max(fullKey.indexOf(":"), 0));
            if (isNearMiss(namespace, PROJECT)) raw[fullKey] = text;
            continue;
        }
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
