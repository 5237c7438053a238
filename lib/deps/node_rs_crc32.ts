/**
 * @node-rs/crc32: CRC-32C in native code (SSE 4.2 / SIMD), several times faster than the
 * broker's JavaScript fallback. Prebuilt binaries ship inside the npm packages for each
 * platform; the broker falls back to JavaScript where it cannot be loaded.
 * @module
 */
export { crc32c } from "npm:@node-rs/crc32@1.10.8";
