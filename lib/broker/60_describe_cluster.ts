/**
 * DescribeCluster (key 60), versions 0–1 (admin clients' describeCluster).
 *
 * Behavior: the cluster id, this broker as the only broker and the controller, and (when
 * asked) every cluster operation as authorized: there is no authorizer. Asking for
 * controller endpoints (v1 endpoint_type 2) gets MISMATCHED_ENDPOINT_TYPE, as a Kafka
 * broker answers on its broker listener.
 *
 * Version notes: every version is flexible; v1+ endpoint_type.
 * @module
 */
import { ALL_CLUSTER_OPERATIONS, NOT_ASKED } from "./acl.ts";
import { defineApi } from "./api.ts";
import { ErrorCode } from "./error_codes.ts";
import { arr } from "./schema.ts";

export const describeCluster = defineApi({
  key: 60,
  name: "DescribeCluster",
  minVersion: 0,
  maxVersion: 1,
  flexibleFrom: 0,
  request: {
    includeClusterAuthorizedOperations: "bool",
    endpointType: "int8 v1+ =1",
  },
  response: {
    throttleTimeMs: "int32",
    errorCode: "int16",
    errorMessage: "string null",
    endpointType: "int8 v1+ =1",
    clusterId: "string",
    controllerId: "int32 =-1",
    brokers: arr({ brokerId: "int32", host: "string", port: "int32", rack: "string null" }),
    clusterAuthorizedOperations: `int32 =${NOT_ASKED}`,
  },
  handle(req, ctx) {
    const s = ctx.state;
    if (req.endpointType !== 1) {
      return {
        errorCode: ErrorCode.MISMATCHED_ENDPOINT_TYPE,
        errorMessage: "this broker serves broker endpoints only",
        endpointType: 1,
      };
    }
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      clusterId: s.clusterId,
      controllerId: s.nodeId,
      brokers: [{
        brokerId: s.nodeId,
        host: ctx.listener?.host ?? s.host,
        port: ctx.listener?.port ?? s.port,
        rack: null,
      }],
      clusterAuthorizedOperations: req.includeClusterAuthorizedOperations
        ? ALL_CLUSTER_OPERATIONS
        : NOT_ASKED,
    };
  },
});
