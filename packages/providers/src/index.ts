/** @tollgate/providers: pure protocol adapters (request/response transforms, streams, usage, errors). */
export { countTokens, isTokenizerLoaded, warmTokenizer } from "./token-count.js";
export { createSseSplitter, parseSseEvent, type SseEvent, type SseSplitter } from "./sse.js";
export { MIN_FRAGMENT_LENGTH, MIN_SECRET_LENGTH, REDACTED, createCredentialScrubber, type CredentialScrubber } from "./credential-scrubber.js";
export {
  IMAGE_PART_TOKENS,
  MESSAGE_OVERHEAD_TOKENS,
  REQUEST_OVERHEAD_TOKENS,
  TOOLS_OVERHEAD_TOKENS,
  isParseError,
  outputLimitFieldOf,
  parseOpenAIChatRequest,
  type ChatMessage,
  type MaxTokensField,
  type ParseError,
  type ParsedChatRequest,
} from "./openai/chat-request.js";
export { countInboundPromptTokens, countNeutralPromptTokens, countOpenAIChatPromptTokens } from "./prompt-count.js";
export { classifyOpenAIPart, estimateInputTokensUpperBound, scanOpenAIChatInput } from "./openai/chat-input-bound.js";
export {
  estimateEmbeddingInputUpperBound,
  parseOpenAIEmbeddingsRequest,
  type EmbeddingInputItem,
  type ParsedEmbeddingsRequest,
} from "./openai/embeddings-request.js";
export {
  buildOpenAIUpstreamChatBody,
  buildOpenAIUpstreamEmbeddingsBody,
  openAIAuthHeaders,
  openAIChatUrl,
  openAIEmbeddingsUrl,
  openAIModelsUrl,
  type UpstreamChatBodyOptions,
} from "./openai/upstream-request.js";
export {
  extractOpenAICompletionText,
  extractOpenAIUsage,
  requestsOpenAIAudio,
  type ProviderUsage,
} from "./openai/usage.js";
export { createOpenAIStreamTap, type OpenAIStreamTap, type OpenAIStreamTapOptions } from "./openai/stream-tap.js";
export {
  extractOpenAIErrorMessage,
  mapUpstreamStatus,
  openAIErrorBody,
  openAIErrorTypeFor,
  type MappedUpstreamError,
  type OpenAIErrorBody,
  type OpenAIErrorType,
} from "./openai/errors.js";
export {
  CHAT_PROTOCOLS,
  assertNever,
  joinText,
  parseDataUrl,
  parseJsonObject,
  type ChatImageSource,
  type ChatMessage as NeutralChatMessage,
  type ChatPart,
  type ChatProtocol,
  type ChatRequest,
  type ChatResponse,
  type ChatStreamEvent,
  type ChatStreamParser,
  type ChatStreamRenderer,
  type ChatTool,
  type ChatToolCall,
  type ChatToolChoice,
  type RenderContext,
  type StopReason,
} from "./chat-model.js";
export {
  INPUT_BOUND_PROFILES,
  boundJsonText,
  attachmentsOf,
  boundJsonValue,
  estimateChatInputTokensUpperBound,
  neutralAttachmentsOf,
  newPartScan,
  type InputBoundProfile,
  type InputScan,
  type PartClass,
  type PartClassifier,
  type PartScan,
} from "./input-bound.js";
export { neutralToOpenAIRequest, openAIRequestToNeutral, type OpenAIRenderOptions } from "./openai/chat-neutral.js";
export {
  createOpenAIStreamParser,
  createOpenAIStreamRenderer,
  neutralToOpenAIResponse,
  openAIFinishToNeutral,
  openAIResponseToNeutral,
  renderOpenAIUsage,
} from "./openai/chat-response-neutral.js";
export {
  ANTHROPIC_BUILTIN_TOOL_TOKENS,
  classifyAnthropicBlock,
  estimateAnthropicInputTokensUpperBound,
  parseAnthropicCountTokensRequest,
  scanAnthropicInput,
  parseAnthropicMessagesRequest,
  type ParsedAnthropicCountTokensRequest,
  type ParsedAnthropicRequest,
} from "./anthropic/messages-request.js";
export { anthropicRequestToNeutral, neutralToAnthropicRequest, type AnthropicRenderOptions } from "./anthropic/messages-neutral.js";
export {
  anthropicResponseToNeutral,
  anthropicStopToNeutral,
  extractAnthropicCompletionText,
  extractAnthropicUsage,
  neutralStopToAnthropic,
  neutralToAnthropicResponse,
  readAnthropicUsage,
  renderAnthropicUsage,
} from "./anthropic/messages-response.js";
export { createAnthropicStreamParser, createAnthropicStreamRenderer, readSseJson } from "./anthropic/messages-stream.js";
export {
  ANTHROPIC_VERSION,
  anthropicAuthHeaders,
  anthropicCountTokensUrl,
  anthropicMessagesUrl,
  buildAnthropicUpstreamBody,
  type AnthropicUpstreamBodyOptions,
} from "./anthropic/upstream-request.js";
export {
  anthropicErrorBody,
  anthropicErrorFor,
  extractAnthropicErrorMessage,
  type AnthropicErrorBody,
  type AnthropicErrorMapping,
  type AnthropicErrorType,
} from "./anthropic/errors.js";
export {
  estimateGoogleEmbedInputUpperBound,
  classifyGooglePart,
  estimateGoogleInputTokensUpperBound,
  scanGoogleInput,
  parseGoogleBatchEmbedRequest,
  parseGoogleCountTokensRequest,
  parseGoogleEmbedRequest,
  parseGoogleGenerateRequest,
  pickField,
  type ParsedGoogleEmbedRequest,
  type ParsedGoogleRequest,
} from "./google/generate-request.js";
export { googleRequestToNeutral, neutralToGoogleRequest, normaliseSchemaTypes } from "./google/generate-neutral.js";
export { buildGoogleBatchEmbedBodyFromOpenAI, encodeEmbeddingBase64, googleEmbeddingsToOpenAI, type OpenAIEmbeddingsRender } from "./google/embeddings-openai.js";
export {
  extractGoogleCompletionText,
  extractGoogleUsage,
  googleFinishToNeutral,
  googleResponseToNeutral,
  neutralStopToGoogle,
  neutralToGoogleResponse,
  readGoogleUsage,
  renderGoogleUsage,
} from "./google/generate-response.js";
export { createGoogleStreamParser, createGoogleStreamRenderer } from "./google/generate-stream.js";
export {
  buildGoogleUpstreamBody,
  googleAuthHeaders,
  googleCountTokensUrl,
  googleBatchEmbedUrl,
  googleEmbedUrl,
  googleGenerateUrl,
} from "./google/upstream-request.js";
export {
  extractGoogleErrorMessage,
  googleErrorBody,
  googleErrorFor,
  type GoogleErrorBody,
  type GoogleErrorMapping,
  type GoogleErrorStatus,
} from "./google/errors.js";
export {
  chatErrorBody,
  chatErrorStatus,
  createChatStreamParser,
  createChatStreamRenderer,
  extractChatCompletionText,
  extractChatUsage,
  inboundToNeutral,
  scanInboundChatInput,
  parseChatResponse,
  parseInboundChatRequest,
  renderChatResponse,
  renderNeutralRequest,
  type InboundChatRequest,
  type InboundRequestContext,
  type NeutralRequestRenderOptions,
} from "./protocol.js";
export { parseResponsesRequest, responsesRequestToNeutral, type ParsedResponsesRequest } from "./openai/responses-request.js";
export {
  createResponsesStreamRenderer,
  neutralToResponsesResponse,
  renderResponsesUsage,
  responsesErrorEvent,
  type ResponsesRenderContext,
} from "./openai/responses-response.js";
export {
  createStreamTranslator,
  translateStreamWith,
  translateRequest,
  translateResponse,
  type StreamTranslator,
  type StreamTranslatorOptions,
  type TranslateRequestOptions,
  type TranslatedRequest,
} from "./translate.js";
export {
  SIMULATED_PATHS,
  embeddingsPromptText,
  isParseFailure,
  isSimulatedPath,
  neutralPromptText,
  openAIPromptText,
  parseInboundRequest,
  shapeChatRequest,
  shapeEmbeddingsRequest,
  shapeResponsesRequest,
  type InboundParse,
  type SimulatedPath,
} from "./inbound-shape.js";
export { refusedSimulationReport, simulationReportOf, type SimulatedRoute, type SimulationReport } from "./simulation-report.js";
export { budgetWindowsOfKey, formatBudgetAmount, simulatedBudgetOf, type BudgetWindowRef, type SimulatedBudget } from "./simulated-budgets.js";
