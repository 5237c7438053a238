/**
 * ListTransactions (key 66), versions 0–1 (`kafka-transactions.sh list`).
 *
 * Behavior: every transactional id with its producer id and state, filtered by state
 * names (an unknown name is listed in unknown_state_filters), producer ids and, from v1,
 * how long the open transaction has run (open transactions running longer than
 * duration_filter ms; below 0 no filter).
 *
 * Version notes: v0 is flexible; v1 duration_filter.
 * @module
 */
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";
import { TXN_STATES, type TxnStateName } from "./transactions.ts";

/** The states of a transaction still running (what duration_filter looks at). */
const OPEN = new Set(["Ongoing", "PrepareCommit", "PrepareAbort", "PrepareEpochFence"]);

export const listTransactions = defineApi({
  key: 66,
  name: "ListTransactions",
  minVersion: 0,
  maxVersion: 1,
  flexibleFrom: 0,
  request: {
    stateFilters: "[]string",
    producerIdFilters: "[]int64",
    durationFilter: "int64 v1+ =-1",
  },
  response: {
    throttleTimeMs: "int32",
    errorCode: "int16",
    unknownStateFilters: "[]string",
    transactionStates: arr({
      transactionalId: "string",
      producerId: "int64",
      transactionState: "string",
    }),
  },
  handle(req, ctx) {
    const known = new Set<string>(TXN_STATES);
    const states = new Set(req.stateFilters.filter((st) => known.has(st)));
    const pids = new Set(req.producerIdFilters);
    const now = Date.now();
    return {
      errorCode: ErrorCode.NONE,
      unknownStateFilters: req.stateFilters.filter((st) => !known.has(st)),
      transactionStates: ctx.state.txns.all()
        .filter((t) =>
          (req.stateFilters.length === 0 || states.has(t.state as TxnStateName)) &&
          (pids.size === 0 || pids.has(t.producerId)) &&
          (req.durationFilter < 0 ||
            (OPEN.has(t.state) && t.startTime >= 0 && now - t.startTime > req.durationFilter))
        )
        .map((t) => ({
          transactionalId: t.transactionalId,
          producerId: t.producerId,
          transactionState: t.state,
        })),
    };
  },
});
