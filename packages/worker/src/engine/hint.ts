/** Adapter strings as the receipt wants them: printable ASCII, bounded length. */
import os from "node:os";
import { MAX_STRING_LENGTH } from "@tops/protocol";

/** Printable ASCII only (0x20–0x7e), whitespace runs collapsed, trimmed, at most `max` chars. */
export function printableAscii(text: string, max = MAX_STRING_LENGTH): string {
  return text
    .replace(/[^\x20-\x7e]+/g, " ")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, max)
    .trim();
}

/** Joins the non-empty, de-duplicated parts with " / " into a driver_hint (≤ 256 chars). */
export function toDriverHint(parts: readonly string[]): string {
  const seen = new Set<string>();
  const kept: string[] = [];
  for (const p of parts.map((x) => printableAscii(x))) {
    if (p !== "" && !seen.has(p.toLowerCase())) {
      seen.add(p.toLowerCase());
      kept.push(p);
    }
  }
  return printableAscii(kept.join(" / "));
}

export function cpuDescription(): string {
  const cpus = os.cpus();
  return printableAscii(`${cpus[0]?.model ?? "unknown cpu"} x${cpus.length}`);
}
