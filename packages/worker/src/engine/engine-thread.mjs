// Entry of the engine's worker thread. Threads start as plain Node, whatever loader the main
// thread runs under (tsx, vitest), so the TypeScript loader is registered here first.
import { register } from "tsx/esm/api";

register();
await import("./engine-thread.ts");
