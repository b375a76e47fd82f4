// Reading a run record in tests: its events and every file it holds.
import * as fs from "fs";
import * as path from "path";
import type { RecordEvent } from "../../components/record/format";

/** Every regular file under `dir`, recursively (links such as `latest` are not followed). */
export function filesUnder(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : e.isFile() ? [path.join(dir, e.name)] : []));
}

/** The events of one JSON Lines file, in order. */
export function readEvents(file: string): RecordEvent[] {
    return fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
}
