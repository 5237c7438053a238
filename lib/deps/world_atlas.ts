/**
 * world-atlas: Natural Earth's country shapes as TopoJSON at 1:110m (108 KB; the 1:50m
 * file would make each map in the report about 1.5 MB of SVG), for the report's maps.
 * @module
 */
export { default as worldCountries110m } from "npm:world-atlas@2.0.2/countries-110m.json" with {
  type: "json",
};
