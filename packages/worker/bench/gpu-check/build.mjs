// `pnpm gpu:bundle`: builds .gpu-bundle/ at the repository root, a self-contained GPU check for a
// linux-x64 machine with a GPU, Python and no Node or internet (see README.md here):
//   node.xz          this machine's Node binary, xz-compressed
//   dawn.node.xz     dawn.node for linux-x64 from the `webgpu` package, xz-compressed
//   app/check.mjs    the engine and check.ts bundled into one file (esbuild; no tsx needed)
//   app/node_modules/webgpu/  the package's loader (index.js, package.json); dawn.node goes in at run time
//   debs/            the Vulkan/EGL loader packages, as the device tool's README fetches them
//   run.sh, torch_int_mm.py
// Fails when the folder would exceed 60 MiB. `--js-only` rebuilds check.mjs and the scripts and
// keeps the compressed binaries and packages of an earlier build (for iterating on the check).
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const worker = path.resolve(here, "../..");
const root = path.resolve(worker, "../..");
const out = path.join(root, ".gpu-bundle");
const LIMIT = 60 * 2 ** 20;
const DEBS = ["libvulkan1", "libegl1", "libglvnd0", "libopengl0", "libgl1", "libglx0", "libgles2"];

const step = (what) => process.stdout.write(`gpu:bundle: ${what}\n`);

const jsOnly = process.argv.includes("--js-only") && existsSync(path.join(out, "node.xz")) && existsSync(path.join(out, "dawn.node.xz"));
if (!jsOnly) rmSync(out, { recursive: true, force: true });
const webgpuOut = path.join(out, "app/node_modules/webgpu");
mkdirSync(path.join(webgpuOut, "dist/linux-x64"), { recursive: true });
mkdirSync(path.join(out, "debs"), { recursive: true });

step("bundling the engine and the check (esbuild)");
await build({
  entryPoints: [path.join(here, "check.ts")],
  outfile: path.join(out, "app/check.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // dawn.node is loaded by the webgpu package's own index.js, next to the bundle.
  external: ["webgpu"],
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: "warning",
});

step("webgpu loader and dawn.node (linux-x64)");
const requireFromWorker = createRequire(path.join(worker, "package.json"));
const webgpuDir = path.dirname(requireFromWorker.resolve("webgpu/package.json"));
for (const f of ["package.json", "index.js", "LICENSE.md"]) copyFileSync(path.join(webgpuDir, f), path.join(webgpuOut, f));
const xz = (src, dst) => writeFileSync(dst, execFileSync("xz", ["-6", "-T0", "-c", src], { maxBuffer: 256 * 2 ** 20 }));
if (!jsOnly) {
  xz(path.join(webgpuDir, "dist/linux-x64/dawn.node"), path.join(out, "dawn.node.xz"));
  step(`Node ${process.version} (${process.execPath}), xz-compressed`);
  xz(process.execPath, path.join(out, "node.xz"));
}

step("Vulkan/EGL loader packages (amd64)");
const carried = path.join(root, ".gl");
const have = existsSync(carried) ? readdirSync(carried).filter((f) => f.endsWith(".deb")) : [];
const bundled = readdirSync(path.join(out, "debs"));
if (jsOnly && DEBS.every((d) => bundled.some((f) => f.startsWith(`${d}_`)))) {
  step("  kept from the earlier build");
} else if (DEBS.every((d) => have.some((f) => f.startsWith(`${d}_`)))) {
  for (const f of have) copyFileSync(path.join(carried, f), path.join(out, "debs", f));
} else {
  // As the device tool's README does it: amd64 package lists in a private directory.
  const lists = "/tmp/gpu-bundle-apt-lists";
  mkdirSync(path.join(lists, "partial"), { recursive: true });
  const o = ["-oAPT::Architecture=amd64", "-oAPT::Architectures=amd64", `-oDir::State::Lists=${lists}`];
  execFileSync("apt-get", [...o, "-qq", "update"], { stdio: "inherit" });
  execFileSync("apt-get", [...o, "-qq", "download", ...DEBS], { cwd: path.join(out, "debs"), stdio: "inherit" });
}

for (const f of ["run.sh", "torch_int_mm.py", "README.md"]) cpSync(path.join(here, f), path.join(out, f));

const size = (p) => (statSync(p).isDirectory() ? readdirSync(p).reduce((s, f) => s + size(path.join(p, f)), 0) : statSync(p).size);
const total = size(out);
step(`${path.relative(root, out)}/: ${(total / 2 ** 20).toFixed(1)} MiB`);
if (total > LIMIT) {
  process.stderr.write(`gpu:bundle: ${(total / 2 ** 20).toFixed(1)} MiB is over the 60 MiB limit\n`);
  process.exit(1);
}
