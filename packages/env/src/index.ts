/**
 * Reading environment variables strictly, the same way in every service: unset or blank means
 * "use the default" (compose files write `FOO=${FOO:-}`); anything else must parse, or a
 * ConfigError names the variable in one line an operator can act on.
 */
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
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `must be an integer in [${min}, ${max}], got "${raw}"`);
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new ConfigError(name, `must be an integer in [${min}, ${max}], got "${raw}"`);
  return v;
}

export function envNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = envString(env, name);
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(raw) || !Number.isFinite(v) || v < min || v > max) {
    throw new ConfigError(name, `must be a number in [${min}, ${max}], got "${raw}"`);
  }
  return v;
}

const TRUE = ["1", "true", "yes", "on"];
const FALSE = ["0", "false", "no", "off"];

export function envBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = envString(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (TRUE.includes(raw)) return true;
  if (FALSE.includes(raw)) return false;
  throw new ConfigError(name, `must be 1 or 0 (true/false, yes/no, on/off), got "${raw}"`);
}

/** One of `allowed`, compared case-insensitively. */
export function envEnum<const T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = envString(env, name);
  if (raw === undefined) return fallback;
  const found = allowed.find((a) => a === raw.toLowerCase());
  if (found === undefined) throw new ConfigError(name, `must be one of ${allowed.join(", ")}, got "${raw}"`);
  return found;
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
