export * from "./gen/tollgate/v1/policy_pb.js";
export * from "./grpc-bridge.js";
export * from "./clients.js";
export * from "./codecs.js";
export * from "./message-encoder.js";
export * from "./usage-text.js";
export * from "./channel-tls.js";
