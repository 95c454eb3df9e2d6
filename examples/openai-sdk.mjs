// Calls Tollgate with the official OpenAI SDK: only the base URL and the API key change.
// Usage: TOLLGATE_KEY=tg_live_... node examples/openai-sdk.mjs [gateway base URL]
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.argv[2] ?? process.env.GATEWAY_URL ?? "http://127.0.0.1:8080/v1",
  apiKey: process.env.TOLLGATE_KEY,
});

const completion = await client.chat.completions.create({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "Say hello through Tollgate" }],
});
console.log(completion.choices[0].message.content);
console.log("usage:", completion.usage);

const stream = await client.chat.completions.create({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "Now stream it" }],
  stream: true,
});
let text = "";
for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
console.log("streamed:", text);
