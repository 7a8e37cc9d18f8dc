import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { XbarError } from '../core/errors.js';

/**
 * The ONNX protobuf schema, read by protobufjs from the official onnx.proto committed in proto/
 * (the same path from src/onnx and from dist/onnx). Field names are protobufjs' camelCase of the
 * schema's (op_type -> opType); 64-bit integers come back as numbers (every dimension, attribute
 * and shape xbar reads fits in 2^53).
 */
const PROTO = fileURLToPath(new URL('../../proto/onnx.proto', import.meta.url));

export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, FLOAT16: 10, DOUBLE: 11 } as const;
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;
/** TensorProto.DataLocation.EXTERNAL: the tensor's bytes live in a separate file. */
export const EXTERNAL = 1;

export interface TensorProto {
  name?: string;
  dims?: number[];
  dataType?: number;
  rawData?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  doubleData?: number[];
  externalData?: { key?: string; value?: string }[];
  dataLocation?: number;
}

export interface AttributeProto {
  name?: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: number[];
}

export interface NodeProto {
  name?: string;
  opType?: string;
  domain?: string;
  input?: string[];
  output?: string[];
  attribute?: AttributeProto[];
}

export interface DimProto {
  dimValue?: number;
  dimParam?: string;
}

export interface ValueInfoProto {
  name?: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim?: DimProto[] } } };
}

export interface GraphProto {
  name?: string;
  node?: NodeProto[];
  initializer?: TensorProto[];
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  valueInfo?: ValueInfoProto[];
}

export interface ModelProto {
  irVersion?: number;
  opsetImport?: { domain?: string; version?: number }[];
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  graph?: GraphProto;
}

let modelType: protobuf.Type | null = null;

function schema(): protobuf.Type {
  if (!modelType) {
    if (!existsSync(PROTO)) throw new XbarError(`the ONNX schema ${PROTO} is missing from this xbar install: reinstall xbar`);
    modelType = protobuf.loadSync(PROTO).lookupType('onnx.ModelProto');
  }
  return modelType;
}

/**
 * Decodes an .onnx file. A truncated file or one that is not protobuf fails in the decoder; a file
 * that happens to decode but has no graph or opset is not an ONNX model either.
 */
export function decodeModelProto(bytes: Uint8Array, source: string): ModelProto {
  const type = schema();
  let model: ModelProto;
  try {
    model = type.toObject(type.decode(bytes), { longs: Number, enums: Number, arrays: true }) as ModelProto;
  } catch (e) {
    throw new XbarError(
      `${source} is not a readable ONNX model (${(e as Error).message.split('\n')[0]}): the file is truncated or not .onnx; export it again`,
    );
  }
  if (!model.graph || !model.irVersion || !model.opsetImport?.length)
    throw new XbarError(`${source} is not an ONNX model (no graph, IR version or opset in it): pass a file written by an ONNX exporter`);
  return model;
}

export function encodeModelProto(model: ModelProto): Uint8Array {
  const type = schema();
  const err = type.verify(model);
  if (err) throw new Error(`xbar built an invalid ONNX model: ${err}`);
  return type.encode(type.fromObject(model)).finish();
}
