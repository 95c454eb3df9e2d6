/**
 * Issue 9 item 6 end to end, on real processes (a control plane, a data-plane node, the mock
 * provider), through the official `openai` client with its default settings: a stream with two
 * images, a tool and a `response_format`, cut by the upstream after two tokens, is billed its
 * prompt exactly as the reservation counted it (not the few tokens of its text) and the output its
 * admission held; the usage query and the key's cost show it.
 */
import { DEFAULT_IMAGE_INPUT_TOKENS } from "@tollgate/policy";
import { parseOpenAIChatRequest, shapeChatRequest, type ParsedChatRequest } from "@tollgate/providers";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/processes.js";
import { startStack, type Stack } from "../support/stack.js";
import { acceptedEverywhere, createKey, keyUsage, setupTenant, toMicros, type Tenant, type TestKey } from "../support/tenant.js";

let stack: Stack;
let tenant: Tenant;
let key: TestKey;

beforeAll(async () => {
  stack = await startStack(1);
  tenant = await setupTenant(stack.gql, stack.mockUrl);
  key = await createKey(stack.gql, tenant.orgId, "cut-rich");
  await acceptedEverywhere(stack.nodeUrls, key.secret);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe("a cut stream with images and tools", () => {
  it("is billed the prompt the reservation counted and the output it held", async () => {
    const image = { type: "image_url" as const, image_url: { url: `data:image/png;base64,${"iVBORw0KGgoAAAANSUhEUg".repeat(30)}` } };
    const body = {
      model: tenant.model,
      stream: true as const,
      max_tokens: 50,
      messages: [
        { role: "system" as const, content: "You name the colors of pictures." },
        { role: "user" as const, content: [{ type: "text" as const, text: "which colors? [[mock:reset_after=2]] [[mock:completion_tokens=40]]" }, image, image] },
      ],
      tools: [
        {
          type: "function" as const,
          function: { name: "lookup_color", description: "Looks a color name up in the house palette.", parameters: { type: "object", properties: { hex: { type: "string" } }, required: ["hex"] } },
        },
      ],
      response_format: { type: "json_schema" as const, json_schema: { name: "colors", schema: { type: "object", properties: { colors: { type: "array", items: { type: "string" } } } } } },
    };
    const client = new OpenAI({ baseURL: `${stack.nodeUrls[0]}/v1`, apiKey: key.secret });
    let text = "";
    const failure = await (async () => {
      for await (const chunk of await client.chat.completions.create(body)) text += chunk.choices[0]?.delta?.content ?? "";
    })().then(
      () => null,
      (e: unknown) => e,
    );
    // The cut reaches the app as the SDK's error after the two tokens, never as a complete answer.
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect(text).toBe(" tok".repeat(2));

    // The reservation's bound: the text bound plus each image at the account's default image bound.
    const shape = shapeChatRequest(parseOpenAIChatRequest(body) as ParsedChatRequest);
    const prompt = shape.inputTokensUpperBound + (shape.attachments?.images ?? 0) * DEFAULT_IMAGE_INPUT_TOKENS.OPENAI_COMPATIBLE;
    expect(prompt).toBeGreaterThan(3_000); // the images and declarations; the text alone is about 20 tokens
    const row = await eventually(
      async () => {
        const d = await stack.gql<{ usage: { requests: number; inputTokens: number; outputTokens: number }[] }>(
          `query($org: ID!, $filter: UsageFilter) { usage(organizationId: $org, groupBy: [VIRTUAL_KEY], filter: $filter) { requests inputTokens outputTokens } }`,
          { org: tenant.orgId, filter: { virtualKeyId: key.id } },
        );
        const r = d.usage[0];
        return r !== undefined && r.outputTokens > 0 ? r : undefined;
      },
      15_000,
      "usage of the cut stream",
    );
    expect(row).toMatchObject({ inputTokens: prompt, outputTokens: 50 });
    // $1 / $2 per million: one micro-dollar per prompt token, two per output token.
    expect(toMicros((await keyUsage(stack.gql, tenant.orgId, key.id)).cost)).toBe(prompt + 2 * 50);
    console.log(`cut stream with 2 images, a tool and a response_format: prompt billed ${prompt} tokens (the reservation's count), output 50 (held)`);
  });
});
