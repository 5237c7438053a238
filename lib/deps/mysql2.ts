/**
 * mysql2 (promise API), for the RDS-shaped source database.
 * @module
 */
export { createConnection, createPool } from "npm:mysql2@3.24.5/promise";
export type { Connection, Pool, PoolOptions, RowDataPacket } from "npm:mysql2@3.24.5/promise";
