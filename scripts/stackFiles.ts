// A stack's config as the Pulumi CLI hands it to the program: Pulumi.yaml's
// declared defaults, then Pulumi.<stack>.yaml, then overrides (tests, tools).
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { rawConfigOf } from "../components/config/read";

const ROOT = path.resolve(__dirname, "..");

/**
 * Stack config exactly as the CLI hands it to the program: Pulumi.yaml's
 * defaults, then Pulumi.<stack>.yaml, then the test's overrides (objects as JSON).
 */
export function stackConfig(stack: string, overrides: Record<string, unknown> = {}, project = "metal3-scale-lab"): Record<string, string> {
    const projectFile = parseYaml(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8"));
    const config: Record<string, string> = {};
    const put = (key: string, value: unknown) => {
        const full = key.includes(":") ? key : `${project}:${key}`;
        config[full] = typeof value === "object" ? JSON.stringify(value) : String(value);
    };
    for (const [key, decl] of Object.entries<any>(projectFile.config ?? {})) {
        if (decl && typeof decl === "object" && "default" in decl) put(key, decl.default);
    }
    const stackFile = path.join(ROOT, `Pulumi.${stack}.yaml`);
    if (fs.existsSync(stackFile)) {
        for (const [key, value] of Object.entries(parseYaml(fs.readFileSync(stackFile, "utf8")).config ?? {})) put(key, value);
    }
    for (const [key, value] of Object.entries(overrides)) put(key, value);
    return config;
}

/** Stack config as the program reads it (readRawConfig's own rule: near-miss namespaces kept for the loader to refuse). */
export function rawStackConfig(stack: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return rawConfigOf(stackConfig(stack, overrides));
}
