/** @tollgate/mock-provider: a deterministic fake OpenAI upstream for tests, benchmarks and demos. */
export { startMockProvider, type MockProvider, type MockProviderOptions, type RecordedRequest } from "./mock-provider.server.js";
export { COMPLETION_WORD, countPromptTokens } from "./chat-completion.js";
export { EMBEDDING_DIMENSIONS } from "./embeddings.js";
export { parseDirectives, type MockDirectives } from "./directives.js";
