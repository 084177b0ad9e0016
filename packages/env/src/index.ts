/**
 * Reading environment variables strictly, the same way in every service: unset or blank means
 * "use the default" (compose files write `FOO=${FOO:-}`); anything else must parse, or a
 * ConfigError names the variable in one line an operator can act on.
 */
import { mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";

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
  const match = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.exec(raw);
  if (!match || !Number.isFinite(v) || v < min || v > max) {
    throw new ConfigError(name, `must be a number in [${min}, ${max}], got "${raw}"`);
  }
  // "1e-400" is not zero, but parses to 0: refusing it beats silently switching a feature off.
  if (v === 0 && /[1-9]/.test(match[1]!)) throw new ConfigError(name, `"${raw}" is too small to represent (it would be read as 0); write 0 or a larger number`);
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

/**
 * A URL as it may be shown: user and password replaced by "***". For text that does not parse,
 * everything between "//" and "@" is masked, so a password never reaches a log or an error.
 */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.username === "" && url.password === "") return url.toString();
    url.username = "***";
    url.password = "";
    return url.toString();
  } catch {
    return raw.replace(/\/\/[^/?#]*@/, "//***@");
  }
}

export function envUrl(env: Env, name: string, fallback: string | undefined): string | undefined {
  const raw = envString(env, name) ?? fallback;
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be an absolute http(s) URL, got "${redactUrl(raw)}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ConfigError(name, `must be an http or https URL, got "${redactUrl(raw)}"`);
  return url.toString();
}

/**
 * Creates `dir` and its missing parents one level at a time (mode for the levels created), or
 * throws a ConfigError naming `variable`. Node's own recursive mkdir never returns on some
 * paths (under /proc it spins at 100 % CPU), so it is not used.
 */
export function ensureDirectory(dir: string, variable: string, mode = 0o700): void {
  const absolute = resolve(dir);
  const missing: string[] = [];
  for (let at = absolute; ; at = dirname(at)) {
    let stat;
    try {
      stat = statSync(at);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOTDIR") throw new ConfigError(variable, `cannot use ${absolute}: a part of it is not a directory`);
      if (code !== "ENOENT" || dirname(at) === at) throw new ConfigError(variable, `cannot use ${absolute}: ${code ?? String(e)} on ${at}`);
      missing.push(at);
      continue;
    }
    if (!stat.isDirectory()) throw new ConfigError(variable, `cannot use ${absolute}: ${at} is not a directory`);
    break;
  }
  for (const level of missing.reverse()) {
    try {
      mkdirSync(level, { mode });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EEXIST" && statSync(level).isDirectory()) continue;
      throw new ConfigError(variable, `cannot create ${absolute}: ${code ?? String(e)} on ${level}`);
    }
  }
}
