/**
 * Once per test run: a throwaway PostgreSQL cluster (when the binaries are installed) and an
 * PGlite database template (its initdb takes seconds; tests copy the template instead).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { openStore } from "../src";
import { postgresUnavailable, startPgCluster, type PgCluster } from "./pg-cluster";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string | null;
    pgUnavailable: string | null;
    embeddedTemplate: string;
  }
}

let cluster: PgCluster | null = null;
let templateDir = "";

export async function setup(project: TestProject): Promise<void> {
  templateDir = mkdtempSync(join(tmpdir(), "tops-store-template-"));
  const store = await openStore({ dataDir: templateDir, embeddedEngine: "pglite" });
  await store.close();
  project.provide("embeddedTemplate", templateDir);
  const reason = postgresUnavailable();
  if (!reason) cluster = await startPgCluster();
  project.provide("pgAdminUrl", cluster?.adminUrl ?? null);
  project.provide("pgUnavailable", reason);
}

export function teardown(): void {
  cluster?.stop();
  if (templateDir) rmSync(templateDir, { recursive: true, force: true });
}
