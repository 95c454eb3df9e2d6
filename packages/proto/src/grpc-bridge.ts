/**
 * The one bridge between protobuf-es service descriptors and grpc-js: it turns a generated
 * `GenService` into a grpc-js `ServiceDefinition` (binary serializers from the schema) and a
 * generic client constructor. No message is encoded by hand anywhere else: messages are written
 * by the encoder compiled from their schema (`createMessageEncoder`, the same bytes as `toBinary`).
 */
import { fromBinary, type DescMessage, type DescService, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { createMessageEncoder } from "./message-encoder.js";

function serializerFor<D extends DescMessage>(schema: D): (msg: MessageShape<D>) => Buffer {
  const encode = createMessageEncoder(schema);
  return (msg) => {
    const bytes = encode(msg);
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializerFor<D extends DescMessage>(schema: D): (buf: Buffer) => MessageShape<D> {
  return (buf) => fromBinary(schema, buf);
}

/** Builds the grpc-js service definition of a protobuf-es service descriptor. */
export function toGrpcServiceDefinition(service: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: serializerFor(method.input) as (msg: unknown) => Buffer,
      requestDeserialize: deserializerFor(method.input),
      responseSerialize: serializerFor(method.output) as (msg: unknown) => Buffer,
      responseDeserialize: deserializerFor(method.output),
      originalName: method.name,
    };
  }
  return definition;
}

/** Builds a grpc-js client constructor for a protobuf-es service descriptor. */
export function makeGrpcClientConstructor(service: DescService): grpc.ServiceClientConstructor {
  return grpc.makeGenericClientConstructor(toGrpcServiceDefinition(service), service.typeName, {});
}
