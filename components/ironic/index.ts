export * from "./sizing";
export * from "./render";
export * from "./ironicCluster";
export * from "./apiProxy";
export * from "./ironicApiProxy";
