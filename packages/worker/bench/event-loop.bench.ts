/**
 * Event-loop delay while attempts run, engine on the main thread vs in a worker thread, side by
 * side in one run. Dawn's GL backend blocks the calling thread for the whole GPU submit, so on
 * the main thread every metrics scrape, signal and HTTP answer waits for the attempt in flight.
 *
 *   pnpm --filter @tops/worker exec tsx bench/event-loop.bench.ts   (also part of `pnpm bench`)
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { randomBytes } from "node:crypto";
import { deriveSeed, type Sizes } from "@tops/protocol";
import { createEngine, createThreadedEngine, type Engine } from "../src/engine";

const sizes: Sizes = { m: 512, n: 512, k: 512, batch: 1 };
const DURATION_MS = Number(process.env.BENCH_EVENT_LOOP_MS ?? 3000);

async function measure(label: string, engine: Engine): Promise<string> {
  const seed = () => deriveSeed({ pubkey: Uint8Array.from([2, ...randomBytes(32)]), prevHash: randomBytes(32), deviceDid: "did:bench", nonce: 1 });
  await engine.runAttempt({ seed: seed(), sizes }); // warm-up: pipelines, weights, variant choice
  await engine.runAttempt({ seed: seed(), sizes });
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const until = performance.now() + DURATION_MS;
  let attempts = 0;
  while (performance.now() < until) {
    await engine.runAttempt({ seed: seed(), sizes });
    attempts++;
  }
  h.disable();
  await engine.destroy();
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  return `| ${label} | ${engine.backend} | ${attempts} | ${ms(h.percentile(50))} | ${ms(h.percentile(99))} | ${ms(h.max)} |`;
}

const backend = (process.env.BENCH_EVENT_LOOP_BACKEND ?? "gl") as "gl" | "cpu" | "gpu";
console.log(`\nEvent-loop delay while ${sizes.m}x${sizes.n}x${sizes.k} attempts run back to back for ${DURATION_MS} ms\n`);
console.log("| engine | backend | attempts | delay p50 ms | delay p99 ms | delay max ms |");
console.log("|---|---|---:|---:|---:|---:|");
console.log(await measure("main thread", await createEngine({ backend })));
console.log(await measure("worker thread (ENGINE_THREAD=1)", await createThreadedEngine({ backend })));
