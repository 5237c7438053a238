/**
 * The REST proxy's refusals as independent HTTP clients see them (an in-process proxy, the
 * clients spawned): Python's http.client, which writes its whole body before reading,
 * gets a readable 413 for a 10 MiB body; curl gets it with and without
 * `Expect: 100-continue`; and path tricks sent as they are (`curl --path-as-is`, http.client)
 * get 404s, never 200.
 */
import assert from "node:assert/strict";
import { envTest, run, withTempDir } from "../_fixtures.ts";
import { V2, withProxy } from "../_rest_proxy.ts";

/** Python: POSTs `size` bytes (or `body`) to `path` with http.client; prints status and body. */
const PYTHON = `
import http.client, json, sys
host, port, path, size = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
body = b" " * size if size else b'{"records":[{"value":1}]}'
c = http.client.HTTPConnection(host, port, timeout=60)
try:
    c.request("POST", path, body=body, headers={"Content-Type": "${V2.json}"})
    r = c.getresponse()
    print(json.dumps({"status": r.status, "connection": r.getheader("connection"),
                      "body": json.loads(r.read())}))
except Exception as e:
    print(json.dumps({"error": type(e).__name__ + ": " + str(e)}))
`;

async function python(url: string, path: string, size: number) {
  const u = new URL(url);
  const r = await run("python3", ["-c", PYTHON, u.hostname, u.port, path, String(size)]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

await envTest(
  "Python's http.client writing a 10 MiB body first reads the 413, not a reset",
  ["python3"],
  () =>
    withProxy(async ({ proxy }) => {
      const r = await python(proxy.url, "/topics/t.pin", 10 * 1024 * 1024 + 1);
      assert.deepEqual(r, {
        status: 413,
        connection: "close",
        body: {
          error_code: 413,
          message: "Request Entity Too Large: the body is over 10485760 bytes",
        },
      });
      // Within the bound the body is taken, and a good one still lands.
      const ok = await python(proxy.url, "/topics/t.pin", 0);
      assert.equal(ok.status, 200, JSON.stringify(ok));
    }),
);

await envTest(
  "Python's http.client sending path tricks as they are gets 404s, never 200",
  ["python3"],
  () =>
    withProxy(async ({ proxy }) => {
      const got: Record<string, string> = {};
      for (const path of ["/topics/..", "/topics/%2e%2e", "/topics/", "/topics/.%2E/x"]) {
        const r = await python(proxy.url, path, 0);
        got[path] = `${r.status} ${r.body?.error_code}`;
      }
      assert.deepEqual(got, {
        "/topics/..": "404 40401",
        "/topics/%2e%2e": "404 40401",
        "/topics/": "405 405",
        "/topics/.%2E/x": "404 404",
      });
      assert.equal(proxy.stats().records, 0);
    }),
);

await envTest(
  "curl gets the 413 for a 10 MiB upload with and without Expect: 100-continue",
  ["curl"],
  () =>
    withTempDir((dir) =>
      withProxy(async ({ proxy }) => {
        const file = `${dir}/body`;
        await Deno.writeFile(file, new Uint8Array(10 * 1024 * 1024 + 1).fill(0x20));
        for (const expect of [[], ["-H", "Expect:"]]) {
          const r = await run("curl", [
            "-sS",
            "-w",
            "\\n%{http_code}",
            "-H",
            `Content-Type: ${V2.json}`,
            ...expect,
            "--data-binary",
            `@${file}`,
            `${proxy.url}/topics/t.pin`,
          ]);
          assert.equal(r.code, 0, `curl ${expect.join(" ")}: ${r.stderr}`);
          const [body, status] = r.stdout.split("\n");
          assert.equal(status, "413", r.stdout);
          assert.equal(JSON.parse(body).error_code, 413);
        }
      })
    ),
);

await envTest(
  "curl --path-as-is gets Confluent's 404s for dot segments and bad topic names",
  ["curl"],
  () =>
    withProxy(async ({ proxy }) => {
      const got: Record<string, string> = {};
      for (
        const path of ["/topics/..", "/topics/%2e%2e", "/topics/a%20b", "/topics/../topics/t.pin"]
      ) {
        const r = await run("curl", [
          "-s",
          "--path-as-is",
          "-w",
          "\\n%{http_code}",
          "-H",
          `Content-Type: ${V2.json}`,
          "-d",
          '{"records":[{"value":1}]}',
          `${proxy.url}${path}`,
        ]);
        const [body, status] = r.stdout.split("\n");
        got[path] = `${status} ${JSON.parse(body).error_code}`;
      }
      assert.deepEqual(got, {
        "/topics/..": "404 40401",
        "/topics/%2e%2e": "404 40401",
        "/topics/a%20b": "404 40401",
        "/topics/../topics/t.pin": "404 404",
      });
      assert.equal(proxy.stats().records, 0);
    }),
);
