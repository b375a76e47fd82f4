export * from "./render";
export * from "./bmo";
