import { describe, expect, test } from '@jest/globals';
import { RequestError } from '../../shared/errors.js';
import { PredictionStore, decodeFeedback } from './feedback.js';

const prediction = { version: 'v1', labels: [1], probabilities: [0.8] };

describe('PredictionStore', () => {
  test('joins a label with its prediction once: correctness, Brier loss and captured return', () => {
    const store = new PredictionStore(10, 1000);
    store.remember('a', prediction, 0);
    // Predicted up with p=0.8, truth down: incorrect, Brier (0.8-0)^2 = 0.64,
    // a long position earns the realized return -0.02.
    expect(store.score({ id: 'a', labels: [0], values: undefined, returns: [-0.02] }, 10)).toEqual([
      { version: 'v1', correct: false, brier: expect.closeTo(0.64, 12), value: -0.02 },
    ]);
    expect(store.score({ id: 'a', labels: [0], values: undefined, returns: undefined }, 10)).toMatchObject({
      rejection: 'unknown',
    });
  });

  test('a predicted down earns the negated return; an explicit value wins over the return', () => {
    const store = new PredictionStore(10, 1000);
    store.remember('b', { version: 'v2', labels: [0, 1], probabilities: [0.3, 0.6] }, 0);
    const rows = store.score({ id: 'b', labels: [0, 0], values: undefined, returns: [-0.01, 0.03] }, 1);
    expect(rows).toEqual([
      { version: 'v2', correct: true, brier: expect.closeTo(0.09, 12), value: 0.01 },
      { version: 'v2', correct: false, brier: expect.closeTo(0.36, 12), value: 0.03 },
    ]);
    store.remember('c', prediction, 0);
    expect(store.score({ id: 'c', labels: [1], values: [5], returns: [-1] }, 1)).toEqual([
      { version: 'v1', correct: true, brier: expect.closeTo(0.04, 12), value: 5 },
    ]);
  });

  test('expired predictions are rejected as expired, evicted ones as unknown', () => {
    const store = new PredictionStore(2, 100);
    store.remember('old', prediction, 0);
    expect(store.score({ id: 'old', labels: [1], values: undefined, returns: undefined }, 100)).toMatchObject({
      rejection: 'expired',
    });
    store.remember('x', prediction, 200);
    store.remember('y', prediction, 201);
    store.remember('z', prediction, 202);
    expect(store.size).toBe(2);
    expect(store.score({ id: 'x', labels: [1], values: undefined, returns: undefined }, 203)).toMatchObject({
      rejection: 'unknown',
    });
  });

  test('a label list must have one entry per predicted row', () => {
    const store = new PredictionStore(10, 1000);
    store.remember('m', { version: 'v1', labels: [1, 0], probabilities: undefined }, 0);
    expect(store.score({ id: 'm', labels: [1], values: undefined, returns: undefined }, 1)).toMatchObject({
      rejection: 'mismatch',
      message: expect.stringContaining('label has 1 entries, but the prediction had 2 rows'),
    });
  });
});

describe('decodeFeedback', () => {
  test('accepts one item or a list, scalar or per-row labels', () => {
    expect(decodeFeedback({ id: 'a', label: 1 }, [0, 1])).toEqual([
      { id: 'a', labels: [1], values: undefined, returns: undefined },
    ]);
    expect(decodeFeedback([{ id: 'a', label: [1, 0], value: [0.5, -0.5] }], [0, 1])).toEqual([
      { id: 'a', labels: [1, 0], values: [0.5, -0.5], returns: undefined },
    ]);
  });

  test.each([
    [[], 'feedback: the list is empty'],
    ['x', 'feedback: expected an object'],
    [{ label: 1 }, 'id: expected the id (1 to 256 characters) of an earlier prediction, got nothing'],
    [{ id: 'a' }, 'label: missing; expected 0 or 1'],
    [{ id: 'a', label: 2 }, 'label: 2 is not a class label (0 or 1)'],
    [
      [
        { id: 'a', label: 1 },
        { id: 'b', label: [1, 'x'] },
      ],
      '[1].label[1]: "x" is not a class label',
    ],
    [{ id: 'a', label: 1, value: 'lots' }, 'value: "lots" is not a finite number'],
    [
      { id: 'a', label: 1, value: 1e200 },
      'value: 1e+200 is not a finite number from −1000000000 to 1000000000 (--max-feedback-value)',
    ],
    [{ id: 'a', label: 1, return: [-1e10] }, 'return[0]: -10000000000 is not a finite number from −1000000000'],
    [{ id: 'x'.repeat(257), label: 1 }, 'id: expected the id (1 to 256 characters)'],
    [
      [
        { id: 'a', label: 1 },
        { id: 'a', label: 0 },
      ],
      '[1].id: "a" appears twice in this request',
    ],
  ])('rejects %j with a message naming the field', (body, message) => {
    let caught: unknown;
    try {
      decodeFeedback(body, [0, 1]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RequestError);
    expect((caught as RequestError).status).toBe(400);
    expect((caught as RequestError).message).toContain(message);
  });
});
