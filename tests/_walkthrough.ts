/**
 * The README walkthrough's commands, read from README.md in order (the unit test checks them,
 * the stage test runs them).
 * @module
 */
import assert from "node:assert/strict";

/** One command of the walkthrough, in order. */
export interface WalkthroughCommand {
  /** The text as written in the README. */
  text: string;
  /** Started and left running (it ends in `# keeps running`). */
  keepsRunning: boolean;
}

/** The commands of the README's walkthrough, in order. */
export function walkthroughCommands(readme: string): WalkthroughCommand[] {
  const start = readme.indexOf("<!-- walkthrough");
  const end = readme.indexOf("<!-- /walkthrough -->");
  assert.ok(start >= 0 && end > start, "README.md has no <!-- walkthrough … /walkthrough --> part");
  const part = readme.slice(start, end);
  const commands: WalkthroughCommand[] = [];
  // Fenced sh blocks, indented or not (inside a numbered list they are indented).
  for (const m of part.matchAll(/^([ \t]*)```sh\n([\s\S]*?)^\1```/gm)) {
    const lines = m[2].split("\n").map((l) => l.slice(m[1].length));
    let text = "";
    for (const line of lines) {
      if (line.trim() === "" || line.trim().startsWith("#")) continue;
      text += line.trimEnd();
      if (text.endsWith("\\")) {
        text = text.slice(0, -1);
        continue;
      }
      commands.push({ text, keepsRunning: /#\s*keeps running/.test(text) });
      text = "";
    }
  }
  return commands;
}
