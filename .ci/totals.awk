# Sums the test layers' Deno summaries in a `deno task test` log into one plain line,
# "N passed, N failed" (.ci/run prints it). tests/tools/layers.ts ends each layer with
# "layer <name>: exit <code>": a layer with no Deno summary before its marker (it crashed, or
# a module failed to load) counts one failed, and so does one that exited non-zero with none
# failed. Fewer markers than -v expect=N (the run died inside a layer) counts one failed, and
# so does -v status=<exit of deno task test> when non-zero with nothing else failed.
# Exit status: 0 when nothing failed, 1 otherwise.
/^(ok|FAILED) \| [0-9]+ passed/ {
  p = $0; sub(/^(ok|FAILED) \| /, "", p); sub(/ passed.*/, "", p)
  f = 0
  if (match($0, /\| [0-9]+ failed/)) { f = substr($0, RSTART + 2, RLENGTH - 9) + 0 }
  passed += p; failed += f; seen = 1; last_failed = f
  next
}
/^layer [a-z]+: exit [0-9]+/ {
  code = $4 + 0; layers++
  if (!seen) { failed++; print "ci: layer " substr($2, 1, length($2) - 1) " printed no Deno summary (exit " code ")" }
  else if (code != 0 && last_failed == 0) { failed++; print "ci: layer " substr($2, 1, length($2) - 1) " exited " code " with no test failed" }
  seen = 0; last_failed = 0
}
END {
  if (layers < expect + 0) {
    failed++; print "ci: " layers + 0 " of " expect " layers ran to their end"
  }
  if (status + 0 != 0 && failed == 0) {
    failed++; print "ci: the test run exited " status " with no test failed"
  }
  printf "%d passed, %d failed\n", passed, failed
  exit (failed > 0 ? 1 : 0)
}
