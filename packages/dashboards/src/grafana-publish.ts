/**
 * Publishing the generated dashboard to a running Grafana through its HTTP API
 * (POST /api/dashboards/db, https://grafana.com/docs/grafana/latest/developers/http_api/dashboard/).
 * The token is only ever put in the Authorization header: no message, log line or error
 * built here contains it, even when Grafana echoes it back.
 */

export interface PublishConfig {
  /** Base URL of Grafana, e.g. https://grafana.example.com or https://example.com/grafana. */
  readonly grafanaUrl: URL;
  /** Service account token (or API key) with permission to write dashboards in the folder. */
  readonly token: string;
  /** Folder to put the dashboard in; absent: Grafana's General folder. */
  readonly folderUid?: string;
}

export interface PublishResult {
  readonly uid: string;
  readonly url: string;
  readonly version: number;
}

export class PublishError extends Error {
  override readonly name = "PublishError";
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

/** Reads GRAFANA_URL, GRAFANA_TOKEN and GRAFANA_FOLDER_UID; throws PublishError naming what is missing or wrong. */
export function readPublishConfig(env: Readonly<Record<string, string | undefined>>): PublishConfig {
  const rawUrl = env.GRAFANA_URL?.trim();
  const token = env.GRAFANA_TOKEN?.trim();
  const missing = [!rawUrl && "GRAFANA_URL", !token && "GRAFANA_TOKEN"].filter((name): name is string => Boolean(name));
  if (missing.length > 0 || !rawUrl || !token) {
    throw new PublishError(`missing environment variable(s): ${missing.join(", ")}`);
  }
  let grafanaUrl: URL;
  try {
    grafanaUrl = new URL(rawUrl);
  } catch {
    throw new PublishError(`GRAFANA_URL is not a URL: ${rawUrl}`);
  }
  if (grafanaUrl.protocol !== "http:" && grafanaUrl.protocol !== "https:") {
    throw new PublishError(`GRAFANA_URL must be http(s), got ${grafanaUrl.protocol}`);
  }
  if (grafanaUrl.username || grafanaUrl.password) {
    // Credentials in the URL would end up in error messages; the token is the only credential.
    throw new PublishError("GRAFANA_URL must not contain credentials; put the token in GRAFANA_TOKEN");
  }
  const folderUid = env.GRAFANA_FOLDER_UID?.trim();
  return { grafanaUrl, token, ...(folderUid ? { folderUid } : {}) };
}

/** Resolves a Grafana path against the base URL, keeping a sub-path such as https://host/grafana/. */
function grafanaUrl(base: URL, path: string): URL {
  const root = new URL(base.href);
  if (!root.pathname.endsWith("/")) root.pathname += "/";
  return new URL(path.replace(/^\//, ""), root);
}

export function dashboardsApiUrl(base: URL): URL {
  return grafanaUrl(base, "api/dashboards/db");
}

function redact(text: string, secret: string): string {
  return secret ? text.split(secret).join("[redacted]") : text;
}

/** Grafana's error bodies are JSON `{ message, status? }`; fall back to the first 200 characters of text. */
function describeBody(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === "object") {
      const { message, status } = parsed as { message?: unknown; status?: unknown };
      const parts = [typeof message === "string" ? message : undefined, typeof status === "string" ? `(${status})` : undefined];
      const text = parts.filter(Boolean).join(" ");
      if (text) return text;
    }
  } catch {
    // not JSON: use the text itself
  }
  return body.trim().slice(0, 200) || "empty response";
}

function errorFor(status: number, body: string, config: PublishConfig): PublishError {
  const detail = describeBody(body);
  const folder = config.folderUid ? `folder ${config.folderUid}` : "the General folder";
  const messages: Record<number, string> = {
    401: `Grafana rejected the token (401 Unauthorized: ${detail}). Check that GRAFANA_TOKEN is a valid, unexpired service account token for ${config.grafanaUrl.origin}.`,
    403: `The token may not write dashboards in ${folder} (403 Forbidden: ${detail}). Give its service account the Editor role on that folder, or check GRAFANA_FOLDER_UID.`,
    404: `Grafana has no dashboard API at ${dashboardsApiUrl(config.grafanaUrl).href}, or ${folder} does not exist (404: ${detail}). Check GRAFANA_URL and GRAFANA_FOLDER_UID.`,
    412: `Grafana refused the dashboard (412 Precondition Failed: ${detail}). Another dashboard has the same title in that folder or the same uid elsewhere, or it is a plugin dashboard; rename or delete it.`,
  };
  return new PublishError(redact(messages[status] ?? `Grafana answered ${status} (${detail}).`, config.token), status);
}

export interface PublishOptions {
  /** Milliseconds before the request is abandoned. */
  readonly timeoutMs?: number;
  /** Recorded in the dashboard's version history, e.g. the commit it was built from. */
  readonly message?: string;
}

/** Creates or overwrites the dashboard (matched by uid) in Grafana. */
export async function publishDashboard(
  dashboardJson: Readonly<Record<string, unknown>>,
  config: PublishConfig,
  options: PublishOptions = {},
): Promise<PublishResult> {
  const body = {
    // id null: Grafana matches on uid, so the same file updates the same dashboard everywhere.
    dashboard: { ...dashboardJson, id: null },
    ...(config.folderUid ? { folderUid: config.folderUid } : {}),
    overwrite: true,
    message: options.message ?? "Published from packages/dashboards",
  };
  let response: Response;
  try {
    response = await fetch(dashboardsApiUrl(config.grafanaUrl), {
      method: "POST",
      headers: { authorization: `Bearer ${config.token}`, "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (error) {
    const reason = error instanceof Error ? `${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ""}` : String(error);
    throw new PublishError(redact(`could not reach Grafana at ${config.grafanaUrl.origin}: ${reason}`, config.token));
  }
  const text = await response.text();
  if (!response.ok) throw errorFor(response.status, text, config);
  try {
    const result = JSON.parse(text) as { uid?: unknown; url?: unknown; version?: unknown };
    if (typeof result.uid === "string" && typeof result.url === "string" && typeof result.version === "number") {
      // Grafana answers with a path relative to its root, e.g. /d/tops-worker/tops-worker.
      return { uid: result.uid, url: grafanaUrl(config.grafanaUrl, result.url).href, version: result.version };
    }
  } catch {
    // fall through
  }
  throw new PublishError(redact(`Grafana answered ${response.status} with an unexpected body: ${describeBody(text)}`, config.token), response.status);
}

export interface CliIo {
  readonly log: (line: string) => void;
  readonly error: (line: string) => void;
}

/** The publish CLI minus process handling: returns the exit code. */
export async function runPublish(
  env: Readonly<Record<string, string | undefined>>,
  readDashboard: () => Promise<string>,
  io: CliIo,
): Promise<number> {
  try {
    const config = readPublishConfig(env);
    const dashboardJson = JSON.parse(await readDashboard()) as Record<string, unknown>;
    const commit = env.GITHUB_SHA ? ` at ${env.GITHUB_SHA.slice(0, 12)}` : "";
    const result = await publishDashboard(dashboardJson, config, { message: `Published from packages/dashboards${commit}` });
    io.log(`published dashboard ${result.uid} version ${result.version}: ${result.url}`);
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // Belt and braces: whatever threw, the token never reaches the output.
    io.error(`publish failed: ${redact(message, env.GRAFANA_TOKEN?.trim() ?? "")}`);
    return 1;
  }
}
