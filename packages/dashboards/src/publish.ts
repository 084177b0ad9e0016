/**
 * CLI: `pnpm --filter @tops/dashboards publish:dashboards` uploads dashboards/tops-worker.json
 * to Grafana. Environment: GRAFANA_URL, GRAFANA_TOKEN, optional GRAFANA_FOLDER_UID.
 * Publishes what is committed (run `pnpm generate` first if you changed the TypeScript).
 */
import { readFile } from "node:fs/promises";
import { runPublish } from "./grafana-publish";
import { outputPaths } from "./outputs";

process.exitCode = await runPublish(process.env, () => readFile(outputPaths.dashboard, "utf8"), {
  log: (line) => console.log(line),
  error: (line) => console.error(line),
});
