/**
 * What every API module (`NN_name.ts`) provides: its key, name and version range, and a
 * handler that reads the request body and writes the response body. The registry
 * (registry.ts) collects them; the server dispatches on it and ApiVersions advertises it.
 * @module
 */
import type { Reader, Writer } from "./codec.ts";
import type { BrokerState } from "./state.ts";

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
}

/** One Kafka API. */
export interface Api {
  key: number;
  name: string;
  minVersion: number;
  maxVersion: number;
  /** First version whose request header is flexible (v2, with tagged fields), if any. */
  flexibleFrom?: number;
  /** Reads the request body from `r` and writes the response body to `w`. */
  handle(
    r: Reader,
    w: Writer,
    ctx: RequestContext,
  ): void | typeof NO_RESPONSE | Promise<void | typeof NO_RESPONSE>;
  /**
   * Answers a request for a version outside the range (only ApiVersions does, as Kafka
   * does); without it the connection is closed.
   */
  answerUnsupported?(w: Writer, ctx: RequestContext): void;
}
