/**
 * The REST proxy's route table (lib/rest_proxy/routes.ts, lib/rest_proxy/proxy_routes.ts):
 * which route a method and raw path reach, the 404/405/415 answers that follow from the
 * table, Kafka's topic-name rules on `{topic}`, and the path tricks (`..`, `%2e%2e`, empty
 * and invalid names) answered over a raw socket by an in-process proxy, never with 200.
 */
import assert from "node:assert/strict";
import { HttpError } from "../../lib/rest_proxy/http.ts";
import { proxyRoutes } from "../../lib/rest_proxy/proxy_routes.ts";
import type { ProxyParts } from "../../lib/rest_proxy/proxy_routes.ts";
import { invalidTopicName, pathSegments, RouteTable } from "../../lib/rest_proxy/routes.ts";
import type { Route } from "../../lib/rest_proxy/routes.ts";
import { T, V2, withProxy } from "../_rest_proxy.ts";
import type { RestProxy } from "../../lib/rest_proxy/rest_proxy.ts";

/** The real table, with parts that are never called: matching needs none of them. */
const TABLE = new RouteTable(proxyRoutes({} as ProxyParts));

/** What the real table does with `method path`: the route's pattern, or status/code. */
function where(method: string, target: string, type: string | null = null, hasBody = true) {
  const segments = pathSegments(target);
  if (!segments) return "unparsable";
  const m = TABLE.match(method, segments, type, hasBody);
  if ("error" in m) {
    const allow = m.error.headers.Allow ? ` (Allow: ${m.error.headers.Allow})` : "";
    return `${m.error.status}/${m.error.errorCode}${allow}`;
  }
  return `${m.route.method} ${m.route.path} ${JSON.stringify(m.params)}`;
}

Deno.test("each documented path and method reaches its route with its parameters", () => {
  const rows: [string, string, string | null, string][] = [
    ["GET", "/", null, "GET / {}"],
    ["POST", "/", null, "POST / {}"],
    ["GET", "/brokers", null, "GET /brokers {}"],
    ["GET", "/topics/", null, "GET /topics {}"],
    ["GET", "/topics/t.pin?x=1", null, 'GET /topics/{topic} {"topic":"t.pin"}'],
    ["POST", "/topics/t.pin", V2.json, 'POST /topics/{topic} {"topic":"t.pin"}'],
    [
      "POST",
      "/topics/t.pin/partitions/2",
      `${V2.binary}; charset=utf-8`,
      'POST /topics/{topic}/partitions/{partition} {"topic":"t.pin","partition":"2"}',
    ],
    [
      "GET",
      "/topics/t.pin/partitions/0/offsets",
      null,
      'GET /topics/{topic}/partitions/{partition}/offsets {"topic":"t.pin","partition":"0"}',
    ],
    ["POST", "/consumers/g", V2.response, 'POST /consumers/{group} {"group":"g"}'],
    [
      "POST",
      "/consumers/g/instances/c/positions/end",
      null,
      'POST /consumers/{group}/instances/{instance}/positions/end {"group":"g","instance":"c"}',
    ],
    [
      "DELETE",
      "/consumers/g%20x/instances/c",
      null,
      'DELETE /consumers/{group}/instances/{instance} {"group":"g x","instance":"c"}',
    ],
    [
      "POST",
      "http://gw.example/v3/clusters/abc/topics/t.pin/records",
      "application/json",
      'POST /v3/clusters/{cluster}/topics/{topic}/records {"cluster":"abc","topic":"t.pin"}',
    ],
  ];
  for (const [method, path, type, want] of rows) {
    assert.equal(where(method, path, type), want, `${method} ${path}`);
  }
});

Deno.test("404, 405 with Allow and 415 follow from the table alone", () => {
  assert.equal(where("GET", "/nope"), "404/404");
  assert.equal(where("GET", "/topics/t.pin/partitions/0/offsets/x"), "404/404");
  assert.equal(where("DELETE", "/topics/t.pin"), "405/405 (Allow: GET, POST)");
  assert.equal(where("PUT", "/consumers/g/instances/c/offsets"), "405/405 (Allow: GET, POST)");
  assert.equal(where("POST", "/v3/clusters"), "405/405 (Allow: GET)");
  // 415: a produce names its embedded format; consumers take the v2 and JSON types.
  assert.equal(where("POST", "/topics/t.pin", "application/json"), "415/415");
  assert.equal(where("POST", "/topics/t.pin", null), "415/415");
  assert.equal(where("POST", "/consumers/g", "text/plain"), "415/415");
  assert.equal(where("POST", "/v3/clusters/c/topics/t/records", "text/csv"), "415/415");
  // No body: a Content-Type says nothing, unless the route needs one.
  assert.match(where("POST", "/consumers/g", "text/plain", false), /^POST \/consumers/);
  assert.equal(where("POST", "/topics/t.pin", null, false), "415/415");
  // The method is checked before the content type, and both before the parameters.
  assert.equal(where("DELETE", "/topics/..", "text/plain"), "405/405 (Allow: GET, POST)");
  assert.equal(where("POST", "/topics/..", "text/plain"), "415/415");
  // A partition that is not an int32 is no path at all, as in Jersey.
  assert.equal(where("GET", "/topics/t.pin/partitions/x"), "404/404");
  assert.equal(where("GET", "/topics/t.pin/partitions/2147483648"), "404/404");
  assert.equal(where("GET", "/topics/t.pin/partitions/-1"), "404/404");
});

Deno.test("path tricks name the topic they spell, which Kafka's rules refuse with 40401", () => {
  const topic = (t: string) => where("POST", `/topics/${t}`, V2.json);
  assert.equal(topic(".."), "404/40401");
  assert.equal(topic("%2e%2e"), "404/40401");
  assert.equal(topic("%2E."), "404/40401");
  assert.equal(topic("."), "404/40401");
  assert.equal(topic("a%2Fb"), "404/40401");
  assert.equal(topic("a%20b"), "404/40401");
  assert.equal(topic("x".repeat(250)), "404/40401");
  assert.equal(topic("x".repeat(249)), `POST /topics/{topic} {"topic":"${"x".repeat(249)}"}`);
  // An empty topic before a trailing slash, and a dot segment in the middle of a path.
  assert.equal(where("POST", "/topics//", V2.json), "404/40401");
  assert.equal(where("GET", "/topics//partitions"), "404/40401");
  assert.equal(where("POST", "/topics/../partitions/0", V2.json), "404/40401");
  assert.equal(where("POST", "/topics/t.pin/..", V2.json), "404/404");
  assert.equal(where("POST", "/..", V2.json), "404/404");
  assert.equal(
    where("POST", "/v3/clusters/c/topics/%2e%2e/records", "application/json"),
    "404/40401",
  );
  // Bad percent-encoding is no path.
  assert.equal(where("GET", "/topics/%zz"), "unparsable");
  assert.equal(pathSegments("*"), undefined);
});

Deno.test("Kafka's topic name rules say what is wrong with a name", () => {
  assert.equal(invalidTopicName("pinpipe.pin"), undefined);
  assert.equal(invalidTopicName("A-z_0.9"), undefined);
  assert.match(invalidTopicName("")!, /empty/);
  assert.match(invalidTopicName("..")!, /"\." and "\.\." cannot be topic names/);
  assert.match(invalidTopicName("x".repeat(250))!, /at most 249 characters, not 250/);
  assert.match(invalidTopicName("a/b")!, /a-z, A-Z, 0-9/);
  assert.match(invalidTopicName("é")!, /a-z, A-Z, 0-9/);
});

Deno.test("a table whose patterns could fit the same path is refused", () => {
  const h = () => Promise.resolve(new Response());
  const routes = (a: string, b: string): Route[] => [
    { method: "GET", path: a, handle: h },
    { method: "GET", path: b, handle: h },
  ];
  assert.throws(
    () => new RouteTable(routes("/topics/{topic}", "/topics/list")),
    /GET \/topics\/list fits the paths of \/topics\/\{topic\}/,
  );
  assert.throws(() => new RouteTable(routes("/a", "/a")));
  // Different methods, or different literals, may share a shape.
  new RouteTable([...routes("/a/{x}", "/b/{x}"), { method: "POST", path: "/a/{y}", handle: h }]);
});

Deno.test("a typed parameter's error is the answer, and other parameters take any segment", () => {
  const seen: string[] = [];
  const table = new RouteTable([{
    method: "GET",
    path: "/g/{group}/t/{topic}",
    handle: (_req, params) => {
      seen.push(JSON.stringify(params));
      return Promise.resolve(new Response());
    },
  }]);
  const m = table.match("GET", ["g", "..", "t", "ok"], null);
  assert.ok("route" in m);
  assert.deepEqual(m.params, { group: "..", topic: "ok" });
  const bad = table.match("GET", ["g", "x", "t", "no/pe"], null);
  assert.ok("error" in bad && bad.error instanceof HttpError);
  assert.equal(bad.error.errorCode, 40401);
  assert.equal(
    bad.error.message,
    'Topic "no/pe" not found: a topic name takes only the characters a-z, A-Z, 0-9, ".", "_" and "-"',
  );
  // An empty segment fits no untyped parameter.
  const empty = table.match("GET", ["g", "", "t", "x"], null);
  assert.ok("error" in empty && empty.error.status === 404 && empty.error.errorCode === 404);
});

/** Sends `head` (and `body`) over a raw socket, so nothing normalises the request line. */
async function rawRequest(proxy: RestProxy, head: string, body = ""): Promise<string> {
  const url = new URL(proxy.url);
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  try {
    const text = `${head}\r\nHost: ${url.host}\r\nConnection: close\r\n` +
      (body ? `Content-Type: ${V2.json}\r\nContent-Length: ${body.length}\r\n` : "") +
      `\r\n${body}`;
    await conn.write(new TextEncoder().encode(text));
    let answer = "";
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return answer;
      answer += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the proxy
    }
  }
}

/** The status line and the body of a raw answer (chunked or not). */
function parts(answer: string): { status: string; body: string } {
  const at = answer.indexOf("\r\n\r\n");
  const head = answer.slice(0, at);
  let body = answer.slice(at + 4);
  if (/^transfer-encoding: chunked$/im.test(head)) {
    let out = "";
    for (;;) {
      const eol = body.indexOf("\r\n");
      const size = parseInt(body.slice(0, eol), 16);
      if (!size) break;
      out += body.slice(eol + 2, eol + 2 + size);
      body = body.slice(eol + 2 + size + 2);
    }
    body = out;
  }
  return { status: head.split("\r\n")[0], body };
}

Deno.test({
  ...T,
  name: "the proxy answers path tricks on the raw request line with 404s, never 200",
  fn: () =>
    withProxy(async ({ proxy }) => {
      const body = JSON.stringify({ records: [{ value: 1 }] });
      const answers: Record<string, string> = {};
      for (
        const path of [
          "/topics/..",
          "/topics/%2e%2e",
          "/topics/%2E%2E",
          "/topics/.",
          "/topics//",
          "/topics/a%2Fb",
          "/topics/t.pin/..",
          "/topics/../topics/t.pin",
          "/..",
          "/%2e%2e",
          "/v3/clusters/x/../../topics/t.pin",
        ]
      ) {
        const { status, body: text } = parts(
          await rawRequest(proxy, `POST ${path} HTTP/1.1`, body),
        );
        answers[path] = `${status} ${text}`;
      }
      const notTopic = (name: string, why: string) =>
        `HTTP/1.1 404 Not Found {"error_code":40401,"message":${
          JSON.stringify(`Topic "${name}" not found: ${why}`)
        }}`;
      const dots = '"." and ".." cannot be topic names';
      const plain = 'HTTP/1.1 404 Not Found {"error_code":404,"message":"HTTP 404 Not Found"}';
      assert.deepEqual(answers, {
        "/topics/..": notTopic("..", dots),
        "/topics/%2e%2e": notTopic("..", dots),
        "/topics/%2E%2E": notTopic("..", dots),
        "/topics/.": notTopic(".", dots),
        "/topics//": notTopic("", "a topic name cannot be empty"),
        "/topics/a%2Fb": notTopic(
          "a/b",
          'a topic name takes only the characters a-z, A-Z, 0-9, ".", "_" and "-"',
        ),
        "/topics/t.pin/..": plain,
        "/topics/../topics/t.pin": plain,
        "/..": plain,
        "/%2e%2e": plain,
        "/v3/clusters/x/../../topics/t.pin": plain,
      });
      // Nothing was produced by any of them; the root itself still answers as Confluent's.
      assert.equal(proxy.stats().records, 0);
      assert.match(parts(await rawRequest(proxy, "POST / HTTP/1.1")).status, / 200 /);
    }),
});

Deno.test({
  ...T,
  name: "outside the base path a dot segment reaches nothing",
  fn: () =>
    withProxy(async ({ proxy }) => {
      for (const path of ["/test/../topics/t.pin", "/test/%2e%2e/topics/t.pin", "/topics/t.pin"]) {
        const body = JSON.stringify({ records: [{ value: 1 }] });
        const { status } = parts(await rawRequest(proxy, `POST ${path} HTTP/1.1`, body));
        assert.equal(status, "HTTP/1.1 404 Not Found", path);
      }
      const ok = parts(
        await rawRequest(proxy, "POST /test/topics/t.pin HTTP/1.1", '{"records":[{"value":1}]}'),
      );
      assert.equal(ok.status, "HTTP/1.1 200 OK");
    }, { basePath: "/test" }),
});
