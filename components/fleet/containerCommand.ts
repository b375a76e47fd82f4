// Lab containers managed with the docker CLI from a local.Command (pure script
// renderers plus one factory that wires them).
//
// docker.Container cannot take over a container it did not create: one left by
// an interrupted `pulumi up` is unknown to the state, and the re-run fails with
// "name already in use" (or, on the host network, the orphan holds the port).
// These scripts find the container by its fixed name and replace it when it
// carries this stack's label, refuse when it does not, and delete only ours.
// DOCKER_HOST selects the daemon, so ssh:// docker hosts work the same way.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { shQuote, shScript } from "../shell";

/** A file put into the container before it starts. */
export interface ContainerFile {
    /** Absolute path inside the container; missing parent directories are created. */
    readonly path: string;
    /** 0600 for secrets (the lab's images run as root), 0644 otherwise. */
    readonly mode: "0600" | "0644";
    /**
     * Where the script reads the content: the command's stdin (one file at
     * most, for content too large for an environment variable, e.g. a conf.py
     * with 1000 systems), or an environment variable of the command (secrets).
     */
    readonly source: { readonly stdin: true } | { readonly env: string };
}

export interface ContainerSpec {
    /** Fixed container name on its docker host. */
    readonly name: string;
    readonly image: string;
    /** Every label; `labels[ownerLabel]` is the stack that owns the container. */
    readonly labels: Readonly<Record<string, string>>;
    readonly ownerLabel: string;
    /** Plain (non-secret) container environment. */
    readonly env?: Readonly<Record<string, string>>;
    /** `docker create -v` specs (bind mounts and named volumes). */
    readonly mounts?: readonly string[];
    /** Named volumes this container owns: created with its labels, removed with it. */
    readonly volumes?: readonly string[];
    readonly entrypoint?: string;
    readonly args?: readonly string[];
    readonly files?: readonly ContainerFile[];
    /**
     * service: restarts unless stopped; the script returns once the health
     * command succeeds, or fails after `waitSeconds`. once: runs to completion,
     * the script fails on a non-zero exit; the container is removed either way.
     */
    readonly run: { readonly kind: "service"; readonly healthCmd: string; readonly waitSeconds: number } | { readonly kind: "once" };
}

/** Seconds between health polls (and docker's own health interval). */
export const HEALTH_POLL_SECONDS = 2;

/** `docker inspect` formats the scripts (and the tests' fake docker) rely on. */
export const FORMAT_STATE = "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}";
export const FORMAT_ID = "{{.Id}}";
export function formatContainerLabel(key: string): string {
    return `{{index .Config.Labels ${JSON.stringify(key)}}}`;
}
export function formatVolumeLabel(key: string): string {
    return `{{index .Labels ${JSON.stringify(key)}}}`;
}

function owner(spec: ContainerSpec): string {
    const value = spec.labels[spec.ownerLabel];
    if (!value) throw new Error(`container ${spec.name}: label ${spec.ownerLabel} must name the owning stack`);
    return value;
}

function validate(spec: ContainerSpec): void {
    owner(spec);
    const files = spec.files ?? [];
    if (files.filter((f) => "stdin" in f.source).length > 1) throw new Error(`container ${spec.name}: at most one file can come from stdin`);
    for (const f of files) {
        if (!/^\/[A-Za-z0-9._/-]+$/.test(f.path) || f.path.split("/").includes("..")) throw new Error(`container ${spec.name}: bad file path ${f.path}`);
        if ("env" in f.source && !/^[A-Z_][A-Z0-9_]*$/.test(f.source.env)) throw new Error(`container ${spec.name}: bad variable name ${f.source.env}`);
    }
}

/** Lines that remove a same-named container of this stack, or fail on anyone else's. */
function claimLines(spec: ContainerSpec): string[] {
    const label = formatContainerLabel(spec.ownerLabel);
    return [
        `if docker container inspect "$name" >/dev/null 2>&1; then`,
        `  found=$(docker container inspect --format ${shQuote(label)} "$name")`,
        `  if [ "$found" != "$owner" ]; then`,
        `    echo "a container named $name already exists and is not this stack's (label ${spec.ownerLabel}=$found): remove or rename it" >&2`,
        `    exit 1`,
        `  fi`,
        // Ours: left by an interrupted run or an earlier version of this spec.
        `  docker rm -f "$name" >/dev/null`,
        `fi`,
    ];
}

function volumeLines(spec: ContainerSpec): string[] {
    const label = formatVolumeLabel(spec.ownerLabel);
    const labels = Object.entries(spec.labels).map(([k, v]) => `--label ${shQuote(`${k}=${v}`)}`).join(" ");
    return (spec.volumes ?? []).flatMap((v) => [
        `if docker volume inspect ${shQuote(v)} >/dev/null 2>&1; then`,
        `  found=$(docker volume inspect --format ${shQuote(label)} ${shQuote(v)})`,
        `  if [ "$found" != "$owner" ]; then echo "a volume named ${v} already exists and is not this stack's (label ${spec.ownerLabel}=$found)" >&2; exit 1; fi`,
        `else`,
        `  docker volume create ${labels} ${shQuote(v)} >/dev/null`,
        `fi`,
    ]);
}

/** The `docker create` argument words (after `docker create`), each quoted. */
export function createArgs(spec: ContainerSpec): string[] {
    const words = ["--name", spec.name, "--network", "host"];
    for (const [k, v] of Object.entries(spec.labels)) words.push("--label", `${k}=${v}`);
    for (const [k, v] of Object.entries(spec.env ?? {})) words.push("-e", `${k}=${v}`);
    for (const m of spec.mounts ?? []) words.push("-v", m);
    if (spec.run.kind === "service") {
        words.push("--restart", "unless-stopped");
        words.push("--health-cmd", spec.run.healthCmd, "--health-interval", `${HEALTH_POLL_SECONDS}s`, "--health-timeout", "3s", "--health-retries", "3", "--health-start-period", "5s");
    }
    if (spec.entrypoint !== undefined) words.push("--entrypoint", spec.entrypoint);
    words.push(spec.image, ...(spec.args ?? []));
    return words.map(shQuote);
}

/** Writes the files into a private temporary directory and copies them in as one root-owned tar stream. */
function fileLines(spec: ContainerSpec): string[] {
    const files = spec.files ?? [];
    if (files.length === 0) return [];
    const rel = (f: ContainerFile) => f.path.slice(1);
    const dirs = [...new Set(files.map((f) => rel(f).split("/").slice(0, -1).join("/")).filter((d) => d))];
    return [
        `tmp=$(mktemp -d)`,
        `trap 'rm -rf "$tmp"' EXIT`,
        `umask 077`,
        ...dirs.map((d) => `mkdir -p "$tmp"/${shQuote(d)}`),
        ...files.flatMap((f) => [
            "stdin" in f.source ? `cat >"$tmp"/${shQuote(rel(f))}` : `printf '%s' "$${f.source.env}" >"$tmp"/${shQuote(rel(f))}`,
            `chmod ${f.mode} "$tmp"/${shQuote(rel(f))}`,
        ]),
        // Only file entries: docker creates missing parents and leaves existing directories as they are.
        `tar -C "$tmp" --owner=0 --group=0 --numeric-owner -cf "$tmp.tar" ${files.map((f) => shQuote(rel(f))).join(" ")}`,
        `docker cp - "$name:/" <"$tmp.tar"`,
        `rm -f "$tmp.tar"`,
    ];
}

function logsLines(why: string): string[] {
    return [`echo "${why}; its last log lines:" >&2`, `docker logs --tail 30 "$name" >&2 2>&1 || :`];
}

/** create (and update): claim the name, create, copy the files in, start, wait. Prints the container id. */
export function containerCreateScript(spec: ContainerSpec): string {
    validate(spec);
    const head = [`name=${shQuote(spec.name)}`, `owner=${shQuote(owner(spec))}`, ...claimLines(spec), ...volumeLines(spec)];
    const create = [`docker create ${createArgs(spec).join(" ")} >/dev/null`, ...fileLines(spec)];
    if (spec.run.kind === "once") {
        return shScript([
            ...head,
            ...create,
            // Its output is the step's log; its exit code decides.
            `docker start -a "$name" >&2 || :`,
            `code=$(docker wait "$name")`,
            `docker rm "$name" >/dev/null`,
            `if [ "$code" != 0 ]; then echo "container $name exited with status $code" >&2; exit 1; fi`,
        ]);
    }
    const wait = spec.run.waitSeconds;
    return shScript([
        ...head,
        ...create,
        `docker start "$name" >/dev/null`,
        `waited=0`,
        `while :; do`,
        `  state=$(docker container inspect --format ${shQuote(FORMAT_STATE)} "$name")`,
        `  case "$state" in`,
        `    "running healthy") break ;;`,
        `    running*) ;;`,
        `    *) ${logsLines("container $name stopped ($state) before it became healthy").join("; ")}; exit 1 ;;`,
        `  esac`,
        `  if [ "$waited" -ge ${wait} ]; then ${logsLines(`container $name not healthy after ${wait}s ($state)`).join("; ")}; exit 1; fi`,
        `  sleep ${HEALTH_POLL_SECONDS}`,
        `  waited=$((waited + ${HEALTH_POLL_SECONDS}))`,
        `done`,
        `docker container inspect --format ${shQuote(FORMAT_ID)} "$name"`,
    ]);
}

/** delete: removes the container (and its volumes) only when they carry this stack's label. */
export function containerDeleteScript(spec: ContainerSpec): string {
    validate(spec);
    const label = formatContainerLabel(spec.ownerLabel);
    const volumeLabel = formatVolumeLabel(spec.ownerLabel);
    return shScript([
        `name=${shQuote(spec.name)}`,
        `owner=${shQuote(owner(spec))}`,
        `if docker container inspect "$name" >/dev/null 2>&1; then`,
        `  found=$(docker container inspect --format ${shQuote(label)} "$name")`,
        `  if [ "$found" = "$owner" ]; then docker rm -f "$name" >/dev/null`,
        `  else echo "leaving container $name alone: it is not this stack's (label ${spec.ownerLabel}=$found)" >&2; fi`,
        `fi`,
        ...(spec.volumes ?? []).flatMap((v) => [
            `if docker volume inspect ${shQuote(v)} >/dev/null 2>&1; then`,
            `  found=$(docker volume inspect --format ${shQuote(volumeLabel)} ${shQuote(v)})`,
            `  if [ "$found" = "$owner" ]; then docker volume rm ${shQuote(v)} >/dev/null`,
            `  else echo "leaving volume ${v} alone: it is not this stack's (label ${spec.ownerLabel}=$found)" >&2; fi`,
            `fi`,
        ]),
    ]);
}

export interface LabContainerArgs {
    /** The container, with the image still an Input (a mirrored image is known once pushed). */
    readonly spec: Omit<ContainerSpec, "image"> & { readonly image: pulumi.Input<string> };
    /** DOCKER_HOST of the daemon that runs it (unix://, ssh://, tcp://). */
    readonly dockerHostUrl: string;
    /** Content of each file, keyed by its container path; secret Outputs stay secret (environment or stdin). */
    readonly fileContents?: Readonly<Record<string, pulumi.Input<string>>>;
}

/**
 * The local.Command that owns one lab container. Changing the spec or a file
 * re-runs create, which replaces our container; moving it to another docker
 * host replaces the resource, deleting the old container first (the name is
 * the same, so the new one must not exist when the old one is removed).
 */
export function labContainer(name: string, args: LabContainerArgs, opts: pulumi.CustomResourceOptions): command.local.Command {
    const files = args.spec.files ?? [];
    const content = (f: ContainerFile) => {
        const c = args.fileContents?.[f.path];
        if (c === undefined) throw new Error(`container ${args.spec.name}: no content for ${f.path}`);
        return c;
    };
    const environment: Record<string, pulumi.Input<string>> = { DOCKER_HOST: args.dockerHostUrl };
    for (const f of files) if ("env" in f.source) environment[f.source.env] = content(f);
    const stdinFile = files.find((f) => "stdin" in f.source);
    const script = pulumi.output(args.spec.image).apply((image) => containerCreateScript({ ...args.spec, image }));
    const deleteScript = containerDeleteScript({ ...args.spec, image: "" });
    return new command.local.Command(
        name,
        {
            create: script,
            update: script,
            delete: deleteScript,
            environment,
            stdin: stdinFile ? content(stdinFile) : undefined,
            // The scripts print no secret; stdout is only the container id.
            logging: "stderr",
            triggers: [args.dockerHostUrl, args.spec.name],
        },
        { ...opts, deleteBeforeReplace: true },
    );
}
