// Decoding an Open Inference Protocol v2 infer request into one input tensor,
// with errors that name the field, the bad value and what was expected.
// Pure: no I/O, so every rule here is unit tested.
import { RequestError, shown } from '../../shared/errors.js';

export type OipDatatype = 'FP32' | 'FP64' | 'INT32' | 'INT64';
export type ModelElementType = 'float32' | 'float64' | 'int32' | 'int64';
export type InputArray = Float32Array | Float64Array | Int32Array | BigInt64Array;

export const SUPPORTED_DATATYPES: readonly OipDatatype[] = ['FP32', 'FP64', 'INT32', 'INT64'];
const OIP_DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
];

/** What a request has to match: the model's single input. */
export interface InputSpec {
  name: string;
  /** Features per row (the second dimension). */
  width: number;
  elementType: ModelElementType;
  outputNames: readonly string[];
}

/** Limits on one request, checked before anything is allocated. */
export interface DecodeLimits {
  /** Most elements (rows × features) one request may carry. */
  maxElements: number;
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
/** The largest finite float32. */
const FP32_MAX = 3.4028234663852886e38;

/** What each element type can hold, for the datatype a client declares and for the model's input. */
function rangeProblem(item: number, type: OipDatatype | ModelElementType): string | undefined {
  switch (type) {
    case 'FP32':
    case 'float32':
      return Math.abs(item) > FP32_MAX ? `is beyond the FP32 range (±${FP32_MAX})` : undefined;
    case 'INT32':
    case 'int32':
      return item < INT32_MIN || item > INT32_MAX
        ? `is outside the INT32 range (${INT32_MIN} to ${INT32_MAX})`
        : undefined;
    case 'INT64':
    case 'int64':
      // A JSON number holds integers exactly only up to 2^53 − 1; beyond, the value the client meant is already lost.
      return Number.isSafeInteger(item)
        ? undefined
        : `is outside the INT64 range a JSON number holds exactly (±${Number.MAX_SAFE_INTEGER})`;
    default:
      return undefined;
  }
}

/**
 * Walks flat or nested `data` (nested at most `maxDepth` arrays deep), checks
 * every element against the request's datatype and the model's element type,
 * and writes it converted into `target`. Returns how many elements it saw (may
 * exceed target.length; the caller reports that). Iterative, so no input can
 * exhaust the stack.
 */
function fill(data: unknown[], datatype: OipDatatype, target: InputArray, field: string, maxDepth: number): number {
  let count = 0;
  const integral = datatype === 'INT32' || datatype === 'INT64';
  const modelType: ModelElementType =
    target instanceof Float32Array
      ? 'float32'
      : target instanceof Float64Array
        ? 'float64'
        : target instanceof Int32Array
          ? 'int32'
          : 'int64';
  const intTarget = modelType === 'int32' || modelType === 'int64';
  const stack: { items: unknown[]; index: number }[] = [{ items: data, index: 0 }];
  const path = () => `${field}${stack.map((frame) => `[${frame.index}]`).join('')}`;
  while (stack.length > 0) {
    const frame = stack.at(-1)!;
    if (frame.index >= frame.items.length) {
      stack.pop();
      if (stack.length > 0) stack.at(-1)!.index++;
      continue;
    }
    const item = frame.items[frame.index];
    if (Array.isArray(item)) {
      if (stack.length >= maxDepth)
        throw bad(
          `${path()}: nested deeper than the shape allows (${maxDepth} level${maxDepth === 1 ? '' : 's'} of arrays at most)`,
        );
      stack.push({ items: item, index: 0 });
      continue;
    }
    if (typeof item !== 'number' || !Number.isFinite(item))
      throw bad(`${path()}: ${shown(item)} is not a number; ${datatype} data must be finite numbers`);
    if (integral && !Number.isInteger(item))
      throw bad(`${path()}: ${item} is not an integer, but the datatype is ${datatype}`);
    const declared = rangeProblem(item, datatype);
    if (declared) throw bad(`${path()}: ${item} ${declared}`);
    if (intTarget && !Number.isInteger(item))
      throw bad(
        `${path()}: ${item} is not an integer, but the model's input is ${modelType === 'int32' ? 'INT32' : 'INT64'}`,
      );
    const held = rangeProblem(item, modelType);
    if (held)
      throw bad(`${path()}: ${item} cannot be given to this model: its input is ${modelType} and the value ${held}`);
    if (count < target.length) {
      if (target instanceof BigInt64Array) target[count] = BigInt(item);
      else target[count] = item;
    }
    count++;
    frame.index++;
  }
  return count;
}

function parseShape(shape: unknown, field: string, spec: InputSpec): number {
  const expected = `[N, ${spec.width}] with N >= 1 rows`;
  if (
    !Array.isArray(shape) ||
    shape.length > 8 ||
    shape.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
  ) {
    throw bad(
      `${field}: ${Array.isArray(shape) && shape.length <= 8 ? JSON.stringify(shape.map((d) => (typeof d === 'number' ? d : shown(d)))) : shown(shape)} is not a shape; expected ${expected}`,
    );
  }
  if (shape.length === 1 && shape[0] === spec.width) return 1; // a single row given as [F]
  if (shape.length !== 2)
    throw bad(`${field}: ${JSON.stringify(shape)} has ${shape.length} dimensions; expected ${expected}`);
  if (shape[1] !== spec.width)
    throw bad(`${field}: ${JSON.stringify(shape)} has ${shape[1]} features per row; the model expects ${expected}`);
  if (shape[0] === 0) throw bad(`${field}: ${JSON.stringify(shape)} has no rows; expected ${expected}`);
  return shape[0] as number;
}

/** Decodes and validates an infer request body (already JSON-parsed) against the model's input. */
export function decodeInferRequest(
  body: unknown,
  spec: InputSpec,
  limits: DecodeLimits = { maxElements: 1 << 20 },
): DecodedRequest {
  if (!isRecord(body)) throw bad('request body: expected a JSON object with an "inputs" array');
  const { id, inputs, outputs } = body;
  if (id !== undefined && typeof id !== 'string') throw bad(`id: expected a string, got ${shown(id)}`);
  if (typeof id === 'string' && id.length > 256) throw bad(`id: ${id.length} characters is too long; at most 256`);
  if (!Array.isArray(inputs)) throw bad(`inputs: expected an array of input tensors, got ${shown(inputs)}`);
  let decoded: { rows: number; values: InputArray } | undefined;
  inputs.forEach((input, index) => {
    const field = `inputs[${index}]`;
    if (!isRecord(input)) throw bad(`${field}: expected an object with name, shape, datatype and data`);
    if (input.name !== spec.name)
      throw bad(`${field}.name: unknown input ${shown(input.name)}; the model has one input, "${spec.name}"`);
    if (decoded) throw bad(`${field}.name: input "${spec.name}" is given more than once`);
    if (typeof input.datatype !== 'string' || !OIP_DATATYPES.includes(input.datatype)) {
      throw bad(
        `${field}.datatype: ${shown(input.datatype)} is not an Open Inference Protocol datatype; expected one of ${SUPPORTED_DATATYPES.join(', ')}`,
      );
    }
    if (!SUPPORTED_DATATYPES.includes(input.datatype as OipDatatype)) {
      throw bad(
        `${field}.datatype: ${input.datatype} is not supported; expected one of ${SUPPORTED_DATATYPES.join(', ')}`,
      );
    }
    const rows = parseShape(input.shape, `${field}.shape`, spec);
    const elements = rows * spec.width;
    // Checked before allocating: a shape is only a claim, and [1e9, 9] would ask for 36 GB.
    if (elements > limits.maxElements)
      throw bad(
        `${field}.shape: ${JSON.stringify(input.shape)} has ${elements} elements; one request may carry at most ${limits.maxElements} (--max-body-bytes / 2)`,
      );
    if (!Array.isArray(input.data))
      throw bad(`${field}.data: expected an array of ${elements} numbers (flat or nested)`);
    if (input.data.length > elements)
      throw bad(
        `${field}.data: has at least ${input.data.length} elements, but shape ${JSON.stringify(input.shape)} needs ${elements}`,
      );
    const values = allocate(spec.elementType, elements);
    const count = fill(
      input.data,
      input.datatype as OipDatatype,
      values,
      `${field}.data`,
      Math.max(1, (input.shape as number[]).length),
    );
    if (count !== values.length) {
      throw bad(
        `${field}.data: has ${count} elements, but shape ${JSON.stringify(input.shape)} needs ${values.length}`,
      );
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
        throw bad(
          `outputs[${index}].name: unknown output ${shown(name)}; expected one of ${spec.outputNames.join(', ')}`,
        );
      }
      return name;
    });
  }
  return { id, rows: decoded.rows, values: decoded.values, outputs: requested };
}
