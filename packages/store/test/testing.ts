/** What other packages' tests and benchmarks use: a throwaway PostgreSQL cluster, and bulk fills. */
export * from "./pg-cluster";
export { fillReceipts, fillKey, fillSig, FILL_KEYS, FILL_T0 } from "./fill";
