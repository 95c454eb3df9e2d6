/** @tollgate/providers: pure protocol adapters (request/response transforms, streams, usage, errors). */
export { countTokens, warmTokenizer } from "./token-count.js";
export { createSseSplitter, parseSseEvent, type SseEvent, type SseSplitter } from "./sse.js";
export {
  IMAGE_PART_TOKENS,
  MESSAGE_OVERHEAD_TOKENS,
  REQUEST_OVERHEAD_TOKENS,
  TOOLS_OVERHEAD_TOKENS,
  estimateInputTokensUpperBound,
  isParseError,
  parseOpenAIChatRequest,
  type ChatMessage,
  type MaxTokensField,
  type ParseError,
  type ParsedChatRequest,
} from "./openai/chat-request.js";
export { countOpenAIChatPromptTokens } from "./openai/prompt-count.js";
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
