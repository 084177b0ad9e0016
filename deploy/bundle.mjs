#!/usr/bin/env node
// Compiles the services to plain JavaScript for the container image (deploy/Dockerfile's build
// stage): one ES module bundle per entry point, so a container starts `node dist/...` instead
// of compiling TypeScript through tsx at every start.
//
//   node deploy/bundle.mjs [outdir]     (default: dist/)
//
// Writes, so that outdir alone runs the services:
//   outdir/worker/*.mjs, outdir/worker/node_modules       webgpu (native Dawn bindings), onnxruntime-node
//   outdir/aggregator/*.mjs, outdir/aggregator/node_modules   better-sqlite3 (its native binding), @electric-sql/pglite (its .wasm/.data files), onnxruntime-node
//   outdir/migrations/*.sql, outdir/migrations-sqlite/*.sql   @tops/store's schema migrations (PostgreSQL and PGlite; SQLite)
// Each service's external packages sit in its own folder's node_modules (Node looks there
// first), so the aggregator image carries no Dawn and the worker image no PGlite.
//
// The worker threads' entries are bundled next to the bundle that starts them, under the
// names the sources resolve relative to `import.meta.url` (`./engine-thread.mjs`,
// `./audit-thread.mjs`, `./embedded-thread.mjs`), so the tsx-registering .mjs shims of the
// sources are not needed. Everything else, workspace packages and `pg` included, is in the bundles.
//
// Files read at run time relative to `import.meta.url` follow the bundle, not the source:
// @tops/store's MIGRATIONS_DIR is `new URL("../migrations/", import.meta.url)`, which from
// outdir/aggregator/*.mjs is outdir/migrations/; PGlite finds pglite.wasm, pglite.data and
// initdb.wasm next to its own modules, which is why it stays an external package.
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
  // The embedded database's thread (@tops/store runs PGlite off the event loop where it has one).
  ...(existsSync(join(root, "packages/store/src/embedded-thread.ts")) ? { "aggregator/embedded-thread": "packages/store/src/embedded-thread.ts" } : {}),
};

/**
 * Packages left out of the bundles, per service folder: package → the workspace package it is
 * resolved from. Each is copied with its dependencies into outdir/<service>/node_modules.
 */
export const externalsByService = {
  // webgpu: native Dawn bindings; onnxruntime-node: the row kernel of the worker's audit openings.
  worker: { webgpu: "packages/worker", "onnxruntime-node": "packages/rowkernel" },
  aggregator: {
    // The embedded database: SQLite's native binding (the default engine) and PGlite (EMBEDDED_ENGINE=pglite).
    "better-sqlite3": "packages/store",
    "@electric-sql/pglite": "packages/store",
    // The audit threads' fast row kernel (native). @tops/rowkernel imports it by a specifier
    // held in a variable, which esbuild cannot see; without it here the services silently
    // fall back to the slow TypeScript reference kernel.
    "onnxruntime-node": "packages/rowkernel",
  },
};
/** Dependencies that only a package's install script uses (onnxruntime-node's and better-sqlite3's downloaders): not copied. */
const installOnlyDependencies = new Set(["adm-zip", "global-agent", "prebuild-install"]);
/**
 * Of a package built from source at install, the files it runs with (paths relative to its
 * directory): better-sqlite3 keeps SQLite's sources (10 MB) and the compiler's objects (17 MB)
 * beside its one binding.
 */
const runtimeFiles = {
  "better-sqlite3": (path) => ["", "/package.json", "/build", "/build/Release", "/build/Release/better_sqlite3.node"].includes(path) || path.startsWith("/lib"),
};
const external = [
  ...Object.values(externalsByService).flatMap((packages) => Object.keys(packages)),
  // pg's optional native binding, loaded only under NODE_PG_FORCE_NATIVE; never installed here.
  "pg-native",
];

/** Where @tops/store's migrations go: MIGRATIONS_DIR and SQLITE_MIGRATIONS_DIR as the bundled aggregator resolves them. */
export const migrationsOut = "migrations";
export const sqliteMigrationsOut = "migrations-sqlite";

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

/** Copies `name` and its dependencies (recursively) into `modulesDir`. */
async function copyRuntimeModule(name, fromDir, modulesDir, seen = new Set()) {
  if (seen.has(name)) return;
  seen.add(name);
  const dir = await packageDir(name, fromDir);
  const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
  const target = join(modulesDir, name);
  const wanted = runtimeFiles[name] ?? (() => true);
  await cp(dir, target, { recursive: true, dereference: true, filter: (src) => isForThisPlatform(src.slice(dir.length)) && wanted(src.slice(dir.length)) });
  for (const dep of Object.keys(manifest.dependencies ?? {})) {
    if (!installOnlyDependencies.has(dep)) await copyRuntimeModule(dep, dir, modulesDir, seen);
  }
}

/**
 * Native bindings: only this platform's (the image builds on the platform it runs on). Packages
 * lay them out as `dist/linux-x64/` (webgpu) or `bin/napi-v6/linux/x64/` (onnxruntime-node).
 */
function isForThisPlatform(relativePath) {
  const m = /[\\/](darwin|linux|win32)(?:[-\\/]([a-z0-9]+))?(?=[\\/]|$)/.exec(relativePath);
  return !m || (m[1] === process.platform && (m[2] === undefined || m[2] === process.arch));
}

for (const [service, packages] of Object.entries(externalsByService)) {
  for (const [name, resolveFrom] of Object.entries(packages)) await copyRuntimeModule(name, join(root, resolveFrom), join(outdir, service, "node_modules"));
}
await cp(join(root, "packages/store/migrations"), join(outdir, migrationsOut), { recursive: true, filter: (src) => !src.endsWith(".md") });
await cp(join(root, "packages/store/migrations-sqlite"), join(outdir, sqliteMigrationsOut), { recursive: true, filter: (src) => !src.endsWith(".md") });
process.stdout.write(`bundled ${Object.keys(entries).length} entry points, ${[...new Set(external.filter((e) => e !== "pg-native"))].join(", ")} and the store's migrations into ${outdir}\n`);
