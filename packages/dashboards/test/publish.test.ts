/** Publishing to Grafana, against a local node:http server standing in for Grafana's API. */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PublishError, publishDashboard, readPublishConfig, renderDashboardJson, runPublish } from "../src";

const token = "glsa_test-token-0123456789";

interface Received {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  readonly body: unknown;
}

let server: Server;
let baseUrl: string;
let received: Received[] = [];
/** What the fake Grafana answers next. */
let reply: { status: number; body: string } = { status: 200, body: "" };

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

beforeAll(async () => {
  server = createServer((request, response) => {
    void readBody(request).then((text) => {
      received.push({
        method: request.method,
        url: request.url,
        authorization: request.headers.authorization,
        contentType: request.headers["content-type"],
        body: text ? (JSON.parse(text) as unknown) : undefined,
      });
      response.writeHead(reply.status, { "content-type": "application/json" }).end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  received = [];
  reply = { status: 200, body: JSON.stringify({ id: 7, uid: "tops-worker", url: "/d/tops-worker/tops-worker", status: "success", version: 3, slug: "tops-worker" }) };
});

const dashboardJson = JSON.parse(renderDashboardJson()) as Record<string, unknown>;
const config = (extra: Record<string, string> = {}) => readPublishConfig({ GRAFANA_URL: baseUrl, GRAFANA_TOKEN: token, ...extra });

describe("publishDashboard", () => {
  it("POSTs the dashboard to /api/dashboards/db with the bearer token, folder and overwrite", async () => {
    const result = await publishDashboard(dashboardJson, config({ GRAFANA_FOLDER_UID: "ops" }), { message: "ci" });
    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request).toMatchObject({ method: "POST", url: "/api/dashboards/db", authorization: `Bearer ${token}`, contentType: "application/json" });
    expect(request?.body).toEqual({ dashboard: { ...dashboardJson, id: null }, folderUid: "ops", overwrite: true, message: "ci" });
    expect(result).toEqual({ uid: "tops-worker", version: 3, url: `${baseUrl}/d/tops-worker/tops-worker` });
  });

  it("omits folderUid without GRAFANA_FOLDER_UID and keeps a Grafana sub-path", async () => {
    const result = await publishDashboard(dashboardJson, readPublishConfig({ GRAFANA_URL: `${baseUrl}/grafana`, GRAFANA_TOKEN: token }));
    expect(received[0]?.url).toBe("/grafana/api/dashboards/db");
    expect(received[0]?.body).not.toHaveProperty("folderUid");
    expect(result.url).toBe(`${baseUrl}/grafana/d/tops-worker/tops-worker`);
  });

  it.each([
    [401, { message: "Invalid API key" }, /rejected the token.*401.*Invalid API key.*GRAFANA_TOKEN/],
    [403, { message: "Access denied to save dashboard" }, /may not write dashboards in folder ops.*403.*Editor/],
    [412, { message: "A dashboard with the same name in the folder already exists", status: "name-exists" }, /412 Precondition Failed.*name-exists/],
    [500, { message: "database is locked" }, /answered 500.*database is locked/],
  ] as const)("explains a %i answer", async (status, body, explanation) => {
    reply = { status, body: JSON.stringify(body) };
    const error = await publishDashboard(dashboardJson, config({ GRAFANA_FOLDER_UID: "ops" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PublishError);
    expect((error as PublishError).status).toBe(status);
    expect((error as PublishError).message).toMatch(explanation);
  });

  it("never puts the token in an error, even when Grafana echoes it", async () => {
    reply = { status: 401, body: JSON.stringify({ message: `token ${token} is revoked` }) };
    const error = (await publishDashboard(dashboardJson, config()).catch((e: unknown) => e)) as Error;
    expect(error.message).not.toContain(token);
    expect(error.message).toContain("[redacted]");
  });

  it("reports an unreachable Grafana without the token", async () => {
    const closed = readPublishConfig({ GRAFANA_URL: "http://127.0.0.1:1", GRAFANA_TOKEN: token });
    const error = (await publishDashboard(dashboardJson, closed).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/could not reach Grafana at http:\/\/127.0.0.1:1/);
    expect(error.message).not.toContain(token);
  });
});

describe("readPublishConfig", () => {
  it("names the missing variables", () => {
    expect(() => readPublishConfig({})).toThrow("missing environment variable(s): GRAFANA_URL, GRAFANA_TOKEN");
    expect(() => readPublishConfig({ GRAFANA_URL: baseUrl })).toThrow("GRAFANA_TOKEN");
  });

  it("rejects non-http URLs and URLs with credentials", () => {
    expect(() => readPublishConfig({ GRAFANA_URL: "ftp://grafana", GRAFANA_TOKEN: token })).toThrow("http(s)");
    expect(() => readPublishConfig({ GRAFANA_URL: "not a url", GRAFANA_TOKEN: token })).toThrow("not a URL");
    expect(() => readPublishConfig({ GRAFANA_URL: "https://admin:pw@grafana", GRAFANA_TOKEN: token })).toThrow("credentials");
  });
});

describe("publish CLI", () => {
  const captured = () => {
    const lines: string[] = [];
    return { lines, io: { log: (line: string) => lines.push(line), error: (line: string) => lines.push(line) } };
  };

  it("publishes the committed dashboard and prints where it went, not the token", async () => {
    const { lines, io } = captured();
    const code = await runPublish({ GRAFANA_URL: baseUrl, GRAFANA_TOKEN: token, GITHUB_SHA: "0123456789abcdef" }, async () => renderDashboardJson(), io);
    expect(code).toBe(0);
    expect(lines.join("\n")).toContain(`published dashboard tops-worker version 3: ${baseUrl}/d/tops-worker/tops-worker`);
    expect(lines.join("\n")).not.toContain(token);
    expect(received[0]?.body).toMatchObject({ message: "Published from packages/dashboards at 0123456789ab" });
  });

  it("exits 1 with the reason on failure, without the token", async () => {
    reply = { status: 403, body: JSON.stringify({ message: `forbidden for ${token}` }) };
    const { lines, io } = captured();
    const code = await runPublish({ GRAFANA_URL: baseUrl, GRAFANA_TOKEN: token }, async () => renderDashboardJson(), io);
    expect(code).toBe(1);
    expect(lines.join("\n")).toMatch(/^publish failed: .*403/);
    expect(lines.join("\n")).not.toContain(token);
  });

  it("exits 1 when configuration is missing, before any request", async () => {
    const { lines, io } = captured();
    expect(await runPublish({}, async () => renderDashboardJson(), io)).toBe(1);
    expect(lines).toEqual(["publish failed: missing environment variable(s): GRAFANA_URL, GRAFANA_TOKEN"]);
    expect(received).toEqual([]);
  });
});
