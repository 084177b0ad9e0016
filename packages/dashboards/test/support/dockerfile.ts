/**
 * A small Dockerfile reader for static checks (no Docker engine here): instructions with
 * continuation lines joined, comments dropped, grouped into build stages.
 */
export interface Instruction {
  readonly keyword: string;
  /** The arguments as written (continuations joined with a space). */
  readonly args: string;
}

export interface Stage {
  readonly from: string;
  readonly name?: string;
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  readonly args: readonly Instruction[];
  readonly stages: readonly Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const logical: string[] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    if (current === "" && /^\s*#/.test(line)) continue;
    if (line.endsWith("\\")) {
      current += `${line.slice(0, -1).trim()} `;
      continue;
    }
    current += line.trim();
    if (current.trim() !== "") logical.push(current.trim());
    current = "";
  }
  const args: Instruction[] = [];
  const stages: { from: string; name?: string; instructions: Instruction[] }[] = [];
  for (const line of logical) {
    const [keyword = "", ...rest] = line.split(/\s+/);
    const instruction = { keyword: keyword.toUpperCase(), args: rest.join(" ") };
    if (instruction.keyword === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      stages.push({ from: m?.[1] ?? instruction.args, ...(m?.[2] ? { name: m[2] } : {}), instructions: [] });
    } else if (stages.length === 0) {
      args.push(instruction);
    } else {
      stages[stages.length - 1]?.instructions.push(instruction);
    }
  }
  return { args, stages };
}

/** `CMD ["a", "b"]` / `HEALTHCHECK ... CMD ["a"]`: the exec-form array after the last CMD. */
export function execForm(args: string): string[] | undefined {
  const m = /(\[.*\])\s*$/.exec(args);
  if (!m?.[1]) return undefined;
  try {
    const parsed: unknown = JSON.parse(m[1]);
    return Array.isArray(parsed) && parsed.every((x) => typeof x === "string") ? parsed : undefined;
  } catch {
    return undefined;
  }
}
