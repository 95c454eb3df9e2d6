/** @tollgate/mock-provider: a deterministic fake OpenAI, Anthropic and Gemini upstream for tests, benchmarks and demos. */
export { startMockProvider, type MockFault, type MockProvider, type MockProviderOptions, type RecordedRequest } from "./mock-provider.server.js";
export { COMPLETION_WORD, countPromptTokens, countPromptTokensOf, planCompletion, type CompletionInput } from "./chat-completion.js";
export { readAnthropicInput } from "./anthropic-message.js";
export { readGeminiInput } from "./gemini-content.js";
export { EMBEDDING_DIMENSIONS } from "./embeddings.js";
export { parseDirectives, type MockDirectives } from "./directives.js";
export { buildProtocolError, type MockProtocol } from "./protocol-error.js";
