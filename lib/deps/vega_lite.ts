/**
 * Vega-Lite, the chart grammar the report's charts are written in (compiled to Vega).
 * @module
 */
export { compile } from "npm:vega-lite@6.5.0";
export type { TopLevelSpec } from "npm:vega-lite@6.5.0";
