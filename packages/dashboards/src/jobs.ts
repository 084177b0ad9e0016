/**
 * Scrape job names. Prometheus attaches them as the `job` label, and rules that must notice
 * a *missing* target (WorkerDown's `absent(up{job=...})`) can only name the job. They must
 * match deploy/prometheus.yml; test/deploy.test.ts checks that they do.
 */
export const scrapeJobs = {
  worker: "tops-worker",
  aggregator: "tops-aggregator",
} as const;
