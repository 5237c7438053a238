/**
 * The REST proxy's routes as one table: each route is a method, a path pattern, the request
 * content types it takes and its handler, and the 404, 405 and 415 answers follow from the
 * table alone, as Jersey derives them from Confluent's resource annotations: no route's
 * pattern fits the path → 404; patterns fit but none takes the method → 405 with `Allow`;
 * the route takes no body of the request's Content-Type → 415. The method is checked before
 * the content type, and both before the parameters' values.
 *
 * Paths are matched as the client sent them, before any normalisation: the raw request
 * target is split on `/` and each segment percent-decoded on its own, so `/topics/..`,
 * `/topics/%2e%2e` and `/topics/a%2Fb` name the topics `..` and `a/b` (which Kafka's rules
 * refuse with 40401) instead of resolving to `/` or another path. One trailing slash is
 * ignored (`/topics/` is `/topics`, as in Jersey); any other empty segment is a segment.
 *
 * Pattern segments are literals or `{name}` parameters. Two parameter names are typed:
 * `{topic}` must be a valid Kafka topic name (1 to 249 of `[a-zA-Z0-9._-]`, not `.` or `..`),
 * else 404 with 40401, and `{partition}` must be an int32 at or above 0, else 404. Every other
 * parameter takes any non-empty segment.
 * @module
 */
import { HttpError, mediaType, notFound } from "./http.ts";
import type { ProxyRequest } from "./server.ts";

/** Path parameters by name, decoded and checked. */
export type Params = Record<string, string>;

/** One route of the table. */
export interface Route {
  method: "GET" | "POST" | "DELETE";
  /** `/topics/{topic}/partitions/{partition}`: literals and `{name}` parameters. */
  path: string;
  /**
   * Media types of a request body this route takes; `""` admits a request without a
   * Content-Type. Absent: any (the route reads no body, or takes whatever comes).
   */
  accepts?: readonly string[];
  handle(req: ProxyRequest, params: Params): Promise<Response>;
}

/** Where a request goes: its route and parameters, or the error that answers it. */
export type Match =
  | { route: Route; params: Params }
  | { error: HttpError };

const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** Why `name` cannot be a Kafka topic, or undefined when it can. */
export function invalidTopicName(name: string): string | undefined {
  if (name === "") return "a topic name cannot be empty";
  if (name === "." || name === "..") return '"." and ".." cannot be topic names';
  if (name.length > 249) return `a topic name has at most 249 characters, not ${name.length}`;
  if (!TOPIC.test(name)) {
    return 'a topic name takes only the characters a-z, A-Z, 0-9, ".", "_" and "-"';
  }
  return undefined;
}

/**
 * The path of a raw request target (`/a/b?x=1`, or the absolute form `http://h/a/b`) split
 * into percent-decoded segments; undefined when a segment is not valid percent-encoding or
 * the target is not a path.
 */
export function pathSegments(target: string): string[] | undefined {
  let path = target;
  const q = path.search(/[?#]/);
  if (q >= 0) path = path.slice(0, q);
  const abs = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/]*/.exec(path);
  if (abs) path = path.slice(abs[0].length) || "/";
  if (!path.startsWith("/")) return undefined;
  const raw = path.slice(1).split("/");
  if (raw.length > 1 && raw[raw.length - 1] === "") raw.pop();
  if (raw.length === 1 && raw[0] === "") return [];
  const out: string[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    try {
      out[i] = raw[i].includes("%") ? decodeURIComponent(raw[i]) : raw[i];
    } catch {
      return undefined;
    }
  }
  return out;
}

interface Compiled {
  route: Route;
  /** A literal segment, or the parameter's name after `{`. */
  parts: { literal?: string; param?: string }[];
}

function compile(route: Route): Compiled {
  const parts = route.path.split("/").filter(Boolean).map((s) =>
    s.startsWith("{") && s.endsWith("}") ? { param: s.slice(1, -1) } : { literal: s }
  );
  return { route, parts };
}

/** The answer for a typed parameter's value it cannot be, or undefined when it is fine. */
function badParam(name: string, value: string): HttpError | undefined {
  if (name === "topic") {
    const why = invalidTopicName(value);
    if (why) return new HttpError(404, 40401, `Topic ${JSON.stringify(value)} not found: ${why}`);
  } else if (name === "partition") {
    if (!/^\d{1,10}$/.test(value) || Number(value) > 2147483647) return notFound();
  }
  return undefined;
}

/** The routes, compiled once and matched per request. */
export class RouteTable {
  private readonly bySize = new Map<number, Compiled[]>();

  constructor(readonly routes: readonly Route[]) {
    for (const r of routes) {
      const c = compile(r);
      const list = this.bySize.get(c.parts.length) ?? [];
      // Patterns that could fit the same path would make the answer depend on their order.
      const clash = list.find((o) =>
        o.route.method === r.method &&
        o.parts.every((p, i) =>
          p.literal === undefined || c.parts[i].literal === undefined ||
          p.literal === c.parts[i].literal
        )
      );
      if (clash) {
        throw new Error(
          `Cannot build the routes: ${r.method} ${r.path} fits the paths of ${clash.route.path}`,
        );
      }
      list.push(c);
      this.bySize.set(c.parts.length, list);
    }
  }

  /**
   * The route for `method` and the decoded path `segments`, or the 404/405/415 answer. A
   * request without a body is held to `accepts` only where the route needs a Content-Type
   * (its list lacks `""`): there a header says nothing about a body that is not there.
   */
  match(
    method: string,
    segments: string[],
    contentType: string | null,
    hasBody = true,
  ): Match {
    const fits = (this.bySize.get(segments.length) ?? []).filter((c) =>
      c.parts.every((p, i) =>
        p.literal === undefined
          // Only a topic may be empty in a pattern's eyes: it then gets 40401 saying so.
          ? segments[i] !== "" || p.param === "topic"
          : p.literal === segments[i]
      )
    );
    if (!fits.length) return { error: notFound() };
    const chosen = fits.find((c) => c.route.method === method);
    if (!chosen) {
      const allow = [...new Set(fits.map((c) => c.route.method))].sort().join(", ");
      return {
        error: new HttpError(405, 405, "HTTP 405 Method Not Allowed", { Allow: allow }),
      };
    }
    const accepts = chosen.route.accepts;
    if (accepts && (hasBody || !accepts.includes(""))) {
      const type = mediaType(contentType);
      if (!accepts.includes(type)) {
        const named = accepts.filter(Boolean);
        return {
          error: new HttpError(
            415,
            415,
            `HTTP 415 Unsupported Media Type: "${type || "none"}"; send ${named.join(" or ")}`,
          ),
        };
      }
    }
    const params: Params = {};
    for (let i = 0; i < chosen.parts.length; i++) {
      const name = chosen.parts[i].param;
      if (name === undefined) continue;
      const error = badParam(name, segments[i]);
      if (error) return { error };
      params[name] = segments[i];
    }
    return { route: chosen.route, params };
  }
}
