/**
 * What every API module (`NN_name.ts`) provides: its key, name and version range, the
 * first flexible version, its request and response schemas (schema.ts) and a handler that
 * takes the decoded request and answers the response to encode. The registry
 * (registry.ts) collects them; the server decodes, dispatches and encodes with them, and
 * ApiVersions advertises them.
 * @module
 */
import { type Fields, type In, message, type Msg, type Schema } from "./schema.ts";
import type { BrokerState } from "./state.ts";
import type { ListenerInfo, SaslSession } from "./sasl.ts";

/** Returned by a handler that must not answer (Produce with acks=0). */
export const NO_RESPONSE: unique symbol = Symbol("no response");

/** The request a handler is answering. */
export interface RequestContext {
  state: BrokerState;
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** The client's address as Kafka shows it (`/127.0.0.1`). */
  clientHost: string;
  /** Aborted when the connection or the broker closes (ends long polls). */
  signal: AbortSignal;
  /** Every API the broker serves (for ApiVersions). */
  apis: ReadonlyMap<number, Api>;
  /** The memory budget the connections share, as a response may use it. */
  memory: ResponseMemory;
  /** The listener the request came in on (Metadata advertises it). */
  listener?: ListenerInfo;
  /** The connection's SASL state, on a SASL listener. */
  session?: SaslSession;
}

/** What a handler may take from the connections' memory budget for its response. */
export interface ResponseMemory {
  /** Bytes the budget has free now (0 or less when it is used up). */
  readonly free: number;
  /** Charges `bytes` the response holds; given back once it is written or the connection ends. */
  hold(bytes: number): void;
}

/** What a handler answers: the response, or NO_RESPONSE, maybe later. */
export type Answer<S extends Fields> =
  | In<S>
  | typeof NO_RESPONSE
  | Promise<In<S> | typeof NO_RESPONSE>;

/** One Kafka API. */
// deno-lint-ignore no-explicit-any
export interface Api<Q extends Fields = any, S extends Fields = any> {
  key: number;
  name: string;
  minVersion: number;
  maxVersion: number;
  /** First flexible version (KIP-482: request header v2, response header v1); Infinity if none. */
  flexibleFrom: number;
  request: Schema<Q>;
  response: Schema<S>;
  /** Answers a decoded request. */
  handle(req: Msg<Q>, ctx: RequestContext): Answer<S>;
  /** The response header stays v0 (no tags) even in flexible versions (ApiVersions). */
  responseHeaderV0?: boolean;
  /**
   * Answers a request for a version outside the range, as `version` (only ApiVersions
   * does, as Kafka does); without it the connection is closed, as Kafka closes it.
   */
  answerUnsupported?(ctx: RequestContext): { version: number; response: In<S> };
}

/** The declaration of one API, as its module writes it. */
export interface ApiDeclaration<Q extends Fields, S extends Fields>
  extends Omit<Api<Q, S>, "request" | "response" | "flexibleFrom"> {
  /** First flexible version; leave out when there is none. */
  flexibleFrom?: number;
  request: Q;
  response: S;
}

/** Compiles an API module's declaration. */
export function defineApi<const Q extends Fields, const S extends Fields>(
  decl: ApiDeclaration<Q, S>,
): Api<Q, S> {
  return {
    ...decl,
    flexibleFrom: decl.flexibleFrom ?? Infinity,
    request: message(`${decl.name}Request`, decl.request),
    response: message(`${decl.name}Response`, decl.response),
  };
}

/** True when `version` of `api` uses the flexible encodings. */
export function isFlexible(api: Api, version: number): boolean {
  return version >= api.flexibleFrom;
}
