-- Input bounds per model (issue 9, item 5). The gateway bounds a prompt's text from its bytes; what
-- it cannot read off the body is bounded by the admin: tokens per image (NULL = the provider's
-- default: 1500 for OpenAI-style accounts, 1600 for Anthropic and Google) and tokens per part it
-- cannot size at all (a file by id or URI, a document, cached content, inline audio or video, a
-- server-side tool; NULL = not set: such requests are refused under a hard USD/TOKENS budget or a
-- per-request cost limit).
ALTER TABLE models ADD COLUMN image_input_tokens integer
  CHECK (image_input_tokens IS NULL OR image_input_tokens BETWEEN 1 AND 10000000);
ALTER TABLE models ADD COLUMN max_input_tokens_per_attachment integer
  CHECK (max_input_tokens_per_attachment IS NULL OR max_input_tokens_per_attachment BETWEEN 1 AND 10000000);
