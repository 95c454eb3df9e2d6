/** Public API of the control plane package. */
export { loadControlPlaneConfig, ConfigError, type ControlPlaneConfig } from "./config.js";
export { startControlPlane, type ControlPlaneDeps, type ControlPlaneHandle } from "./control-plane.js";
export type { Database, Queryable } from "./db/database.js";
export { openPgDatabase } from "./db/pg-database.js";
export { openPgliteDatabase, openMemoryPgliteDatabase } from "./db/pglite-database.js";
export { DataDirLockedError } from "./db/data-dir-lock.js";
export { migrate } from "./db/migrate.js";
export { buildSnapshot } from "./snapshot/snapshot-builder.js";
export { printControlPlaneSchema } from "./graphql/schema.js";
