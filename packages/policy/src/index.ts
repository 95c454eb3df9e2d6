export * from "./model.js";
export * from "./decision.js";
