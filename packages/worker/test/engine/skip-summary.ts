/**
 * Vitest reporter: after the run, one line per skipped test with its reason, so a CI log says
 * how many cases could not run here and why (e.g. no subgroup matrices on lavapipe).
 */
import type { Reporter, TestModule } from "vitest/node";

export default class SkipSummary implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const skipped: string[] = [];
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        if (t.result().state === "skipped") skipped.push(`  ${m.moduleId.split("/test/").pop()} > ${t.fullName}`);
      }
    }
    if (skipped.length === 0) return;
    process.stdout.write(`\nSkipped (${skipped.length}), each with its reason:\n${skipped.join("\n")}\n`);
  }
}
