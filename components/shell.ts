// POSIX shell helpers for the lab's local commands (`@pulumi/command`
// local.Command runs them with /bin/sh -c, which is dash on Debian/Ubuntu:
// nothing here may rely on bash).

/** One shell word, quoted so that the shell passes `value` through unchanged. */
export function shQuote(value: string): string {
    return `'${value.replace(/'/g, `'"'"'`)}'`;
}

/** A script from lines; `set -eu` first so a failing step fails the resource. */
export function shScript(lines: readonly string[]): string {
    return ["set -eu", ...lines].join("\n") + "\n";
}

/**
 * Runs privileged steps as root: directly when Pulumi runs as root, otherwise
 * through `sudo -n`, which fails at once instead of waiting for a password
 * nobody can type into `pulumi up`.
 */
export const SUDO_PREAMBLE = `if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO="sudo -n"; fi`;
