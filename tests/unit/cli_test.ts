/**
 * lib/shell/cli.ts, the frame every task runs in: how Ctrl-C presses are told apart from the
 * echo of one signal forwarded to the process group (`Interrupts`, on a clock the test moves).
 * The flag tables it parses with are tests/unit/flags_test.ts (lib/shell/flags.ts).
 * @module
 */
import assert from "node:assert/strict";
import { Interrupts, SIGNAL_ECHO_MS } from "../../lib/shell/cli.ts";

/** An Interrupts reading a clock the test moves. */
function withClock(windowMs = SIGNAL_ECHO_MS) {
  let now = 1_000;
  const interrupts = new Interrupts(windowMs, () => now);
  return { interrupts, advance: (ms: number) => (now += ms) };
}

Deno.test("a signal and its forward a fraction of a millisecond later count as one press", () => {
  const { interrupts, advance } = withClock();
  assert.equal(interrupts.receive(), "first");
  advance(0.2);
  assert.equal(interrupts.receive(), "echo");
});

Deno.test("a forward delayed by a loaded machine still counts as the same press", () => {
  const { interrupts, advance } = withClock();
  interrupts.receive();
  advance(SIGNAL_ECHO_MS - 1);
  assert.equal(interrupts.receive(), "echo");
});

Deno.test("a second press after the echo window stops at once", () => {
  const { interrupts, advance } = withClock();
  assert.equal(interrupts.receive(), "first");
  advance(0.1);
  assert.equal(interrupts.receive(), "echo");
  advance(SIGNAL_ECHO_MS);
  assert.equal(interrupts.receive(), "again");
});

Deno.test("the echo window is measured from the first signal, not from the last echo", () => {
  const { interrupts, advance } = withClock(100);
  interrupts.receive();
  advance(60);
  assert.equal(interrupts.receive(), "echo");
  advance(60);
  assert.equal(interrupts.receive(), "again");
});
