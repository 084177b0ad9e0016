/**
 * Lifecycle on the gl backend: no leaks over 1,000 attempts, recovery from a device lost in
 * the middle of an attempt, typed errors, backend selection, and a process that exits by
 * itself after destroy().
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { referenceWorkRoot } from "@tops/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GpuError, createEngine, isGpuError, type Engine } from "../../src/engine";
import { openAdapter } from "../../src/engine/gpu/dawn";
import { GpuContext, Usage, gpuBufferStats } from "../../src/engine/gpu/device";
import type { GpuEngine } from "../../src/engine/gpu/engine";
import { expectExact, freshSeed, skipGl } from "./helpers";

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

describe.skipIf(skipGl)("gl backend lifecycle", () => {
  let engine: GpuEngine;
  const log: string[] = [];

  beforeAll(async () => {
    engine = (await createEngine({ backend: "gl", log: (l) => log.push(l) })) as GpuEngine;
  });
  afterAll(async () => {
    await engine?.destroy();
  });

  it("runs 1,000 attempts without leaking GPU buffers or heap", async () => {
    const sizes = { m: 8, n: 12, k: 20, batch: 1 };
    const seed = freshSeed();
    const expected = Buffer.from(referenceWorkRoot(seed, sizes)).toString("hex");
    for (let i = 0; i < 50; i++) await engine.runAttempt({ seed, sizes }); // warm-up: pipelines, buffers
    gc();
    const buffersBefore = gpuBufferStats();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1000; i++) {
      const r = await engine.runAttempt({ seed, sizes });
      if (i % 100 === 0) expect(Buffer.from(r.workRoot).toString("hex")).toBe(expected);
    }
    gc();
    const buffersAfter = gpuBufferStats();
    const heapAfter = process.memoryUsage().heapUsed;
    expect(buffersAfter.live).toBe(buffersBefore.live);
    expect(buffersAfter.created).toBe(buffersBefore.created); // nothing is allocated per attempt
    expect(heapAfter - heapBefore).toBeLessThan(4 * 2 ** 20);
  });

  it("recovers from a device destroyed while an attempt is in flight", async () => {
    const big = { m: 768, n: 768, k: 768, batch: 1 };
    await engine.runAttempt({ seed: freshSeed(), sizes: big }); // compile and allocate first
    // Lose the device right after the attempt's work is submitted, while it waits for results.
    const device = engine.currentDevice()!;
    const queue = device.queue;
    const submit = queue.submit.bind(queue);
    let submitted = 0;
    queue.submit = (buffers: Iterable<GPUCommandBuffer>): undefined => {
      submit(buffers);
      submitted++;
      device.destroy();
    };
    const inFlight = engine.runAttempt({ seed: freshSeed(), sizes: big });
    const err = await inFlight.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(submitted).toBe(1);
    expect(isGpuError(err)).toBe(true);
    expect((err as GpuError).class).toBe("device-lost");
    expect((err as Error).message).not.toContain("\n");
    // The next attempts run on a new device and are exact.
    await expectExact(engine, { m: 33, n: 70, k: 101, batch: 2 });
    await expectExact(engine, big);
    expect(log.some((l) => l.includes("recreating the GPU device"))).toBe(true);
  });

  it("times the variants on real attempts, then keeps the fastest for that size", async () => {
    const sizes = { m: 96, n: 80, k: 72, batch: 1 };
    const used = new Set<string>();
    let last: { exploring?: boolean; variant: string } = { exploring: true, variant: "" };
    for (let i = 0; i < 40 && last.exploring; i++) {
      const r = await engine.runAttempt({ seed: freshSeed(), sizes });
      used.add(r.variant);
      last = r;
    }
    expect(last.exploring).toBeUndefined();
    expect(used.size).toBe(engine.usableVariants.length);
    expect(log.some((l) => l.startsWith("gl: variant for 96x80x72: ") && l.endsWith(`-> ${last.variant}`))).toBe(true);
    const again = await engine.runAttempt({ seed: freshSeed(), sizes });
    expect(again.variant).toBe(last.variant);
    expect(again.exploring).toBeUndefined();
  });

  it("releases every buffer on destroy", async () => {
    const e = await createEngine({ backend: "gl" });
    await e.runAttempt({ seed: freshSeed(), sizes: { m: 16, n: 16, k: 16, batch: 1 } });
    const live = gpuBufferStats().live;
    await e.destroy();
    expect(gpuBufferStats().live).toBeLessThan(live);
    await engine.destroy();
    expect(gpuBufferStats().live).toBe(0);
    engine = (await createEngine({ backend: "gl" })) as GpuEngine;
  });
});

describe.skipIf(skipGl)("gl errors", () => {
  it("turns WebGPU validation errors into a one-line GpuError of class validation", async () => {
    const { adapter, gpu } = await openAdapter("gl");
    const ctx = await GpuContext.create(adapter, gpu.wgslLanguageFeatures, () => {}, "gl");
    try {
      const b = ctx.buffer("no-copy-dst", 16, Usage.STORAGE);
      const err = await ctx.scoped("write", () => ctx.device.queue.writeBuffer(b, 0, new Uint8Array(16))).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GpuError);
      expect((err as GpuError).class).toBe("validation");
      expect((err as GpuError).message).toMatch(/^write: /);
      expect((err as GpuError).message).not.toContain("\n");
      expect((err as GpuError).detail).toBeDefined();
      // Sizes the device cannot bind are refused up front as "unsupported".
      const { AttemptRunner } = await import("../../src/engine/gpu/runner");
      const runner = new AttemptRunner(ctx);
      expect(() => runner.resources({ m: 65536, n: 65536, k: 8, batch: 1 })).toThrow(/binds at most/);
      runner.destroy();
    } finally {
      ctx.destroy();
    }
  });
});

describe("backend selection", () => {
  it("auto picks the best backend and says why the others failed", async () => {
    const lines: string[] = [];
    const e: Engine = await createEngine({ backend: "auto", log: (l) => lines.push(l) });
    try {
      expect(["gpu", "gl", "cpu"]).toContain(e.backend);
      expect(e.selection[e.selection.length - 1]).toMatch(new RegExp(`^${e.backend}: chosen`));
      expect(e.selection[0]).toMatch(/^gpu: /);
      for (const line of e.selection) expect(line).not.toContain("\n");
      if (e.backend !== "gpu") expect(e.selection[0]).not.toMatch(/chosen/);
      if (!skipGl && e.backend === "cpu") throw new Error(`gl expected here: ${e.selection.join(" | ")}`);
    } finally {
      await e.destroy();
    }
  });

  it("an explicit backend that cannot start fails with one clear line", async () => {
    const e = await createEngine({ backend: "gpu" }).catch((err: unknown) => err);
    if (e instanceof GpuError) {
      expect(e.class).toBe("unsupported");
      expect(e.message).toMatch(/^gpu: /);
      expect(e.message).not.toContain("\n");
    } else {
      await (e as Engine).destroy(); // a machine with a real GPU
    }
  });

  it("refuses an unknown variant clearly", async () => {
    const err = await createEngine({ backend: skipGl ? "cpu" : "gl", variant: "nope" }).catch((e: unknown) => e);
    if (!skipGl) {
      expect(err).toBeInstanceOf(GpuError);
      expect((err as Error).message).toMatch(/variant "nope"/);
    } else {
      await (err as Engine).destroy();
    }
  });
});

describe.skipIf(skipGl)("process exit", () => {
  it("a child running one attempt then destroy() exits by itself within a few seconds", async () => {
    const fixture = fileURLToPath(new URL("./fixtures/one-attempt.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", fixture, "gl"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`child still alive after 60 s; stdout: ${out}`));
      }, 60_000);
      child.on("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    const exitedAt = Date.now();
    expect(code).toBe(0);
    const report = JSON.parse(out.trim().split("\n").pop()!) as { backend: string; root: string; destroyedAt: number };
    expect(report.backend).toBe("gl");
    expect(report.root).toBe(Buffer.from(referenceWorkRoot(new Uint8Array(32).fill(7), { m: 64, n: 64, k: 64, batch: 1 })).toString("hex"));
    expect(exitedAt - report.destroyedAt).toBeLessThan(5000);
  });
});
