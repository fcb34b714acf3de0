import { describe, expect, test } from '@jest/globals';
import { RequestError } from '../../shared/errors.js';
import { decodeInferRequest, type InputArray, type InputSpec } from './tensor.js';

/** The decoded values as plain numbers (or bigints, for INT64 models). */
const list = (values: InputArray): (number | bigint)[] => Array.from(values as ArrayLike<number | bigint>);

const spec: InputSpec = { name: 'features', width: 3, elementType: 'float32', outputNames: ['probability', 'label'] };
const input = (over: Record<string, unknown> = {}) => ({
  inputs: [{ name: 'features', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6], ...over }],
});

function errorOf(body: unknown): RequestError {
  try {
    decodeInferRequest(body, spec);
  } catch (err) {
    if (err instanceof RequestError) return err;
    throw err;
  }
  throw new Error('expected a RequestError');
}

describe('decodeInferRequest', () => {
  test('flat and nested data decode to the same row-major tensor', () => {
    const flat = decodeInferRequest(input(), spec);
    const nested = decodeInferRequest(
      input({
        data: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      }),
      spec,
    );
    expect(flat.rows).toBe(2);
    expect(list(flat.values)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(list(nested.values)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(flat.values).toBeInstanceOf(Float32Array);
  });

  test('FP64, INT32 and INT64 inputs are converted to what the model wants', () => {
    expect(
      list(decodeInferRequest(input({ datatype: 'FP64', data: [0.1, 2, 3, 4, 5, 6] }), spec).values)[0],
    ).toBeCloseTo(0.1, 6);
    expect(list(decodeInferRequest(input({ datatype: 'INT32' }), spec).values)).toEqual([1, 2, 3, 4, 5, 6]);
    const int64Model = decodeInferRequest(input({ datatype: 'INT64' }), { ...spec, elementType: 'int64' });
    expect(int64Model.values).toBeInstanceOf(BigInt64Array);
    expect(list(int64Model.values)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
  });

  test('the largest float32 and the largest exact INT64 are accepted', () => {
    expect(list(decodeInferRequest(input({ data: [1, 2, 3, 4, 5, 3.4028234663852886e38] }), spec).values)[5]).toBe(
      3.4028234663852886e38,
    );
    expect(
      list(
        decodeInferRequest(input({ datatype: 'INT64', data: [1, 2, 3, 4, 5, Number.MAX_SAFE_INTEGER] }), {
          ...spec,
          elementType: 'int64',
        }).values,
      )[5],
    ).toBe(9007199254740991n);
  });

  test('a single row may be given with shape [F]', () => {
    expect(decodeInferRequest(input({ shape: [3], data: [1, 2, 3] }), spec).rows).toBe(1);
  });

  test('the client may ask for a subset of outputs', () => {
    expect(decodeInferRequest({ ...input(), outputs: [{ name: 'label' }] }, spec).outputs).toEqual(['label']);
    expect(decodeInferRequest(input(), spec).outputs).toEqual(['probability', 'label']);
  });

  test.each([
    ['not an object', [1, 2], 'request body: expected a JSON object'],
    ['no inputs', {}, 'inputs: expected an array'],
    ['missing input', { inputs: [] }, 'inputs: missing input "features"'],
    [
      'unknown input name',
      { inputs: [{ name: 'x', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] },
      'inputs[0].name: unknown input "x"',
    ],
    [
      'input given twice',
      { inputs: [input().inputs[0], input().inputs[0]] },
      'inputs[1].name: input "features" is given more than once',
    ],
    [
      'bad datatype',
      input({ datatype: 'FLOAT' }),
      'inputs[0].datatype: "FLOAT" is not an Open Inference Protocol datatype',
    ],
    ['unsupported datatype', input({ datatype: 'BYTES' }), 'inputs[0].datatype: BYTES is not supported'],
    ['shape not a list', input({ shape: '2x3' }), 'inputs[0].shape: "2x3" is not a shape'],
    [
      'wrong width',
      input({ shape: [2, 4] }),
      'inputs[0].shape: [2,4] has 4 features per row; the model expects [N, 3]',
    ],
    ['three dimensions', input({ shape: [1, 2, 3] }), 'inputs[0].shape: [1,2,3] has 3 dimensions'],
    ['no rows', input({ shape: [0, 3], data: [] }), 'inputs[0].shape: [0,3] has no rows'],
    ['data too short', input({ data: [1, 2, 3] }), 'inputs[0].data: has 3 elements, but shape [2,3] needs 6'],
    [
      'data too long',
      input({ data: [1, 2, 3, 4, 5, 6, 7] }),
      'inputs[0].data: has at least 7 elements, but shape [2,3] needs 6',
    ],
    ['data not a list', input({ data: 'abc' }), 'inputs[0].data: expected an array of 6 numbers'],
    [
      'a string element',
      input({
        data: [
          [1, 2, 3],
          [4, 'five', 6],
        ],
      }),
      'inputs[0].data[1][1]: "five" is not a number',
    ],
    ['a null element', input({ data: [1, 2, null, 4, 5, 6] }), 'inputs[0].data[2]: null is not a number'],
    [
      'a fraction for INT32',
      input({ datatype: 'INT32', data: [1, 2.5, 3, 4, 5, 6] }),
      'inputs[0].data[1]: 2.5 is not an integer, but the datatype is INT32',
    ],
    [
      'INT32 out of range',
      input({ datatype: 'INT32', data: [1, 2, 3, 4, 5, 2 ** 40] }),
      'inputs[0].data[5]: 1099511627776 is outside the INT32 range',
    ],
    ['id not a string', { ...input(), id: 42 }, 'id: expected a string, got 42'],
    [
      'FP32 beyond its range (3.4028234663852886e38 is the largest float32)',
      input({ data: [1, 2, 3, 4, 5, 3.5e38] }),
      'inputs[0].data[5]: 3.5e+38 is beyond the FP32 range',
    ],
    [
      'FP64 that the float32 model cannot hold',
      input({ datatype: 'FP64', data: [1, 2, 3, 4, 5, -1e300] }),
      'inputs[0].data[5]: -1e+300 cannot be given to this model: its input is float32',
    ],
    [
      'INT64 beyond what a JSON number holds exactly (2^53 − 1)',
      input({ datatype: 'INT64', data: [1, 2, 3, 4, 5, 2 ** 53] }),
      'inputs[0].data[5]: 9007199254740992 is outside the INT64 range a JSON number holds exactly',
    ],
    [
      'data nested deeper than the shape',
      input({ data: [[[1, 2, 3]], [4, 5, 6]] }),
      'inputs[0].data[0][0]: nested deeper than the shape allows (2 levels',
    ],
    [
      'a flat single row nested',
      input({ shape: [3], data: [[1, 2, 3]] }),
      'inputs[0].data[0]: nested deeper than the shape allows (1 level',
    ],
    [
      'a shape too large to allocate',
      input({ shape: [1_000_000, 3] }),
      'inputs[0].shape: [1000000,3] has 3000000 elements; one request may carry at most 1048576',
    ],
    ['a shape dimension that is not a safe integer', input({ shape: [2 ** 53, 3] }), 'is not a shape'],
    [
      'an object where a number belongs (named, never serialized)',
      input({ data: [1, 2, 3, 4, 5, { deep: [1] }] }),
      'inputs[0].data[5]: an object is not a number',
    ],
    [
      'unknown output',
      { ...input(), outputs: [{ name: 'logits' }] },
      'outputs[0].name: unknown output "logits"; expected one of probability, label',
    ],
  ])('400 for %s, naming the field', (_case, body, message) => {
    const err = errorOf(body);
    expect(err.status).toBe(400);
    expect(err.message).toContain(message);
  });
});
