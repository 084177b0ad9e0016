#!/usr/bin/env node
// Example Alertmanager webhook receiver: prints each notification's alerts, one line each, so
// `docker compose logs alert-webhook` shows what would have paged. Replace it (or add
// slack_configs / pagerduty_configs next to it in deploy/alertmanager.yml) for real delivery.
// Plain Node, no dependencies. PORT (default 8080); POST /alerts with Alertmanager's webhook JSON
// (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).
import { createServer } from "node:http";

const port = Number(process.env.PORT ?? 8080);
const maxBody = 1 << 20;

/** One line per alert: status, severity, name, where, summary and runbook. */
export function formatNotification(body, route = "") {
  const alerts = Array.isArray(body?.alerts) ? body.alerts : [];
  return alerts.map((alert) => {
    const labels = alert?.labels ?? {};
    const annotations = alert?.annotations ?? {};
    const where = ["namespace", "job", "instance", "reason"].filter((k) => labels[k]).map((k) => `${k}=${labels[k]}`).join(" ");
    const parts = [
      String(alert?.status ?? body?.status ?? "unknown").toUpperCase(),
      labels.severity ?? "-",
      labels.alertname ?? "(no alertname)",
      where,
      annotations.summary ?? "",
      annotations.runbook_url ? `runbook: ${annotations.runbook_url}` : "",
      route ? `route: ${route}` : "",
    ];
    return parts.filter((p) => p !== "").join("  ");
  });
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://receiver.invalid");
  if (req.method === "GET" && url.pathname === "/healthz") return res.writeHead(200).end("ok\n");
  if (req.method !== "POST" || url.pathname !== "/alerts") return res.writeHead(404).end("POST /alerts\n");
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > maxBody) {
      res.writeHead(413).end("too large\n");
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    if (res.writableEnded) return;
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return res.writeHead(400).end("body is not JSON\n");
    }
    for (const line of formatNotification(body, url.searchParams.get("route") ?? "")) process.stdout.write(`${line}\n`);
    res.writeHead(200).end("ok\n");
  });
});

server.listen(port, () => process.stdout.write(`alert-webhook listening on :${server.address().port}\n`));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
