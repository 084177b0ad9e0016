#!/usr/bin/env node
// Compiles the services to plain JavaScript for the container image (deploy/Dockerfile's build
// stage): one ES module bundle per entry point, so a container starts `node dist/...` instead
// of compiling TypeScript through tsx at every start.
//
//   node deploy/bundle.mjs [outdir]     (default: dist/)
//
// Writes outdir/{worker,aggregator}/*.mjs and outdir/node_modules (the external packages and
// their production dependencies, nothing else), so outdir alone runs the services.
//
// The worker threads' entries are bundled next to the bundle that starts them, under the
// names the sources resolve relative to `import.meta.url` (`./engine-thread.mjs`,
// `./audit-thread.mjs`), so the tsx-registering .mjs shims of the sources are not needed.
// Only `webgpu` (native Dawn bindings, loaded on demand) stays external: the image copies it
// with its dependencies; everything else, workspace packages included, is in the bundles.
import { build } from "esbuild";
import { existsSync } from "node:fs";
import { cp, readFile, realpath, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = resolve(process.argv[2] ?? join(root, "dist"));

/** Bundles by output path (relative to outdir) → source entry. */
export const entries = {
  "worker/cli": "packages/worker/src/cli.ts",
  "worker/engine-thread": "packages/worker/src/engine/engine-thread.ts",
  "aggregator/cli": "packages/aggregator/src/cli.ts",
  "aggregator/audit-thread": "packages/aggregator/src/audit-thread.ts",
};

/** Packages left out of the bundles; the runtime image must provide them in node_modules. */
export const external = ["webgpu"];

await rm(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: Object.fromEntries(Object.entries(entries).map(([out, src]) => [out, join(root, src)])),
  outdir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  splitting: false,
  platform: "node",
  target: "node20",
  format: "esm",
  external,
  sourcemap: "linked",
  legalComments: "none",
  logLevel: "warning",
  // Bundled CommonJS dependencies (pino, prom-client) call require() for Node built-ins.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});

/** Directory of `name` as Node's node_modules lookup finds it from `fromDir` (pnpm: the real path in the store). */
async function packageDir(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return realpath(candidate);
    if (dirname(dir) === dir) throw new Error(`${name} not found from ${fromDir}`);
  }
}

/** Copies `name` and its dependencies (recursively) into outdir/node_modules. */
async function copyRuntimeModule(name, fromDir, seen = new Set()) {
  if (seen.has(name)) return;
  seen.add(name);
  const dir = await packageDir(name, fromDir);
  const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
  const target = join(outdir, "node_modules", name);
  await cp(dir, target, {
    recursive: true,
    dereference: true,
    // Native bindings: only this platform's (the image builds on the platform it runs on).
    filter: (src) => !/[\\/]dist[\\/](darwin|linux|win32)-[^\\/]+/.test(src.slice(dir.length)) || src.slice(dir.length).includes(`${process.platform}-${process.arch}`),
  });
  for (const dep of Object.keys(manifest.dependencies ?? {})) await copyRuntimeModule(dep, dir, seen);
}

for (const name of external) await copyRuntimeModule(name, join(root, "packages", "worker"));
process.stdout.write(`bundled ${Object.keys(entries).length} entry points and ${external.join(", ")} into ${outdir}\n`);
