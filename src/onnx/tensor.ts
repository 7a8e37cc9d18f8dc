import { XbarError } from '../core/errors.js';
import { DataType, EXTERNAL, type TensorProto } from './proto.js';

/** A constant from an ONNX file (initializer or Constant node): float data, or integers (shapes, axes). */
export interface ConstTensor {
  dims: number[];
  /** Float tensors as float32, exactly as stored; integer tensors converted (exact below 2^53). */
  data: Float32Array;
  ints: number[] | null;
}

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Decodes a TensorProto's values: raw_data (little-endian) or the typed repeated fields. */
export function constFromProto(t: TensorProto, where: string): ConstTensor {
  const name = t.name || where;
  if (t.dataLocation === EXTERNAL || (t.externalData?.length ?? 0) > 0)
    throw new XbarError(
      `tensor '${name}' keeps its data in an external file: xbar reads self-contained .onnx files; save it with onnx.save_model(model, path, save_as_external_data=False)`,
    );
  if (!littleEndian) throw new XbarError('reading ONNX on a big-endian machine is not supported');
  const dims = (t.dims ?? []).map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  const type = t.dataType ?? 0;
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  const copy = (bytesPer: number): ArrayBuffer => {
    if (!raw) return new ArrayBuffer(0);
    if (raw.length !== n * bytesPer)
      throw new XbarError(
        `tensor '${name}' has ${raw.length} bytes of data, its shape [${dims}] needs ${n * bytesPer}: the file is corrupt`,
      );
    return raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length) as ArrayBuffer;
  };
  let values: ArrayLike<number>;
  let ints: number[] | null = null;
  switch (type) {
    case DataType.FLOAT:
      values = raw ? new Float32Array(copy(4)) : Float32Array.from(t.floatData ?? []);
      break;
    case DataType.DOUBLE:
      values = raw ? new Float64Array(copy(8)) : (t.doubleData ?? []);
      break;
    case DataType.INT64:
      ints = raw ? Array.from(new BigInt64Array(copy(8)), Number) : (t.int64Data ?? []).map(Number);
      values = ints;
      break;
    case DataType.INT32:
      ints = raw ? Array.from(new Int32Array(copy(4))) : (t.int32Data ?? []).map(Number);
      values = ints;
      break;
    case DataType.UINT8:
    case DataType.INT8:
      ints = raw ? Array.from(type === DataType.UINT8 ? new Uint8Array(copy(1)) : new Int8Array(copy(1))) : (t.int32Data ?? []).map(Number);
      values = ints;
      break;
    default:
      throw new XbarError(
        `tensor '${name}' has ONNX data type ${type}: xbar imports float32, float64 and integer tensors; convert the model to float32 first`,
      );
  }
  if (values.length !== n)
    throw new XbarError(`tensor '${name}' holds ${values.length} values, its shape [${dims}] needs ${n}: the file is corrupt`);
  return { dims, data: values instanceof Float32Array ? values : Float32Array.from(values), ints };
}

/** A float32 TensorProto with its bytes in raw_data, as exporters write weights. */
export function floatTensorProto(name: string, dims: readonly number[], data: Float32Array): TensorProto {
  if (!littleEndian) throw new XbarError('writing ONNX on a big-endian machine is not supported');
  const bytes = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return { name, dims: [...dims], dataType: DataType.FLOAT, rawData: bytes };
}

export function int64TensorProto(name: string, values: readonly number[]): TensorProto {
  return { name, dims: [values.length], dataType: DataType.INT64, int64Data: [...values] };
}
