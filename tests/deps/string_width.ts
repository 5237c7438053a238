/**
 * string-width, the number of terminal columns a string takes (wide characters and emoji
 * count two, escape sequences none): the same measure cli-truncate cuts by.
 * @module
 */
export { default as stringWidth } from "npm:string-width@8.3.0";
