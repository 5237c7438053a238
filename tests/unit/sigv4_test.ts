/**
 * `emulate --rest-auth iam`: the region a signature is made for, the options' refusals, and
 * what the signing fetch hands on (the signature itself is checked against botocore in
 * tests/engine/emulate_sigv4_test.ts).
 */
import assert from "node:assert/strict";
import { regionOfInvokeUrl, sigV4Fetch } from "../../lib/ingest/sigv4.ts";
import { parseOptions } from "../../tasks/emulate.ts";

Deno.test("the region of an API Gateway invoke URL, and none for another host", () => {
  assert.equal(
    regionOfInvokeUrl("https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com/prod"),
    "eu-west-2",
  );
  assert.equal(
    regionOfInvokeUrl("https://x.execute-api.cn-north-1.amazonaws.com.cn/s"),
    "cn-north-1",
  );
  assert.equal(regionOfInvokeUrl("http://127.0.0.1:8082"), undefined);
  assert.equal(
    regionOfInvokeUrl("https://execute-api.us-east-1.amazonaws.com.evil.test/"),
    undefined,
  );
  assert.equal(regionOfInvokeUrl("not a url"), undefined);
});

Deno.test("--rest-auth iam takes the URL's region, else AWS_REGION, else says what is missing", async () => {
  const gw = "https://abc123.execute-api.ap-south-1.amazonaws.com/prod";
  const a = await parseOptions(["--rest-url", gw, "--rest-auth", "iam"], {});
  assert.equal(a.job.target.kind === "rest" && a.job.target.signRegion, "ap-south-1");
  const b = await parseOptions(["--rest-url", "http://127.0.0.1:8082", "--rest-auth", "iam"], {
    AWS_REGION: "eu-central-1",
  });
  assert.equal(b.job.target.kind === "rest" && b.job.target.signRegion, "eu-central-1");
  const plain = await parseOptions(["--rest-url", gw], {});
  assert.equal(plain.job.target.kind === "rest" && plain.job.target.signRegion, undefined);
  await assert.rejects(
    parseOptions(["--rest-url", "http://127.0.0.1:8082", "--rest-auth", "iam"], {}),
    /--rest-auth iam needs a region: "http:\/\/127\.0\.0\.1:8082" is not an API Gateway invoke URL/,
  );
  await assert.rejects(
    parseOptions(["--bootstrap", "127.0.0.1:9092", "--rest-auth", "iam"], {}),
    /--rest-auth applies only with --rest-url/,
  );
  await assert.rejects(
    parseOptions(["--rest-url", gw, "--rest-auth", "iam"], { PINPIPE_API_KEY: "k" }),
    /--rest-auth iam signs requests: unset the API key/,
  );
});

Deno.test("the signing fetch adds a SigV4 Authorization and keeps the request's own headers and body", async () => {
  const sent: { url: string; init: RequestInit }[] = [];
  const base = ((url: string, init: RequestInit) => {
    sent.push({ url, init });
    return Promise.resolve(new Response("{}"));
  }) as unknown as typeof fetch;
  const f = sigV4Fetch(base, {
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "s", sessionToken: "tok" },
    now: () => new Date("2026-12-07T10:00:00Z"),
  });
  await f("https://abc.execute-api.us-east-1.amazonaws.com/prod/topics/p.pin", {
    method: "POST",
    headers: { "content-type": "application/vnd.kafka.json.v2+json" },
    body: '{"records":[]}',
  });
  const h = new Headers(sent[0].init.headers);
  assert.match(
    h.get("authorization")!,
    /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261207\/us-east-1\/execute-api\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
  );
  assert.equal(h.get("x-amz-date"), "20261207T100000Z");
  assert.equal(h.get("x-amz-security-token"), "tok");
  assert.equal(h.get("content-type"), "application/vnd.kafka.json.v2+json");
  assert.equal(h.get("host"), null, "fetch sets Host from the URL");
  assert.equal(sent[0].init.body, '{"records":[]}');
});
