/**
 * METRICS_INCLUDE / METRICS_EXCLUDE: comma-separated globs over metric family names
 * (e.g. "tops_worker_*"). `*` matches any run of characters, `?` exactly one.
 */

/** Characters a glob may contain: the metric-name alphabet plus the two wildcards. */
const GLOB = /^[a-zA-Z0-9_:*?]+$/;

export type NameFilter = (metricName: string) => boolean;

/** Why `glob` is not a valid metric-name glob, or null when it is. */
export function globProblem(glob: string): string | null {
  return GLOB.test(glob) ? null : `glob "${glob}" may only contain letters, digits, "_", ":", "*" and "?"`;
}

/** Splits a comma-separated glob list, dropping empty entries. */
export function parseGlobList(text: string): string[] {
  return text.split(",").map((g) => g.trim()).filter((g) => g !== "");
}

function globToRegExp(glob: string): RegExp {
  // The alphabet has no regex metacharacters besides the wildcards, so no escaping is needed.
  return new RegExp(`^${glob.replaceAll("*", ".*").replaceAll("?", ".")}$`);
}

/**
 * A name passes when it matches some include glob (or there are none) and no exclude
 * glob: exclusion wins, so "include everything but X" needs only METRICS_EXCLUDE.
 */
export function createNameFilter(include: readonly string[], exclude: readonly string[]): NameFilter {
  for (const g of [...include, ...exclude]) {
    const problem = globProblem(g);
    if (problem) throw new Error(problem);
  }
  if (include.length === 0 && exclude.length === 0) return () => true;
  const inc = include.map(globToRegExp);
  const exc = exclude.map(globToRegExp);
  return (name) => (inc.length === 0 || inc.some((r) => r.test(name))) && !exc.some((r) => r.test(name));
}
