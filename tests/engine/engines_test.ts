/**
 * The engines tests/setup.ts provisions are real and usable: Apache Kafka starts in KRaft
 * mode and its own CLI tools and kcat talk to it, it survives a SIGKILL with its data, and
 * the venv's PySpark, Airflow, cfn-lint and moto run.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { KAFKA_VERSION, kafkaTool, venvBin, withKafka } from "../_engines.ts";
import { envTest, run } from "../_fixtures.ts";

await envTest(
  "Apache Kafka starts in KRaft mode and its CLI creates, lists and describes a topic",
  [
    "kafka",
  ],
  async () => {
    await withKafka(async (kafka) => {
      assert.ok(kafka.startupMs > 0 && kafka.rss() > 0);
      const bs = ["--bootstrap-server", kafka.bootstrap];
      const create = await kafkaTool("kafka-topics", [
        ...bs,
        "--create",
        "--topic",
        "t1",
        "--partitions",
        "3",
      ]);
      assert.equal(create.code, 0, create.stderr);
      const list = await kafkaTool("kafka-topics", [...bs, "--list"]);
      assert.match(list.stdout, /^t1$/m);
      const describe = await kafkaTool("kafka-topics", [...bs, "--describe", "--topic", "t1"]);
      assert.match(describe.stdout, /PartitionCount: 3/);
    });
  },
);

await envTest("Apache Kafka keeps what kcat produced through a SIGKILL and restart", [
  "kafka",
  "kcat",
], async () => {
  await withKafka(async (kafka) => {
    const lines = Array.from({ length: 100 }, (_, i) => `record-${i}`);
    const produced = await run("kcat", ["-b", kafka.bootstrap, "-P", "-t", "k", "-X", "acks=all"], {
      stdin: lines.join("\n") + "\n",
    });
    assert.equal(produced.code, 0, produced.stderr);
    await kafka.restart({ kill: true });
    const consumed = await run("kcat", [
      "-b",
      kafka.bootstrap,
      "-C",
      "-t",
      "k",
      "-o",
      "beginning",
      "-e",
      "-q",
    ]);
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trim().split("\n"), lines);
  });
});

await envTest(
  `the engine venv runs PySpark 3.5, Airflow 2.10.3, cfn-lint and moto (Kafka ${KAFKA_VERSION})`,
  [
    "engines",
  ],
  async () => {
    const bin = (await venvBin())!;
    const spark = await run(join(bin, "python"), [
      "-c",
      "import pyspark, airflow, airflow.providers.databricks, cfnlint, moto; " +
      "print(pyspark.__version__, airflow.__version__)",
    ]);
    assert.equal(spark.code, 0, spark.stderr);
    assert.match(spark.stdout, /^3\.5\.\d+ 2\.10\.3$/m);
    const lint = await run(join(bin, "cfn-lint"), ["--version"]);
    assert.equal(lint.code, 0, lint.stderr);
  },
);
