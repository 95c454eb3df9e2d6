/**
 * What the decision core is told about each inbound protocol's request. The pure mapping lives in
 * `@tollgate/providers` (`inbound-shape.ts`) so the control plane's `simulate` query parses a body
 * exactly as the routes and the Simulator here do; this module re-exports it for the data plane.
 */
export {
  SIMULATED_PATHS,
  isParseFailure,
  isSimulatedPath,
  parseInboundRequest,
  shapeChatRequest,
  shapeEmbeddingsRequest,
  type InboundParse,
  type SimulatedPath,
} from "@tollgate/providers";
