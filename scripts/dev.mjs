#!/usr/bin/env node
// `pnpm dev`: the whole stack on one machine, no GPU and no Docker needed.
// Aggregator (:8081) + worker (WebGPU on llvmpipe or the CPU reference, small sizes, metrics on :8082)
// + Prometheus (:9090, from deploy/prometheus.yml with local targets) when a `prometheus` binary is on PATH.
// A dev key is generated once under .dev/ (git-ignored). Ctrl-C stops everything cleanly.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import YAML from "yaml";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
// DEV_DIR moves the dev state (key, ledger, spool, Prometheus data) elsewhere, e.g. for tests.
const dev = resolve(process.env.DEV_DIR ?? join(root, ".dev"));
mkdirSync(dev, { recursive: true });

const ports = {
  aggregator: Number(process.env.AGGREGATOR_PORT ?? 8081),
  metrics: Number(process.env.METRICS_PORT ?? 8082),
  prometheus: Number(process.env.PROMETHEUS_PORT ?? 9090),
};

// The dev key: made once, kept in a git-ignored file readable by this user only; never printed.
const keyFile = join(dev, "worker.key");
if (!existsSync(keyFile)) {
  let sk;
  do sk = randomBytes(32); while (!secp256k1.utils.isValidSecretKey(sk));
  writeFileSync(keyFile, Buffer.from(sk).toString("hex") + "\n", { mode: 0o600 });
}
const skHex = readFileSync(keyFile, "utf8").trim();
const pubkey = Buffer.from(secp256k1.getPublicKey(Buffer.from(skHex, "hex"), true)).toString("hex");

// One Node process per service (`--import tsx` rather than the tsx wrapper), so signals reach it directly.
const runTs = (entry) => [process.execPath, "--import", "tsx", join(root, entry)];
const children = [];
let stopping = false;

function start(name, args, env) {
  const child = spawn(args[0], args.slice(1), { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const prefix = `[${name}] `;
  for (const stream of [child.stdout, child.stderr]) {
    let buf = "";
    stream.on("data", (d) => {
      buf += d;
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      for (const line of lines) process.stdout.write(prefix + line + "\n");
    });
  }
  child.on("exit", (code, signal) => {
    process.stdout.write(`${prefix}exited (${signal ?? code})\n`);
    if (!stopping) stop(code === 0 ? 0 : 1);
  });
  children.push(child);
  return child;
}

async function waitForHttp(url, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

function stop(code) {
  if (stopping) return;
  stopping = true;
  process.stdout.write("\nstopping…\n");
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  const force = setTimeout(() => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  }, 10_000);
  Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once("exit", r))))).then(() => {
    clearTimeout(force);
    process.exit(code);
  });
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));

start("aggregator", runTs("packages/aggregator/src/cli.ts"), {
  AGGREGATOR_PORT: String(ports.aggregator),
  DATA_DIR: join(dev, "aggregator"),
  ALLOWED_KEYS: pubkey,
  AUDIT_RATE: process.env.AUDIT_RATE ?? "1",
  EPOCH_SECONDS: process.env.EPOCH_SECONDS ?? "60",
});
if (!(await waitForHttp(`http://127.0.0.1:${ports.aggregator}/healthz`, 30_000))) {
  process.stdout.write("aggregator did not come up within 30 s\n");
  stop(1);
} else {
  start("worker", runTs("packages/worker/src/cli.ts"), {
    WORKER_SK_HEX: skHex,
    AGGREGATOR_URL: `http://127.0.0.1:${ports.aggregator}/verify`,
    TOPS_BACKEND: process.env.TOPS_BACKEND ?? "auto",
    AUTOTUNE_TARGET_MS: process.env.AUTOTUNE_TARGET_MS ?? "300",
    AUTOTUNE_PRESETS: process.env.AUTOTUNE_PRESETS ?? "64,64,64;128,128,128;256,256,256",
    METRICS_PORT: String(ports.metrics),
    SPOOL_DIR: join(dev, "spool"),
    RATE_LIMIT: process.env.RATE_LIMIT ?? "2",
  });

  const hasPrometheus = spawnSync("sh", ["-c", "command -v prometheus"]).status === 0;
  if (hasPrometheus) {
    // deploy/prometheus.yml names compose hosts; here everything runs on localhost.
    const config = YAML.parse(readFileSync(join(root, "deploy", "prometheus.yml"), "utf8"));
    const local = { worker: `127.0.0.1:${ports.metrics}`, aggregator: `127.0.0.1:${ports.aggregator}` };
    for (const job of config.scrape_configs ?? []) {
      for (const sc of job.static_configs ?? []) {
        sc.targets = (sc.targets ?? []).map((t) => local[t.split(":")[0]] ?? t);
      }
    }
    config.rule_files = [join(root, "alerts", "*.yml")];
    delete config.alerting;
    writeFileSync(join(dev, "prometheus.yml"), YAML.stringify(config));
    start("prometheus", [
      "prometheus", `--config.file=${join(dev, "prometheus.yml")}`, `--storage.tsdb.path=${join(dev, "prometheus-data")}`,
      `--web.listen-address=127.0.0.1:${ports.prometheus}`, "--log.level=warn",
    ], {});
  }

  const lines = [
    "",
    "tops-worker dev stack",
    `  aggregator   http://localhost:${ports.aggregator}/challenge   (metrics: /metrics, health: /healthz)`,
    `  worker       http://localhost:${ports.metrics}/               (Prometheus: /prometheus, /health, /ready, /status)`,
    hasPrometheus ? `  prometheus   http://localhost:${ports.prometheus}/alerts` : "  prometheus   not found on PATH (bash scripts/setup.sh installs it)",
    `  dev key      ${keyFile} (public key ${pubkey})`,
    "  Ctrl-C stops everything.",
    "",
  ];
  process.stdout.write(lines.join("\n") + "\n");
}
