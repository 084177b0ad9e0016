// Entry of the embedded database's worker thread. Threads start as plain Node, whatever loader
// the main thread runs under (tsx, vitest), so the TypeScript loader is registered here first
// (as @tops/aggregator's audit threads do).
import { register } from "tsx/esm/api";

register();
await import("./embedded-thread.ts");
