/**
 * The client matrix (tests/clients/_matrix.ts) for franz-go, the Go client (kgo, and kadm
 * for admin) that kcl is built on, through tests/clients/go/main.go built once into the
 * engine cache from the Go module proxy. kcl itself is not used: the Go module proxy here
 * answers 403 for github.com/twmb/kcl, while franz-go's own modules resolve. Each case on
 * Apache Kafka and on the embedded broker.
 */
import { franzGoBin } from "../_engines.ts";
import { defineMatrix, kv } from "../clients/_matrix.ts";

await defineMatrix({
  label: "franz-go",
  needs: ["franz-go"],
  command: async (step, args) => ({ cmd: (await franzGoBin())!, args: [step, ...kv(args)] }),
});
