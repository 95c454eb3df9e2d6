/** Sending a chat service's answer over Fastify: JSON, or a byte stream with the service's headers. */
import { Readable } from "node:stream";
import type { FastifyReply } from "fastify";
import type { ChatResult } from "./chat.service.js";

/** Sends a chat answer: JSON, or a stream of bytes with the headers the service chose. */
export function sendChatResult(reply: FastifyReply, result: ChatResult): FastifyReply {
  reply.code(result.status).headers(result.headers);
  if (result.kind === "json") return reply.type("application/json").send(result.body);
  return reply.send(Readable.from(result.body, { objectMode: false }));
}
