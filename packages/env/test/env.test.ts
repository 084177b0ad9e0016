import { spawnSync } from "node:child_process";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConfigError, ensureDirectory, envBool, envEnum, envInt, envNumber, envString, envUrl, redactUrl } from "../src/index";

const fails = (fn: () => unknown, variable: string, message: RegExp) => {
  try {
    fn();
    expect.unreachable();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).variable).toBe(variable);
    expect((e as Error).message).toMatch(new RegExp(`^${variable}: `));
    expect((e as Error).message).toMatch(message);
  }
};

describe("env", () => {
  it("unset and blank mean the default", () => {
    expect(envString({ A: "  " }, "A")).toBeUndefined();
    expect(envInt({}, "A", 7, 0, 10)).toBe(7);
    expect(envInt({ A: "" }, "A", 7, 0, 10)).toBe(7);
    expect(envBool({}, "A", true)).toBe(true);
  });

  it("parses good values", () => {
    expect(envInt({ A: " 3 " }, "A", 0, 0, 10)).toBe(3);
    expect(envNumber({ A: "0.25" }, "A", 1, 0, 1)).toBe(0.25);
    expect(envNumber({ A: "1e3" }, "A", 1, 0, 1e4)).toBe(1000);
    expect(envBool({ A: "Yes" }, "A", false)).toBe(true);
    expect(envBool({ A: "off" }, "A", true)).toBe(false);
    expect(envEnum({ A: "GL" }, "A", ["gpu", "gl", "cpu"], "gpu")).toBe("gl");
    expect(envUrl({ A: "http://x:1/verify" }, "A", undefined)).toBe("http://x:1/verify");
  });

  it("refuses bad values with a line naming the variable", () => {
    fails(() => envInt({ N: "1.5" }, "N", 0, 0, 10), "N", /integer/);
    fails(() => envInt({ N: "11" }, "N", 0, 0, 10), "N", /\[0, 10\]/);
    fails(() => envInt({ N: "99999999999999999999" }, "N", 0, 0, Number.MAX_SAFE_INTEGER), "N", /integer/);
    fails(() => envNumber({ R: "fast" }, "R", 0, 0, 1), "R", /number/);
    fails(() => envNumber({ R: "Infinity" }, "R", 0, 0, 1e9), "R", /number/);
    fails(() => envNumber({ R: "2" }, "R", 0, 0, 1), "R", /\[0, 1\]/);
    fails(() => envBool({ B: "maybe" }, "B", false), "B", /1 or 0/);
    fails(() => envEnum({ E: "tpu" }, "E", ["gpu", "cpu"], "gpu"), "E", /one of gpu, cpu/);
    fails(() => envUrl({ U: "nope" }, "U", undefined), "U", /absolute/);
    fails(() => envUrl({ U: "ftp://x" }, "U", undefined), "U", /http/);
  });

  it("a nonzero number too small to represent is refused, not read as 0", () => {
    fails(() => envNumber({ R: "1e-400" }, "R", 1, 0, 1), "R", /too small/);
    expect(envNumber({ R: "0.0e-400" }, "R", 1, 0, 1)).toBe(0);
    expect(envNumber({ R: "1e-300" }, "R", 1, 0, 1)).toBe(1e-300);
  });

  it("never shows a password from a URL, in errors or redacted text", () => {
    for (const bad of ["ftp://admin:s3cret@x/verify", "http://admin:s3cret@ x/verify"]) {
      try {
        envUrl({ U: bad }, "U", undefined);
        expect.unreachable();
      } catch (e) {
        expect((e as Error).message).not.toContain("s3cret");
        expect((e as Error).message).toContain("***");
      }
    }
    expect(redactUrl("https://admin:s3cret@agg.example/verify")).toBe("https://***@agg.example/verify");
    expect(redactUrl("http://agg.example/verify")).toBe("http://agg.example/verify");
  });
});

describe("ensureDirectory", () => {
  it("creates missing levels with the mode, accepts an existing directory, refuses a file in the way", () => {
    const base = mkdtempSync(join(tmpdir(), "env-dir-"));
    ensureDirectory(join(base, "a", "b", "c"), "DATA_DIR");
    expect(statSync(join(base, "a", "b", "c")).mode & 0o777).toBe(0o700);
    ensureDirectory(join(base, "a", "b", "c"), "DATA_DIR");
    writeFileSync(join(base, "file"), "x");
    fails(() => ensureDirectory(join(base, "file", "sub"), "DATA_DIR"), "DATA_DIR", /not a directory/);
  });

  // Node's recursive mkdir spins forever there, so the check runs in a child process with a deadline.
  it("answers at once, with one line, for a path that cannot be created (/proc/self/nodir)", () => {
    const entry = fileURLToPath(new URL("../src/index.ts", import.meta.url));
    const script = `import { ensureDirectory } from ${JSON.stringify(entry)}; try { ensureDirectory("/proc/self/nodir", "DATA_DIR"); console.log("created"); } catch (e) { console.log(e.message); }`;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { timeout: 10_000, encoding: "utf8" });
    expect(child.signal).toBeNull();
    expect(child.stdout.trim()).toMatch(/^DATA_DIR: cannot create \/proc\/self\/nodir: ENOENT/);
  });
});
