/** Shared bits of the engine tests. */
import { readFileSync } from "node:fs";
import { computeY2, merkleRoot, rowLeaves, workRoot, type Sizes } from "@tops/protocol";
import { expect } from "vitest";
import type { Engine } from "../../src/engine";
import { inspectBackend, type BackendReport } from "../../src/engine/gpu/inspect";

/** GL tests run unless TOPS_SKIP_GL_TESTS=1 (for CI images without Mesa's EGL/GLES libraries). */
export const skipGl = process.env.TOPS_SKIP_GL_TESTS === "1";

/**
 * Backends that must start (CI sets gpu,gl with lavapipe installed and TOPS_ALLOW_SOFTWARE_GPU=1):
 * there a backend that cannot start fails the suite instead of skipping it.
 */
export const requiredBackends: readonly string[] = (process.env.TOPS_TEST_REQUIRE_BACKENDS ?? "")
  .split(",")
  .map((b) => b.trim())
  .filter(Boolean);

/**
 * What `kind` offers here (adapter, features, variants), or why it cannot run: tests take
 * their expectations from this rather than from assumptions about the machine.
 */
export async function backendReport(kind: "gpu" | "gl"): Promise<BackendReport> {
  if (kind === "gl" && skipGl) return { kind, ok: false, reason: "TOPS_SKIP_GL_TESTS=1" };
  return inspectBackend(kind);
}

/** The skip reason for a backend that cannot run, as it goes into test names. */
export const skippedBecause = (why: string | null): string => (why === null ? "" : ` — skipped: ${why}`);

export const freshSeed = (): Uint8Array => crypto.getRandomValues(new Uint8Array(32));

export interface Vector {
  name: string;
  sizes: Sizes;
  seed_hex: string;
  work_root_hex: string;
}

export const protocolVectors = (): Vector[] =>
  (JSON.parse(readFileSync(new URL("../../../protocol/vectors/vectors.json", import.meta.url), "utf8")) as { attempts: Vector[] }).attempts;

/** Runs one attempt with a fresh seed and checks y2, the row leaves and work_root against the reference. */
export async function expectExact(engine: Engine, sizes: Sizes): Promise<string> {
  const seed = freshSeed();
  const r = await engine.runAttempt({ seed, sizes, returnY2: true });
  const y2 = computeY2(seed, sizes);
  expect(r.y2).toBeDefined();
  const got = r.y2!;
  expect(got.length).toBe(y2.length);
  // Poisoned buffers hold 0xFF; no real output exceeds 127.
  expect(got.every((b) => b <= 127)).toBe(true);
  const at = y2.findIndex((b, i) => b !== got[i]);
  expect(at, `first differing byte of y2 at ${JSON.stringify(sizes)}`).toBe(-1);
  const leaves = rowLeaves(sizes, y2);
  expect(r.leaves.length).toBe(32 * sizes.m * sizes.batch);
  const leafAt = leaves.findIndex((b, i) => b !== r.leaves[i]);
  expect(leafAt < 0 ? -1 : Math.floor(leafAt / 32), `first differing leaf at ${JSON.stringify(sizes)}`).toBe(-1);
  expect(Buffer.from(r.workRoot).toString("hex")).toBe(Buffer.from(merkleRoot(leaves)).toString("hex"));
  expect(Buffer.from(r.workRoot).toString("hex")).toBe(Buffer.from(workRoot(sizes, y2)).toString("hex"));
  return r.variant;
}
