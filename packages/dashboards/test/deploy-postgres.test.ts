/**
 * The aggregator on PostgreSQL in the deployment files, read statically (no Docker engine, no
 * cluster): compose runs a `postgres` service with a health check that the aggregator waits
 * for and names in its DATABASE_URL; the Kubernetes manifests run a PostgreSQL StatefulSet
 * behind a Service, the aggregators read the password from its Secret, and nothing runs :latest.
 */
import { execFile, execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse, parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../src";

const run = promisify(execFile);

// ---------------------------------------------------------------- compose

interface ComposeService {
  readonly image?: string;
  readonly environment?: Readonly<Record<string, string>>;
  readonly volumes?: readonly string[];
  readonly ports?: readonly string[];
  readonly healthcheck?: { readonly test?: readonly string[] | string; readonly interval?: string };
  readonly depends_on?: Readonly<Record<string, { readonly condition: string }>> | readonly string[];
}
interface Compose {
  readonly services: Readonly<Record<string, ComposeService>>;
  readonly volumes?: Readonly<Record<string, unknown>>;
}
const compose = parse(await readFile(join(repoRoot, "deploy/compose.yaml"), "utf8"), { merge: true }) as Compose;

/** `${NAME:-default}` → default, `${NAME}` → "", as compose interpolates with NAME unset. */
const interpolateDefaults = (value: string): string => value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::?-([^}]*))?\}/g, (_all, _name: string, fallback?: string) => fallback ?? "");
/** The variables a compose value reads. */
const variablesOf = (value: string): string[] => [...value.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1] ?? "");

describe("deploy/compose.yaml: the aggregator on PostgreSQL", () => {
  const postgres = compose.services.postgres;
  const aggregator = compose.services.aggregator;
  const postgresEnv = postgres?.environment ?? {};

  it("runs a postgres service from the official image, pinned to a release", () => {
    expect(postgres?.image).toMatch(/^postgres:\d+\.\d+(-[a-z0-9]+)?$/);
  });

  it("keeps the database on a named volume at the image's data directory", () => {
    const [volume, path] = (postgres?.volumes ?? []).map((v) => v.split(":")).find(([, target]) => target === "/var/lib/postgresql/data") ?? [];
    expect(path).toBe("/var/lib/postgresql/data");
    expect(Object.keys(compose.volumes ?? {})).toContain(volume);
  });

  it("reads the password from POSTGRES_PASSWORD, with a development default", () => {
    const password = postgresEnv.POSTGRES_PASSWORD ?? "";
    expect(variablesOf(password)).toEqual(["POSTGRES_PASSWORD"]);
    expect(interpolateDefaults(password)).not.toBe("");
  });

  it("checks its health with pg_isready for the aggregator's user and database", () => {
    const test = postgres?.healthcheck?.test;
    expect(Array.isArray(test)).toBe(true);
    const argv = (test ?? []) as readonly string[];
    expect(argv.slice(0, 2)).toEqual(["CMD", "pg_isready"]);
    expect(argv.join(" ")).toContain(`-U ${postgresEnv.POSTGRES_USER}`);
    expect(argv.join(" ")).toContain(`-d ${postgresEnv.POSTGRES_DB}`);
    expect(postgres?.healthcheck?.interval).toMatch(/^\d+s$/);
  });

  it("gives the aggregator a DATABASE_URL naming the postgres service, its user, database and password variable", () => {
    const raw = aggregator?.environment?.DATABASE_URL ?? "";
    const url = new URL(interpolateDefaults(raw));
    expect(url.protocol).toBe("postgres:");
    expect(compose.services[url.hostname], `no service named ${url.hostname}`).toBeDefined();
    expect(url.hostname).toBe("postgres");
    expect(url.port === "" ? "5432" : url.port).toBe("5432");
    expect(url.username).toBe(postgresEnv.POSTGRES_USER);
    expect(url.pathname).toBe(`/${postgresEnv.POSTGRES_DB}`);
    // The same variable (and default) as the server's password: they cannot drift apart.
    expect(variablesOf(raw)).toEqual(variablesOf(postgresEnv.POSTGRES_PASSWORD ?? ""));
    expect(decodeURIComponent(url.password)).toBe(interpolateDefaults(postgresEnv.POSTGRES_PASSWORD ?? ""));
  });

  it("starts the aggregator once PostgreSQL is healthy", () => {
    expect(aggregator?.depends_on).toMatchObject({ postgres: { condition: "service_healthy" } });
  });

  it("does not publish the database on the host", () => {
    expect(postgres?.ports ?? []).toEqual([]);
  });
});

// ---------------------------------------------------------------- Kubernetes

interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly secretKeyRef?: { readonly name: string; readonly key: string } };
}
interface Probe { readonly exec?: { readonly command: readonly string[] }; readonly httpGet?: { readonly path: string } }
interface Container {
  readonly name: string;
  readonly image: string;
  readonly env?: readonly EnvVar[];
  readonly ports?: readonly { readonly name?: string; readonly containerPort: number }[];
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly volumeMounts?: readonly { readonly name: string; readonly mountPath: string }[];
}
interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly stringData?: Record<string, string>;
  readonly data?: Record<string, string>;
  readonly spec?: {
    readonly replicas?: number;
    readonly serviceName?: string;
    readonly clusterIP?: string;
    readonly selector?: Record<string, unknown>;
    readonly ports?: readonly { readonly port: number; readonly targetPort?: string | number }[];
    readonly volumeClaimTemplates?: readonly { readonly metadata: { readonly name: string } }[];
    readonly template?: {
      readonly metadata: { readonly labels: Record<string, string> };
      readonly spec: { readonly containers: readonly Container[]; readonly initContainers?: readonly Container[]; readonly volumes?: readonly { readonly name: string; readonly emptyDir?: unknown; readonly persistentVolumeClaim?: unknown }[] };
    };
  };
}

const k8sDir = join(repoRoot, "deploy/k8s");
const kustomization = parse(await readFile(join(k8sDir, "kustomization.yaml"), "utf8")) as { resources: string[] };
const fileObjects: K8sObject[] = [];
for (const file of kustomization.resources) {
  for (const doc of parseAllDocuments(await readFile(join(k8sDir, file), "utf8"))) {
    expect(doc.errors, file).toEqual([]);
    fileObjects.push(doc.toJS() as K8sObject);
  }
}

const kubectl = (() => {
  try {
    return execFileSync("sh", ["-c", "command -v kubectl"], { encoding: "utf8" }).trim();
  } catch {
    return "";
  }
})();

/** Checks on the objects, run both on the files as written and on kustomize's rendering. */
function checkDatabaseObjects(objects: readonly K8sObject[]): void {
  const find = (kind: string, name: string): K8sObject | undefined => objects.find((o) => o.kind === kind && o.metadata.name === name);
  const aggregator = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "tops-aggregator");
  const database = objects.find((o) => o.kind === "StatefulSet" && o.spec?.template?.spec.containers.some((c) => c.image.startsWith("postgres:")));
  expect(aggregator, "the aggregator Deployment").toBeDefined();
  expect(database, "a PostgreSQL StatefulSet").toBeDefined();
  const postgres = database?.spec?.template?.spec.containers.find((c) => c.image.startsWith("postgres:"));
  const podLabels = database?.spec?.template?.metadata.labels ?? {};

  // The Service the StatefulSet is governed by selects its pods.
  const service = find("Service", database?.spec?.serviceName ?? "");
  expect(service, `Service ${database?.spec?.serviceName}`).toBeDefined();
  expect(service?.metadata.namespace).toBe(database?.metadata.namespace);
  expect(Object.entries(service?.spec?.selector ?? {}).every(([k, v]) => podLabels[k] === v)).toBe(true);
  expect(service?.spec?.ports?.map((p) => p.port)).toContain(5432);

  // Storage from a claim template, mounted where the image keeps its data.
  const claims = database?.spec?.volumeClaimTemplates?.map((t) => t.metadata.name) ?? [];
  expect(claims.length).toBe(1);
  expect(postgres?.volumeMounts).toContainEqual(expect.objectContaining({ name: claims[0], mountPath: "/var/lib/postgresql/data" }));

  // Probes ask pg_isready.
  for (const probe of [postgres?.readinessProbe, postgres?.livenessProbe]) expect(probe?.exec?.command[0]).toBe("pg_isready");

  // The server's password and the aggregator's come from the same Secret key.
  const serverPassword = postgres?.env?.find((e) => e.name === "POSTGRES_PASSWORD")?.valueFrom?.secretKeyRef;
  expect(serverPassword).toBeDefined();
  const secret = find("Secret", serverPassword?.name ?? "");
  expect(secret, `Secret ${serverPassword?.name}`).toBeDefined();
  expect(Object.keys({ ...secret?.stringData, ...secret?.data })).toContain(serverPassword?.key);

  const env = aggregator?.spec?.template?.spec.containers[0]?.env ?? [];
  const databaseUrl = env.find((e) => e.name === "DATABASE_URL");
  expect(databaseUrl?.value, "DATABASE_URL").toBeDefined();
  const references = [...(databaseUrl?.value ?? "").matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1]);
  expect(references.length).toBe(1);
  const passwordVar = env.find((e) => e.name === references[0]);
  expect(passwordVar?.valueFrom?.secretKeyRef).toEqual(serverPassword);
  // Kubernetes expands $(VAR) only from variables defined before it.
  expect(env.indexOf(passwordVar ?? env[0] as EnvVar)).toBeLessThan(env.indexOf(databaseUrl as EnvVar));
  const url = new URL((databaseUrl?.value ?? "").replace(/\$\([^)]*\)/, "password"));
  expect(url.protocol).toBe("postgres:");
  expect(url.password).toBe("password");
  const host = url.hostname.split(".");
  expect(host[0]).toBe(service?.metadata.name);
  if (host.length > 1) expect(host[1]).toBe(service?.metadata.namespace);
  expect(url.username).toBe(postgres?.env?.find((e) => e.name === "POSTGRES_USER")?.value);
  expect(url.pathname).toBe(`/${postgres?.env?.find((e) => e.name === "POSTGRES_DB")?.value}`);
  // No password written into the manifest of the aggregator.
  for (const value of Object.values({ ...secret?.stringData })) expect(JSON.stringify(aggregator)).not.toContain(value);

  // Several replicas share the database: no single-writer volume left on the aggregator.
  expect(aggregator?.spec?.replicas).toBeGreaterThanOrEqual(2);
  expect(aggregator?.spec?.volumeClaimTemplates).toBeUndefined();
  const volumes = aggregator?.spec?.template?.spec.volumes ?? [];
  expect(volumes.filter((v) => v.persistentVolumeClaim !== undefined)).toEqual([]);
  const dataDir = env.find((e) => e.name === "DATA_DIR")?.value;
  const dataMount = aggregator?.spec?.template?.spec.containers[0]?.volumeMounts?.find((m) => m.mountPath === dataDir);
  expect(volumes.find((v) => v.name === dataMount?.name)?.emptyDir).toBeDefined();

  // Every image names a release, init containers' too.
  for (const o of objects) {
    for (const c of [...(o.spec?.template?.spec.containers ?? []), ...(o.spec?.template?.spec.initContainers ?? [])]) {
      expect(c.image, `${o.metadata.name}/${c.name}`).toMatch(/:[^/:]+$/);
      expect(c.image, `${o.metadata.name}/${c.name}`).not.toMatch(/:latest$/);
    }
  }
  expect(postgres?.image).toMatch(/^postgres:\d+\.\d+(-[a-z0-9]+)?$/);
}

describe("deploy/k8s: the aggregators on a PostgreSQL StatefulSet", () => {
  it("as written: StatefulSet, Service, Secret, DATABASE_URL from the Secret, pinned images, replicas", () => {
    checkDatabaseObjects(fileObjects);
  });

  it.skipIf(!kubectl)(`as kustomize renders it (kubectl kustomize deploy/k8s)${kubectl ? "" : " (SKIPPED: kubectl not installed)"}`, async () => {
    const { stdout } = await run(kubectl, ["kustomize", k8sDir], { maxBuffer: 16 * 1024 * 1024 });
    const rendered = parseAllDocuments(stdout).map((d) => d.toJS() as K8sObject);
    expect(rendered.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(fileObjects.map((o) => `${o.kind}/${o.metadata.name}`).sort());
    checkDatabaseObjects(rendered);
  });
});
