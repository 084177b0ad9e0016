import { describe, expect, it } from "vitest";
import { ConfigError, envBool, envEnum, envInt, envNumber, envString, envUrl } from "../src/index";

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
});
