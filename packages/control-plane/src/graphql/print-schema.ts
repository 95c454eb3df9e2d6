/**
 * Writes the sorted SDL of the admin API to graphql/schema.graphql (`npm run generate:schema`).
 */
import "reflect-metadata";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { printControlPlaneSchema } from "./schema.js";

/** Path of the committed schema file. */
export const SCHEMA_FILE = fileURLToPath(new URL("../../../../graphql/schema.graphql", import.meta.url));

/** Prints the schema into `SCHEMA_FILE`. */
export async function writeSchemaFile(path: string = SCHEMA_FILE): Promise<void> {
  writeFileSync(path, await printControlPlaneSchema());
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeSchemaFile();
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
}
