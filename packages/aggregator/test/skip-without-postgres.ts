/** In the postgres project, every test is skipped, with the reason, where no PostgreSQL can run. */
import { beforeEach, inject } from "vitest";

const reason = inject("pgUnavailable");
if (process.env.TOPS_TEST_STORE === "postgres" && inject("pgAdminUrl") === null) {
  beforeEach((ctx) => {
    ctx.skip(`no PostgreSQL here: ${reason ?? "unknown"}`);
  });
}
