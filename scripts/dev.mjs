#!/usr/bin/env node
// `pnpm dev`: the whole stack on one machine, no GPU and no Docker needed.
// Aggregator (:8081) + worker (WebGPU on llvmpipe or the CPU reference, small sizes, metrics on :8082)
// + Prometheus (:9090, from deploy/prometheus.yml with local targets) when a `prometheus` binary is on PATH.
// A dev key is generated once under .dev/ (git-ignored). Ctrl-C stops everything cleanly (exit 0).
//
// Output: on a terminal, one short line per event that matters (warnings and errors at once,
// start-up steps), the per-receipt lines folded into a summary every SUMMARY_SECONDS, and the
// URL banner reprinted every fourth summary when lines have pushed it up. Not on a terminal (CI, `| tee`, tests): every
// line of every service as it came, prefixed with `[service]`. DEV_LOG_FORMAT=pretty|json forces one.
//
// Signals: a terminal's Ctrl-C reaches the whole foreground process group, the services
// included, and each stops on its own (the worker finishes or spools its attempt). So on
// SIGINT the orchestrator only waits; a service still running after STOP_GRACE_MS (it was
// not in the group, e.g. `kill -INT <pid of this script>`) then gets one SIGTERM. A second
// signal to a service would make it exit at once (the worker exits 130), so none is sent
// twice. SIGTERM (a supervisor, not a terminal) is passed on at once.
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

// DEV_SUMMARY_SECONDS: how often the pretty output sums up (tests shorten it); the banner comes
// back every fourth summary once other lines have pushed it away.
const SUMMARY_SECONDS = Number(process.env.DEV_SUMMARY_SECONDS ?? 15);
const BANNER_EVERY = 4;
const STOP_GRACE_MS = Number(process.env.DEV_STOP_GRACE_MS ?? 5000);
const FORCE_KILL_MS = 15_000;

const format = process.env.DEV_LOG_FORMAT ?? (process.stdout.isTTY ? "pretty" : "json");
if (format !== "pretty" && format !== "json") {
  process.stderr.write(`DEV_LOG_FORMAT must be pretty or json, not ${JSON.stringify(format)}\n`);
  process.exit(2);
}
const pretty = format === "pretty";
const color = pretty && process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (code, text) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);

// The dev key: made once, kept in a git-ignored file readable by this user only; never printed.
const keyFile = join(dev, "worker.key");
if (!existsSync(keyFile)) {
  let sk;
  do sk = randomBytes(32); while (!secp256k1.utils.isValidSecretKey(sk));
  writeFileSync(keyFile, Buffer.from(sk).toString("hex") + "\n", { mode: 0o600 });
}
const skHex = readFileSync(keyFile, "utf8").trim();
const pubkey = Buffer.from(secp256k1.getPublicKey(Buffer.from(skHex, "hex"), true)).toString("hex");

// ---- output -------------------------------------------------------------------------------

const LEVELS = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };
const LEVEL_COLOR = { warn: 33, error: 31, fatal: 31 };
const SERVICE_WIDTH = 10;
const clock = (ms = Date.now()) => new Date(ms).toTimeString().slice(0, 8);

function emit(line) {
  process.stdout.write(`${line}\n`);
  sinceBanner++;
}

/** Per-service counters of the events folded into the summary instead of printed one by one. */
const tally = {
  worker: { accepted: 0, rejected: 0, failed: 0, spooled: 0, ops: 0 },
  aggregator: { accepted: 0, rejected: 0, audited: 0 },
};

/** Counts a frequent event; returns true when it was folded (not to be printed). */
function fold(service, entry) {
  if (service === "worker" && entry.event === "accepted" && entry.level < 40) {
    tally.worker.accepted++;
    tally.worker.ops += Number(entry.ops) || 0;
    return true;
  }
  if (service === "aggregator" && entry.event === "verify" && entry.level < 40) {
    if (entry.outcome === "accepted") tally.aggregator.accepted++;
    else tally.aggregator.rejected++;
    if (entry.audited) tally.aggregator.audited++;
    return true;
  }
  if (service === "worker" && entry.event === "spooled") tally.worker.spooled++;
  if (service === "worker" && (entry.event === "failed" || entry.event === "rejected")) tally.worker.failed++;
  return false;
}

/** `key=value` for the fields a reader wants after the message; nested objects and ids left out. */
function details(entry) {
  const skip = new Set(["level", "time", "service", "msg", "event", "pid", "hostname", "config", "pubkey", "publicKey", "selection", "adapter"]);
  return Object.entries(entry)
    .filter(([key, value]) => !skip.has(key) && value !== null && typeof value !== "object")
    .slice(0, 6)
    .map(([key, value]) => `${key}=${value}`)
    .join(" ");
}

function compact(service, time, level, message, extra = "") {
  const tag = level === "info" ? "" : ` ${paint(LEVEL_COLOR[level] ?? 2, level.toUpperCase())}`;
  return `${paint(2, clock(time))} ${paint(36, service.padEnd(SERVICE_WIDTH))}${tag} ${message}${extra ? `  ${paint(2, extra)}` : ""}`;
}

/** Prometheus' logfmt: `ts=... caller=... level=warn msg="..." key=value`. */
function parseLogfmt(line) {
  const fields = {};
  for (const m of line.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) fields[m[1]] = m[2].startsWith('"') ? m[2].slice(1, -1).replace(/\\"/g, '"') : m[2];
  return fields.level && fields.msg ? fields : null;
}

function prettyLine(service, line) {
  if (line.trim() === "") return;
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    entry = null;
  }
  if (entry && typeof entry === "object" && typeof entry.msg === "string") {
    if (fold(service, entry)) return;
    emit(compact(service, entry.time, LEVELS[entry.level] ?? "info", entry.msg, details(entry)));
    return;
  }
  const logfmt = parseLogfmt(line);
  if (logfmt) {
    const { ts, level, msg, ...rest } = logfmt;
    const extra = Object.entries(rest).filter(([k]) => k !== "caller").map(([k, v]) => `${k}=${v}`).join(" ");
    emit(compact(service, ts ? Date.parse(ts) : undefined, level, msg, extra));
    return;
  }
  emit(compact(service, undefined, "info", line.trimEnd()));
}

let lastSummary = "";
function printSummary() {
  const w = tally.worker;
  const a = tally.aggregator;
  const summary =
    `worker: ${w.accepted} accepted (${(w.ops / 1e9).toFixed(2)} G int8 ops), ${w.failed} failed, ${w.spooled} spooled` +
    ` | aggregator: ${a.accepted} accepted, ${a.rejected} rejected, ${a.audited} audited`;
  if (summary === lastSummary) return;
  lastSummary = summary;
  emit(compact("summary", undefined, "info", summary));
}

function rawLine(service, line) {
  emit(`[${service}] ${line}`);
}

const lineOut = pretty ? prettyLine : rawLine;

// ---- banner -------------------------------------------------------------------------------

let banner = [];
let sinceBanner = 0;
function printBanner() {
  if (banner.length === 0) return;
  process.stdout.write(`${banner.join("\n")}\n`);
  sinceBanner = 0;
}

// ---- children -----------------------------------------------------------------------------

// One Node process per service (`--import tsx` rather than the tsx wrapper), so signals reach it directly.
const runTs = (entry) => [process.execPath, "--import", "tsx", join(root, entry)];
const children = [];
let stopping = false;
let exitCode = 0;
/** The summary / banner interval (pretty output only). */
let timers;

function start(name, args, env) {
  const child = spawn(args[0], args.slice(1), { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.service = name;
  for (const stream of [child.stdout, child.stderr]) {
    let buf = "";
    stream.on("data", (d) => {
      buf += d;
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      for (const line of lines) lineOut(name, line);
    });
  }
  child.on("exit", (code, signal) => {
    const how = signal ?? code;
    if (pretty) emit(compact(name, undefined, code === 0 || (stopping && signal) ? "info" : "error", `exited (${how})`));
    else rawLine(name, `exited (${how})`);
    if (!stopping) {
      // Stopped cleanly on its own: most likely the terminal's SIGINT, which the others have
      // too (so no second signal). Crashed: stop the rest now and say so in the exit status.
      if (code === 0 || signal === "SIGINT") stop(0, null);
      else stop(1, "SIGTERM");
    } else if (code !== 0 && signal === null) {
      exitCode = exitCode || code;
    }
  });
  children.push(child);
  return child;
}

const running = () => children.filter((c) => c.exitCode === null && c.signalCode === null);

async function waitForHttp(url, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/**
 * Stops the stack. `forward`: the signal to send the services now (SIGTERM from a supervisor,
 * or a service that died); null when they got the terminal's SIGINT themselves, in which case
 * only the ones still running after the grace period get a SIGTERM.
 */
function stop(code, forward) {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  clearInterval(timers);
  if (pretty) printSummary();
  process.stdout.write("\nstopping…\n");
  const signalRunning = () => {
    for (const c of running()) c.kill("SIGTERM");
  };
  let grace;
  if (forward) signalRunning();
  else grace = setTimeout(signalRunning, STOP_GRACE_MS);
  const force = setTimeout(() => {
    for (const c of running()) c.kill("SIGKILL");
  }, FORCE_KILL_MS);
  Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once("exit", r))))).then(() => {
    clearTimeout(grace);
    clearTimeout(force);
    process.exit(exitCode);
  });
}
// A repeated SIGINT (pnpm passes the terminal's on, or Ctrl-C pressed twice) changes nothing:
// the services have it already and are stopping.
process.on("SIGINT", () => stop(0, null));
process.on("SIGTERM", () => stop(0, "SIGTERM"));

// ---- the stack ----------------------------------------------------------------------------

/** deploy/prometheus.yml for localhost: the compose host names become 127.0.0.1 ports. */
function devPrometheusConfig() {
  const config = YAML.parse(readFileSync(join(root, "deploy", "prometheus.yml"), "utf8"));
  const local = {
    worker: `127.0.0.1:${ports.metrics}`,
    aggregator: `127.0.0.1:${ports.aggregator}`,
    localhost: `127.0.0.1:${ports.prometheus}`,
  };
  for (const job of config.scrape_configs ?? []) {
    for (const sc of job.static_configs ?? []) {
      sc.targets = (sc.targets ?? []).map((t) => local[t.split(":")[0]] ?? t);
    }
    // Compose-only discovery (the gpu profile's worker through Docker's DNS) and its relabeling.
    delete job.dns_sd_configs;
    job.relabel_configs = (job.relabel_configs ?? []).filter((r) => !(r.source_labels ?? []).some((l) => l.startsWith("__meta_dns_")));
    if (job.relabel_configs.length === 0) delete job.relabel_configs;
  }
  config.rule_files = [join(root, "alerts", "*.rules.yml")];
  delete config.alerting;
  return config;
}

/** The alerts page of this Prometheus: `/alerts` with the React UI, `/classic/alerts` without (Debian's 2.42). */
async function alertsPage(base) {
  for (const path of ["/alerts", "/classic/alerts"]) {
    try {
      const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) return path;
    } catch {
      // try the next one
    }
  }
  return "/classic/alerts";
}

start("aggregator", runTs("packages/aggregator/src/cli.ts"), {
  AGGREGATOR_PORT: String(ports.aggregator),
  DATA_DIR: join(dev, "aggregator"),
  ALLOWED_KEYS: pubkey,
  AUDIT_RATE: process.env.AUDIT_RATE ?? "1",
  EPOCH_SECONDS: process.env.EPOCH_SECONDS ?? "60",
});
if (!(await waitForHttp(`http://127.0.0.1:${ports.aggregator}/healthz`, 30_000))) {
  process.stdout.write("aggregator did not come up within 30 s\n");
  stop(1, "SIGTERM");
} else if (!stopping) {
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
  let prometheusLine = "  prometheus   not found on PATH (bash scripts/setup.sh installs it)";
  if (hasPrometheus) {
    writeFileSync(join(dev, "prometheus.yml"), YAML.stringify(devPrometheusConfig()));
    start("prometheus", [
      "prometheus", `--config.file=${join(dev, "prometheus.yml")}`, `--storage.tsdb.path=${join(dev, "prometheus-data")}`,
      `--web.listen-address=127.0.0.1:${ports.prometheus}`, "--log.level=warn",
    ], {});
    const base = `http://localhost:${ports.prometheus}`;
    const ready = await waitForHttp(`http://127.0.0.1:${ports.prometheus}/-/ready`, 20_000);
    const alerts = ready ? await alertsPage(`http://127.0.0.1:${ports.prometheus}`) : "/classic/alerts";
    prometheusLine = `  prometheus   ${base}${alerts}   (targets: ${alerts.replace("alerts", "targets")}, graph: ${alerts.replace("alerts", "graph")})`;
  }

  banner = [
    "",
    paint(1, "tops-worker dev stack"),
    `  aggregator   http://localhost:${ports.aggregator}/challenge   (metrics: /metrics, health: /healthz)`,
    `  worker       http://localhost:${ports.metrics}/               (Prometheus: /prometheus, /health, /ready, /status)`,
    prometheusLine,
    `  dev key      ${keyFile} (public key ${pubkey})`,
    `  Ctrl-C stops everything.${pretty ? ` Logs: warnings at once, receipts summed every ${SUMMARY_SECONDS} s; DEV_LOG_FORMAT=json for raw lines.` : ""}`,
    "",
  ];
  if (!stopping) {
    printBanner();
    if (pretty) {
      let tick = 0;
      timers = setInterval(() => {
        tick++;
        printSummary();
        // Keep the URLs in reach once they have scrolled away.
        if (tick % BANNER_EVERY === 0 && sinceBanner > 0) printBanner();
      }, SUMMARY_SECONDS * 1000);
      timers.unref();
    }
  }
}
