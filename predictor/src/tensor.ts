// Decoding an Open Inference Protocol v2 infer request into one input tensor,
// with errors that name the field, the bad value and what was expected.
// Pure: no I/O, so every rule here is unit tested.
import { RequestError } from './errors.js';

export type OipDatatype = 'FP32' | 'FP64' | 'INT32' | 'INT64';
export type ModelElementType = 'float32' | 'float64' | 'int32' | 'int64';
export type InputArray = Float32Array | Float64Array | Int32Array | BigInt64Array;

export const SUPPORTED_DATATYPES: readonly OipDatatype[] = ['FP32', 'FP64', 'INT32', 'INT64'];
const OIP_DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'];

/** What a request has to match: the model's single input. */
export interface InputSpec {
  name: string;
  /** Features per row (the second dimension). */
  width: number;
  elementType: ModelElementType;
  outputNames: readonly string[];
}

export interface DecodedRequest {
  id: string | undefined;
  rows: number;
  values: InputArray;
  /** Output names the client asked for; all of them when it named none. */
  outputs: string[];
}

const bad = (message: string) => new RequestError(400, message);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function allocate(type: ModelElementType, length: number): InputArray {
  switch (type) {
    case 'float32':
      return new Float32Array(length);
    case 'float64':
      return new Float64Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'int64':
      return new BigInt64Array(length);
  }
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * Walks flat or nested `data`, checks every element against the request's
 * datatype, and writes it converted to the model's element type into `target`.
 * Returns how many elements it saw (may exceed target.length; the caller reports that).
 */
function fill(data: unknown[], datatype: OipDatatype, target: InputArray, field: string): number {
  let count = 0;
  const integral = datatype === 'INT32' || datatype === 'INT64';
  const intTarget = target instanceof Int32Array || target instanceof BigInt64Array;
  const visit = (items: unknown[], path: string): void => {
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (Array.isArray(item)) {
        visit(item, `${path}[${i}]`);
        continue;
      }
      if (typeof item !== 'number' || !Number.isFinite(item)) {
        throw bad(`${path}[${i}]: ${JSON.stringify(item) ?? String(item)} is not a number; ${datatype} data must be finite numbers`);
      }
      if (integral && !Number.isInteger(item)) throw bad(`${path}[${i}]: ${item} is not an integer, but the datatype is ${datatype}`);
      if (datatype === 'INT32' && (item < INT32_MIN || item > INT32_MAX)) throw bad(`${path}[${i}]: ${item} is outside the INT32 range`);
      if (intTarget && !Number.isInteger(item)) throw bad(`${path}[${i}]: ${item} is not an integer, but the model's input is ${target instanceof Int32Array ? 'INT32' : 'INT64'}`);
      if (count < target.length) {
        if (target instanceof BigInt64Array) target[count] = BigInt(item);
        else target[count] = item;
      }
      count++;
    }
  };
  visit(data, field);
  return count;
}

function parseShape(shape: unknown, field: string, spec: InputSpec): number {
  const expected = `[N, ${spec.width}] with N >= 1 rows`;
  if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
    throw bad(`${field}: ${JSON.stringify(shape)} is not a shape; expected ${expected}`);
  }
  if (shape.length === 1 && shape[0] === spec.width) return 1; // a single row given as [F]
  if (shape.length !== 2) throw bad(`${field}: ${JSON.stringify(shape)} has ${shape.length} dimensions; expected ${expected}`);
  if (shape[1] !== spec.width) throw bad(`${field}: ${JSON.stringify(shape)} has ${shape[1]} features per row; the model expects ${expected}`);
  if (shape[0] === 0) throw bad(`${field}: ${JSON.stringify(shape)} has no rows; expected ${expected}`);
  return shape[0] as number;
}

/** Decodes and validates an infer request body (already JSON-parsed) against the model's input. */
export function decodeInferRequest(body: unknown, spec: InputSpec): DecodedRequest {
  if (!isRecord(body)) throw bad('request body: expected a JSON object with an "inputs" array');
  const { id, inputs, outputs } = body;
  if (id !== undefined && typeof id !== 'string') throw bad(`id: expected a string, got ${JSON.stringify(id)}`);
  if (typeof id === 'string' && id.length > 256) throw bad(`id: ${id.length} characters is too long; at most 256`);
  if (!Array.isArray(inputs)) throw bad(`inputs: expected an array of input tensors, got ${inputs === undefined ? 'nothing' : JSON.stringify(inputs).slice(0, 40)}`);
  let decoded: { rows: number; values: InputArray } | undefined;
  inputs.forEach((input, index) => {
    const field = `inputs[${index}]`;
    if (!isRecord(input)) throw bad(`${field}: expected an object with name, shape, datatype and data`);
    if (input.name !== spec.name) throw bad(`${field}.name: unknown input ${JSON.stringify(input.name)}; the model has one input, "${spec.name}"`);
    if (decoded) throw bad(`${field}.name: input "${spec.name}" is given more than once`);
    if (typeof input.datatype !== 'string' || !OIP_DATATYPES.includes(input.datatype)) {
      throw bad(`${field}.datatype: ${JSON.stringify(input.datatype)} is not an Open Inference Protocol datatype; expected one of ${SUPPORTED_DATATYPES.join(', ')}`);
    }
    if (!SUPPORTED_DATATYPES.includes(input.datatype as OipDatatype)) {
      throw bad(`${field}.datatype: ${input.datatype} is not supported; expected one of ${SUPPORTED_DATATYPES.join(', ')}`);
    }
    const rows = parseShape(input.shape, `${field}.shape`, spec);
    if (!Array.isArray(input.data)) throw bad(`${field}.data: expected an array of ${rows * spec.width} numbers (flat or nested)`);
    const values = allocate(spec.elementType, rows * spec.width);
    const count = fill(input.data, input.datatype as OipDatatype, values, `${field}.data`);
    if (count !== values.length) {
      throw bad(`${field}.data: has ${count} elements, but shape ${JSON.stringify(input.shape)} needs ${values.length}`);
    }
    decoded = { rows, values };
  });
  if (!decoded) throw bad(`inputs: missing input "${spec.name}" (FP32, shape [N, ${spec.width}])`);
  let requested = [...spec.outputNames];
  if (outputs !== undefined) {
    if (!Array.isArray(outputs)) throw bad('outputs: expected an array of {"name": ...} objects');
    requested = outputs.map((output, index) => {
      const name = isRecord(output) ? output.name : undefined;
      if (typeof name !== 'string' || !spec.outputNames.includes(name)) {
        throw bad(`outputs[${index}].name: unknown output ${JSON.stringify(name)}; expected one of ${spec.outputNames.join(', ')}`);
      }
      return name;
    });
  }
  return { id, rows: decoded.rows, values: decoded.values, outputs: requested };
}
