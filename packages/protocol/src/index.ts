export * from "./bytes";
export * from "./constants";
export * from "./prng";
export * from "./seed";
export * from "./pipeline";
export * from "./errors";
export * from "./receipt";
