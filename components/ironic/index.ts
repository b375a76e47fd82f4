export * from "./sizing";
export * from "./render";
export * from "./ironicCluster";
