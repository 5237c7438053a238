/**
 * cli-truncate, to cut a progress line to the terminal's width by display columns (wide
 * characters and emoji count two, escape sequences none), so a live line never wraps.
 * @module
 */
export { default as cliTruncate } from "npm:cli-truncate@6.2.0";
