/**
 * The files a group coordinator keeps its groups in (`groups.json` for the classic groups,
 * `consumer_groups.json` for KIP-848's): `{"groups":[…]}`, one JSON entry a group, each
 * with an `id` and its `members`, rewritten whole (temp file and rename) when a group
 * changes; an unchanged group's entry is kept as last written, so a rewrite costs only a
 * join.
 * @module
 */
import { writeFileAtomicSync } from "./log_store.ts";

/**
 * The group entries of `file` (none when it does not exist), each checked for an `id` and
 * `members`; a file that cannot be read names itself and what removing it loses (`what`,
 * "the classic groups" say).
 */
export function readGroupsFile<T extends { id: string }>(file: string, what: string): T[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw new Error(`Cannot read "${file}": ${(err as Error).message}`, { cause: err });
  }
  try {
    const saved = JSON.parse(text).groups;
    if (!Array.isArray(saved)) throw new Error(`"groups" is not a list`);
    for (const sg of saved) {
      if (typeof sg?.id !== "string" || !Array.isArray(sg.members)) {
        throw new Error(`a group entry has no "id" or "members": ${JSON.stringify(sg)}`);
      }
    }
    return saved;
  } catch (err) {
    throw new Error(
      `Cannot read "${file}": ${(err as Error).message}; remove it to start ` +
        `${what} empty (committed offsets are in offsets.log and stay)`,
      { cause: err },
    );
  }
}

/** Writes `saved` (group id to its JSON entry) to `file`, in id order. */
export function writeGroupsFile(file: string, saved: Map<string, string>, sync?: boolean): void {
  const body = [...saved.keys()].sort().map((k) => saved.get(k)).join(",\n");
  writeFileAtomicSync(file, `{"groups":[\n${body}\n]}\n`, { sync });
}
