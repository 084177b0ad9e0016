import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const CHILD = fileURLToPath(new URL("./fixtures/store-child.ts", import.meta.url));

export interface Child {
  readonly proc: ChildProcess;
  /** Lines printed so far. */
  readonly lines: string[];
  /** Resolves when a printed line matches. */
  waitFor(test: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  readonly exited: Promise<number | null>;
  /** SIGKILL to the whole process group. */
  kill9(): void;
}

export function spawnChild(env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ["--import", "tsx", CHILD], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
    detached: true, // own process group, so kill9 reaches everything it started
  });
  const lines: string[] = [];
  const waiters: { test: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  let partial = "";
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  proc.stdout?.on("data", (d: Buffer) => {
    const parts = (partial + d.toString()).split("\n");
    partial = parts.pop() ?? "";
    for (const line of parts) {
      lines.push(line);
      for (const w of waiters.filter((x) => x.test(line))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return {
    proc,
    lines,
    exited,
    waitFor(test, timeoutMs = 60_000) {
      const found = lines.find(test);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child did not print the expected line in ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
        void exited.then((code) => reject(new Error(`child exited (${code}) before printing the expected line; stderr: ${stderr.slice(-2000)}`)));
        waiters.push({ test, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      });
    },
    kill9() {
      try {
        if (proc.pid) process.kill(-proc.pid, "SIGKILL");
      } catch {
        // already gone
      }
    },
  };
}
