/**
 * CLI: `pnpm --filter @tops/dashboards generate` writes dashboards/tops-worker.json and
 * alerts/tops-worker.rules.yml; with `--check` it writes nothing and exits 1 when either is
 * out of date (CI, pre-commit).
 */
import { staleOutputs, writeOutputs } from "./outputs";

async function main(args: readonly string[]): Promise<number> {
  const unknown = args.filter((arg) => arg !== "--check" && arg !== "--");
  if (unknown.length > 0) {
    console.error(`unknown argument(s): ${unknown.join(" ")}\nusage: generate [--check]`);
    return 2;
  }
  if (args.includes("--check")) {
    const stale = await staleOutputs();
    if (stale.length === 0) {
      console.log("dashboards and alert rules are up to date");
      return 0;
    }
    console.error(`out of date: ${stale.join(", ")}\nrun \`pnpm generate\` and commit the result`);
    return 1;
  }
  const changed = await writeOutputs();
  console.log(changed.length === 0 ? "dashboards and alert rules already up to date" : `wrote ${changed.join(", ")}`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
