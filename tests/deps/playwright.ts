/**
 * playwright-core, to drive the machine's Chromium headless in tests (no browser download).
 * @module
 */
export { chromium } from "npm:playwright-core@1.65.1";
export type { Browser, BrowserContext, Page } from "npm:playwright-core@1.65.1";
