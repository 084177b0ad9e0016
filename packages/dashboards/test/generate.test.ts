/** The committed outputs are what the TypeScript generates, byte for byte, every time. */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { renderOutputs, staleOutputs } from "../src";

const run = promisify(execFile);
const packageDir = join(import.meta.dirname, "..");
const tmp = await mkdtemp(join(tmpdir(), "dashboards-generate-"));
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe("generate", () => {
  it("committed dashboards/ and alerts/ match a fresh generation (run `pnpm generate` if this fails)", async () => {
    expect(await staleOutputs()).toEqual([]);
  });

  it("renders byte-identical output twice", () => {
    expect(renderOutputs()).toEqual(renderOutputs());
  });

  it("detects a file that differs or is missing", async () => {
    const edited = join(tmp, "edited.json");
    await writeFile(edited, "{}\n");
    const stale = await staleOutputs([
      { path: edited, content: "{ }\n" },
      { path: join(tmp, "missing.yml"), content: "groups: []\n" },
    ]);
    expect(stale.map((path) => path.split("/").pop())).toEqual(["edited.json", "missing.yml"]);
  });

  it("`generate --check` exits 0 on fresh outputs", async () => {
    const { stdout } = await run(process.execPath, ["--import", "tsx", "src/generate.ts", "--check"], { cwd: packageDir });
    expect(stdout).toContain("up to date");
  });

  it("`generate` rejects unknown arguments", async () => {
    await expect(run(process.execPath, ["--import", "tsx", "src/generate.ts", "--chek"], { cwd: packageDir })).rejects.toMatchObject({ code: 2 });
  });
});
