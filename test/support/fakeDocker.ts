// A fake `docker` CLI for running the lab's generated scripts (containerCommand,
// registry mirror/pull steps) with /bin/sh: state lives in files under a temp
// directory, every call is logged, and knobs in the environment pick how
// containers behave (FAKE_HEALTH, FAKE_STATE_AFTER_START, FAKE_EXIT, FAKE_PUSH_FAIL).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { shQuote } from "../../components/shell";

export interface FakeDocker {
    readonly dir: string;
    readonly bin: string;
    /** Runs a script with /bin/sh (dash on Debian, like local.Command) and the fake docker first on PATH. */
    run(script: string, env?: Record<string, string>, stdin?: string): { status: number | null; stdout: string; stderr: string };
    /** `docker ...` calls so far, one per line. */
    log(): string[];
    /** Seeds a container as if another run (or another tool) had created it. */
    addContainer(name: string, labels: Record<string, string>, state?: string): void;
    addVolume(name: string, labels: Record<string, string>): void;
    addImage(ref: string): void;
    hasContainer(name: string): boolean;
    hasVolume(name: string): boolean;
    hasImage(ref: string): boolean;
    container(name: string): { labels: Record<string, string>; args: string[]; state: string; files: Record<string, { content: string; mode: number }>; tarListing: string };
    cleanup(): void;
}

const FAKE = String.raw`#!/usr/bin/env bash
set -u
S=__STATE__
echo "docker $*" >>"$S/log"
key() { printf '%s' "$1" | tr '/:@' '___'; }
label_of() { # file key
  local v; v=$(grep -m1 "^$2=" "$1" 2>/dev/null | cut -d= -f2-); printf '%s\n' "\${v:-<no value>}"; }
cmd=$1; shift
case $cmd in
  container)
    sub=$1; shift
    [ "$sub" = inspect ] || { echo "fake docker: container $sub" >&2; exit 2; }
    fmt=
    if [ "$1" = --format ]; then fmt=$2; shift 2; fi
    c="$S/containers/$1"
    [ -d "$c" ] || { echo "Error: No such container: $1" >&2; exit 1; }
    case $fmt in
      '') echo "[{}]" ;;
      '{{.Id}}') echo "id-$1" ;;
      '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}')
        st=$(cat "$c/state"); if [ "$st" = running ]; then echo "running \${FAKE_HEALTH:-healthy}"; else echo "$st "; fi ;;
      '{{index .Config.Labels "'*'"}}') k=\${fmt#*\"}; k=\${k%\"*}; label_of "$c/labels" "$k" ;;
      *) echo "fake docker: format $fmt" >&2; exit 2 ;;
    esac ;;
  create)
    name=; labels=(); args=("$@")
    while [ $# -gt 0 ]; do
      case $1 in
        --name) name=$2; shift 2 ;;
        --label) labels+=("$2"); shift 2 ;;
        -e|-v|--network|--restart|--health-cmd|--health-interval|--health-timeout|--health-retries|--health-start-period|--entrypoint) shift 2 ;;
        -*) echo "fake docker: create flag $1" >&2; exit 2 ;;
        *) break ;;
      esac
    done
    image=$1
    c="$S/containers/$name"
    [ -d "$c" ] && { echo "Error response from daemon: Conflict. The container name \"/$name\" is already in use" >&2; exit 1; }
    [ -e "$S/images/$(key "$image")" ] || { echo "Unable to find image '$image' locally" >&2; touch "$S/images/$(key "$image")"; }
    mkdir -p "$c/fs"; printf '%s\n' "\${labels[@]}" >"$c/labels"; printf '%s\n' "\${args[@]}" >"$c/args"; echo created >"$c/state"
    echo "id-$name" ;;
  cp)
    [ "$1" = - ] || { echo "fake docker: cp from $1" >&2; exit 2; }
    name=\${2%%:*}; c="$S/containers/$name"
    [ -d "$c" ] || { echo "Error: No such container: $name" >&2; exit 1; }
    cat >"$c/cp.tar"; tar -xf "$c/cp.tar" -C "$c/fs" ;;
  start)
    attach=no; [ "$1" = -a ] && { attach=yes; shift; }
    c="$S/containers/$1"; [ -d "$c" ] || { echo "Error: No such container: $1" >&2; exit 1; }
    if [ $attach = yes ]; then echo "output of $1"; echo exited >"$c/state"; echo "\${FAKE_EXIT:-0}" >"$c/exitcode"; exit "\${FAKE_EXIT:-0}"; fi
    echo "\${FAKE_STATE_AFTER_START:-running}" >"$c/state" ;;
  wait) cat "$S/containers/$1/exitcode" ;;
  logs) echo "last log line of \${@: -1}" ;;
  rm)
    force=no; [ "$1" = -f ] && { force=yes; shift; }
    c="$S/containers/$1"; [ -d "$c" ] || { echo "Error: No such container: $1" >&2; exit 1; }
    [ $force = no ] && [ "$(cat "$c/state")" = running ] && { echo "cannot remove a running container" >&2; exit 1; }
    rm -rf "$c" ;;
  volume)
    sub=$1; shift
    case $sub in
      inspect)
        fmt=; if [ "$1" = --format ]; then fmt=$2; shift 2; fi
        v="$S/volumes/$1"; [ -d "$v" ] || { echo "Error: No such volume: $1" >&2; exit 1; }
        if [ -n "$fmt" ]; then k=\${fmt#*\"}; k=\${k%\"*}; label_of "$v/labels" "$k"; fi ;;
      create)
        labels=(); while [ "$1" = --label ]; do labels+=("$2"); shift 2; done
        mkdir -p "$S/volumes/$1"; [ -f "$S/volumes/$1/labels" ] || printf '%s\n' "\${labels[@]}" >"$S/volumes/$1/labels"; echo "$1" ;;
      rm) [ -d "$S/volumes/$1" ] || exit 1; rm -rf "$S/volumes/$1" ;;
      *) echo "fake docker: volume $sub" >&2; exit 2 ;;
    esac ;;
  image)
    sub=$1; shift
    case $sub in
      inspect) [ -e "$S/images/$(key "$1")" ] ;;
      rm) [ -e "$S/images/$(key "$1")" ] || { echo "No such image: $1" >&2; exit 1; }; rm "$S/images/$(key "$1")" ;;
      *) echo "fake docker: image $sub" >&2; exit 2 ;;
    esac ;;
  pull) [ "$1" = -q ] && shift; touch "$S/images/$(key "$1")"; echo "$1" ;;
  tag) [ -e "$S/images/$(key "$1")" ] || exit 1; touch "$S/images/$(key "$2")" ;;
  push) [ "$1" = -q ] && shift; [ -n "\${FAKE_PUSH_FAIL:-}" ] && { echo "push failed" >&2; exit 1; }; [ -e "$S/images/$(key "$1")" ] || exit 1; echo "$1" ;;
  *) echo "fake docker: unsupported $cmd" >&2; exit 2 ;;
esac
`;

function key(ref: string): string {
    return ref.replace(/[/:@]/g, "_");
}

export function fakeDocker(): FakeDocker {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-docker-"));
    const bin = path.join(dir, "bin");
    const state = path.join(dir, "state");
    for (const d of [bin, state, path.join(state, "containers"), path.join(state, "volumes"), path.join(state, "images")]) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(state, "log"), "");
    // String.raw keeps the \${...} escapes literal: undo them for bash.
    fs.writeFileSync(path.join(bin, "docker"), FAKE.replace("__STATE__", shQuote(state)).replace(/\\\$\{/g, "${"), { mode: 0o755 });
    // Health polls sleep between rounds: no need to wait for real.
    fs.writeFileSync(path.join(bin, "sleep"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const writeLabels = (file: string, labels: Record<string, string>) => fs.writeFileSync(file, Object.entries(labels).map(([k, v]) => `${k}=${v}\n`).join(""));
    return {
        dir,
        bin,
        run(script, env = {}, stdin) {
            const r = spawnSync("/bin/sh", ["-c", script], { encoding: "utf8", input: stdin ?? "", env: { ...process.env, ...env, PATH: `${bin}:${process.env.PATH}` } });
            return { status: r.status, stdout: r.stdout, stderr: r.stderr };
        },
        log: () => fs.readFileSync(path.join(state, "log"), "utf8").split("\n").filter((l) => l),
        addContainer(name, labels, st = "running") {
            const c = path.join(state, "containers", name);
            fs.mkdirSync(path.join(c, "fs"), { recursive: true });
            writeLabels(path.join(c, "labels"), labels);
            fs.writeFileSync(path.join(c, "args"), "");
            fs.writeFileSync(path.join(c, "state"), `${st}\n`);
        },
        addVolume(name, labels) {
            fs.mkdirSync(path.join(state, "volumes", name), { recursive: true });
            writeLabels(path.join(state, "volumes", name, "labels"), labels);
        },
        addImage: (ref) => fs.writeFileSync(path.join(state, "images", key(ref)), ""),
        hasContainer: (name) => fs.existsSync(path.join(state, "containers", name)),
        hasVolume: (name) => fs.existsSync(path.join(state, "volumes", name)),
        hasImage: (ref) => fs.existsSync(path.join(state, "images", key(ref))),
        container(name) {
            const c = path.join(state, "containers", name);
            const labels = Object.fromEntries(
                fs.readFileSync(path.join(c, "labels"), "utf8").split("\n").filter((l) => l).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
            );
            const files: Record<string, { content: string; mode: number }> = {};
            const walk = (d: string) => {
                for (const e of fs.readdirSync(d, { withFileTypes: true })) {
                    const p = path.join(d, e.name);
                    if (e.isDirectory()) walk(p);
                    else files["/" + path.relative(path.join(c, "fs"), p)] = { content: fs.readFileSync(p, "utf8"), mode: fs.statSync(p).mode & 0o777 };
                }
            };
            walk(path.join(c, "fs"));
            const tarFile = path.join(c, "cp.tar");
            const tarListing = fs.existsSync(tarFile) ? spawnSync("tar", ["-tvf", tarFile, "--numeric-owner"], { encoding: "utf8" }).stdout : "";
            return {
                labels,
                args: fs.readFileSync(path.join(c, "args"), "utf8").split("\n").slice(0, -1),
                state: fs.readFileSync(path.join(c, "state"), "utf8").trim(),
                files,
                tarListing,
            };
        },
        cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
}
