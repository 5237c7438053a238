/**
 * Vega, to render the report's charts to SVG headless (no canvas, no browser).
 * @module
 */
export { parse, View } from "npm:vega@6.4.0";
export type { Spec } from "npm:vega@6.4.0";
