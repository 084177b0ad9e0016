/**
 * CLI: `pnpm --filter @tops/dashboards publish:dashboards` uploads dashboards/tops-worker.json
 * and dashboards/tops-aggregator.json to Grafana. Environment: GRAFANA_URL, GRAFANA_TOKEN,
 * optional GRAFANA_FOLDER_UID. Publishes what is committed (run `pnpm generate` first if you
 * changed the TypeScript). Exits 1 if any upload failed.
 */
import { readFile } from "node:fs/promises";
import { runPublish } from "./grafana-publish";
import { outputPaths } from "./outputs";

const io = { log: (line: string) => console.log(line), error: (line: string) => console.error(line) };
let exitCode = 0;
for (const path of [outputPaths.dashboard, outputPaths.aggregatorDashboard]) {
  exitCode = Math.max(exitCode, await runPublish(process.env, () => readFile(path, "utf8"), io));
}
process.exitCode = exitCode;
