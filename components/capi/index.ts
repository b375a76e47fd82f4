export * from "./render";
export * from "./clusterApi";
export * from "./fakeApiServer";
export * from "./clusterSide";
