#!/usr/bin/env -S deno run -A
/**
 * Provisions the real engines the test suite runs against (see tests/_engines.ts): Apache
 * Kafka from Maven Central and a Python venv (PySpark, Airflow + Databricks provider,
 * cfn-lint, moto) from PyPI, and the client matrix's Java (kafka-clients 3.9 and 4.x),
 * Node (@confluentinc/kafka-javascript, built from source) and Go (franz-go) clients, and
 * Kafka Streams (the transactions tests' exactly-once word count) and Kafka Connect's
 * FileStream connectors (its exactly-once source case), into the git-ignored
 * engine cache. `deno task test` and
 * `.ci/run` call it first; a second run finds the cache and takes well under a second.
 *
 * It always exits 0: an engine that cannot be installed is reported loudly here, and the
 * tests that need it then skip (or fail, under PINPIPE_STRICT=1) naming it.
 * @module
 */
import { ENGINES_DIR, provision } from "./_engines.ts";
import { provisionAwsEngines } from "./_aws_engines.ts";

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(`Usage: deno run -A tests/setup.ts

Installs Apache Kafka, the Python engines and the client matrix's Java, Node and Go
clients into ${ENGINES_DIR}
(PINPIPE_ENGINES_DIR to move it), once; later runs reuse the cache.`);
    Deno.exit(0);
  }
  const t0 = performance.now();
  console.error(`engines: provisioning into ${ENGINES_DIR} (the first run downloads ~600 MB)`);
  const reports = await provision();
  for (const r of reports) {
    if (r.ok) {
      console.error(`engines: ${r.engine} ${r.how} in ${r.seconds.toFixed(1)} s (${r.versions})`);
    } else {
      console.error(
        `\n*** engines: ${r.engine} could not be provisioned; tests needing it will skip ` +
          `(or fail under PINPIPE_STRICT=1):\n${r.error}\n`,
      );
    }
  }
  for (const line of await provisionAwsEngines()) console.error(line);
  console.error(`engines: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
