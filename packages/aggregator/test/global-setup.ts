/**
 * Once per project: an embedded database template (the default engine's, SQLite; an empty database made
 * once and copied by each test aggregator), and for the postgres project a throwaway PostgreSQL cluster.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "@tops/store";
import { postgresUnavailable, startPgCluster, type PgCluster } from "@tops/store/testing";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    embeddedTemplate: string;
    pgAdminUrl: string | null;
    pgUnavailable: string | null;
  }
}

let cluster: PgCluster | null = null;
let template = "";

export async function setup(project: TestProject): Promise<void> {
  template = mkdtempSync(join(tmpdir(), "tops-agg-template-"));
  await (await openStore({ dataDir: template })).close();
  project.provide("embeddedTemplate", template);
  const wantsPostgres = project.config.env?.TOPS_TEST_STORE === "postgres";
  const reason = wantsPostgres ? postgresUnavailable() : "not the postgres project";
  if (wantsPostgres && reason === null) cluster = await startPgCluster();
  project.provide("pgAdminUrl", cluster?.adminUrl ?? null);
  project.provide("pgUnavailable", reason);
}

export function teardown(): void {
  cluster?.stop();
  if (template) rmSync(template, { recursive: true, force: true });
}
