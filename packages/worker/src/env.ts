/** Reading environment variables strictly: a bad value is an error naming the variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** The value, or undefined when unset or blank. */
export function envString(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === "" ? undefined : v;
}

export function envInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = envString(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${raw}`);
  return v;
}

export function envNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = envString(env, name);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!/^[0-9.eE+-]+$/.test(raw) || !Number.isFinite(v) || v < min || v > max) {
    throw new ConfigError(name, `must be a number between ${min} and ${max}, got "${raw}"`);
  }
  return v;
}

export function envEnum<const T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = envString(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${allowed.join(", ")}, got "${raw}"`);
  return raw as T;
}

export function envUrl(env: Env, name: string, fallback: string | undefined): string | undefined {
  const raw = envString(env, name) ?? fallback;
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be an absolute http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError(name, `must be an http or https URL, got "${raw}"`);
  return url.toString();
}
