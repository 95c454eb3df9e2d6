/**
 * The `tollgate` command: `start` (all-in-one), `control-plane`, `data-plane`, `mock-provider`.
 */
import { runCommand } from "./commands.js";

const code = await runCommand(process.argv.slice(2), process.env);
if (code !== null) process.exit(code);
