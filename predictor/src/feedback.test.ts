import { describe, expect, test } from '@jest/globals';
import { RequestError } from '../../shared/errors.js';
import { checkItem, decodeFeedback, pairOutcome, scoreRows, type FeedbackItem } from './feedback.js';
import { InProcessLog } from './prediction-log/in-process.js';
import { claimKey, expiredGraceMs, type LoggedPrediction } from './prediction-log/log.js';
import { taskOf, type ModelTask } from './task.js';

const binary: ModelTask = { type: 'classification', classes: [0, 1], output: 'label', positive: 1 };
const item = (labels: number[], extra: Partial<FeedbackItem> = {}): FeedbackItem => ({
  id: 'a',
  labels,
  values: undefined,
  returns: undefined,
  ...extra,
});
const up: LoggedPrediction = { version: 'v1', outputs: [1], probabilities: [0.8], at: 0 };

describe('scoring a label against a prediction', () => {
  test('correctness, Brier loss and captured return', () => {
    // Predicted up with p=0.8, truth down: incorrect, Brier (0.8-0)^2 = 0.64,
    // a long position earns the realized return -0.02.
    expect(scoreRows(binary, up, item([0], { returns: [-0.02] }))).toEqual([
      { predicted: 1, actual: 0, correct: false, loss: expect.closeTo(0.64, 12), value: -0.02 },
    ]);
  });

  test('a predicted down earns the negated return; an explicit value wins over the return', () => {
    const rows = scoreRows(
      binary,
      { version: 'v2', outputs: [0, 1], probabilities: [0.3, 0.6], at: 0 },
      item([0, 0], { returns: [-0.01, 0.03] }),
    );
    expect(rows).toEqual([
      { predicted: 0, actual: 0, correct: true, loss: expect.closeTo(0.09, 12), value: 0.01 },
      { predicted: 1, actual: 0, correct: false, loss: expect.closeTo(0.36, 12), value: 0.03 },
    ]);
    expect(scoreRows(binary, up, item([1], { values: [5], returns: [-1] }))[0]).toMatchObject({ value: 5 });
  });

  test('regression: squared error as the loss, no correctness', () => {
    const task: ModelTask = { type: 'regression', output: 'value' };
    expect(scoreRows(task, { version: 'v1', outputs: [2.5, -1], at: 0 }, item([2, 1]))).toEqual([
      { predicted: 2.5, actual: 2, correct: undefined, loss: 0.25, value: undefined },
      { predicted: -1, actual: 1, correct: undefined, loss: 4, value: undefined },
    ]);
  });

  test("pair outcomes from the version's side", () => {
    const row = (correct: boolean) => ({ predicted: 1, actual: 1, correct, loss: 0, value: undefined });
    expect(pairOutcome(row(true), row(true))).toBe('both_correct');
    expect(pairOutcome(row(true), row(false))).toBe('version_only');
    expect(pairOutcome(row(false), row(true))).toBe('baseline_only');
    expect(pairOutcome(row(false), row(false))).toBe('neither');
  });

  test('unknown, expired (every version past the TTL) and row mismatches are named', () => {
    expect(checkItem(item([1]), undefined, 100, 50)).toMatchObject({ rejection: 'unknown' });
    expect(checkItem(item([1]), [up], 100, 100)).toMatchObject({ rejection: 'expired' });
    expect(checkItem(item([1]), [up, { ...up, version: 'v3', at: 20 }], 100, 100)).toBeUndefined();
    expect(checkItem(item([1]), [up, { ...up, version: 'v2', outputs: [1, 0] }], 100, 1)).toMatchObject({
      rejection: 'mismatch',
      message: expect.stringContaining('v1 predicted 1 rows under this id but v2 2'),
    });
    expect(checkItem(item([1, 0]), [up], 100, 1)).toMatchObject({
      rejection: 'mismatch',
      message: expect.stringContaining('label has 2 entries, but the prediction had 1 rows'),
    });
  });
});

describe('InProcessLog', () => {
  test('each (id, claim) is granted once; a later lookup shows it claimed', async () => {
    const log = new InProcessLog(10, 1000, () => 0);
    log.record('a', up);
    expect(await log.claim([{ id: 'a', key: claimKey('v1') }])).toEqual([true]);
    expect(
      await log.claim([
        { id: 'a', key: claimKey('v1') },
        { id: 'b', key: claimKey('v1') },
      ]),
    ).toEqual([false, false]);
    expect((await log.lookup(['a'])).get('a')!.claimed.has(claimKey('v1'))).toBe(true);
  });

  test('bounded by count: the oldest goes first, however many pass through', async () => {
    const log = new InProcessLog(3, 1_000_000, () => 0);
    for (let i = 0; i < 10_000; i++) log.record(`id-${i}`, up);
    expect(log.size).toBe(3);
    const found = await log.lookup(['id-9996', 'id-9997', 'id-9998', 'id-9999']);
    expect([...found.values()].map((r) => r !== undefined)).toEqual([false, true, true, true]);
  });

  test('bounded by age: kept for the TTL plus a grace (late feedback is told "expired"), then dropped', async () => {
    let now = 0;
    const ttl = 600_000;
    const log = new InProcessLog(100, ttl, () => now);
    log.record('old', up);
    now = ttl + expiredGraceMs(ttl) - 1;
    expect((await log.lookup(['old'])).get('old')).toBeDefined();
    now += 1;
    expect((await log.lookup(['old'])).get('old')).toBeUndefined();
    log.record('new', { ...up, at: now });
    expect(log.size).toBe(1);
  });

  test('one id predicted by two versions holds both', async () => {
    const log = new InProcessLog(10, 1000, () => 0);
    log.record('a', up);
    log.record('a', { ...up, version: 'v3' });
    expect((await log.lookup(['a'])).get('a')!.predictions.map((p) => p.version)).toEqual(['v1', 'v3']);
  });

  test('the same version again under an id keeps the first prediction and its claims (as HSETNX in Redis)', async () => {
    const log = new InProcessLog(10, 1000, () => 0);
    log.record('a', up);
    log.record('a', { ...up, version: 'v2' });
    expect(
      await log.claim([
        { id: 'a', key: claimKey('v1') },
        { id: 'a', key: claimKey('v2') },
      ]),
    ).toEqual([true, true]);
    log.record('a', { ...up, version: 'v2', outputs: [0] });
    const request = (await log.lookup(['a'])).get('a')!;
    expect(request.predictions.find((p) => p.version === 'v2')!.outputs).toEqual([1]);
    expect(await log.claim([{ id: 'a', key: claimKey('v1') }])).toEqual([false]);
  });

  test('every shape of prediction comes back as recorded: rows, no probability, a NaN probability, many versions', async () => {
    const log = new InProcessLog(100, 1000, () => 0);
    const shapes: [string, LoggedPrediction][] = [
      ['one', { version: 'v1', outputs: [1], probabilities: [0.75], at: 5 }],
      ['rows', { version: 'v2', outputs: [0, 1, 1], probabilities: [0.2, 0.6, 0.9], at: 6 }],
      ['regression', { version: 'v3', outputs: [-2.5], probabilities: undefined, at: 7 }],
      ['nan', { version: 'v4', outputs: [1], probabilities: [NaN], at: 8 }],
    ];
    for (let v = 5; v < 40; v++) shapes.push([`version-${v}`, { version: `v${v}`, outputs: [v], at: v }]);
    for (const [id, prediction] of shapes) log.record(id, prediction);
    const found = await log.lookup(shapes.map(([id]) => id));
    for (const [id, prediction] of shapes) expect(found.get(id)!.predictions).toEqual([prediction]);
  });

  test('finds exactly the ids a plain FIFO of the same capacity holds, through 20,000 random records and evictions', async () => {
    // Small capacities make the id table's probe runs collide and wrap; a seeded generator keeps it repeatable.
    let seed = 42;
    const random = () => ((seed = Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
    for (const capacity of [1, 3, 7, 64]) {
      const log = new InProcessLog(capacity, 1_000_000, () => 0);
      const fifo: string[] = [];
      for (let i = 0; i < 5_000; i++) {
        const id = `r${Math.floor(random() * capacity * 3)}`;
        log.record(id, up);
        if (!fifo.includes(id)) {
          fifo.push(id);
          if (fifo.length > capacity) fifo.shift();
        }
        if (i % 97 === 0 || i > 4_990) {
          const everyId = Array.from({ length: capacity * 3 }, (_, k) => `r${k}`);
          const found = await log.lookup(everyId);
          expect(everyId.filter((k) => found.get(k) !== undefined).sort()).toEqual([...fifo].sort());
          expect(log.size).toBe(fifo.length);
        }
      }
    }
  });

  test('a slot reused after eviction carries nothing of its last entry (rows, versions, claims)', async () => {
    const log = new InProcessLog(2, 1000, () => 0);
    log.record('a', { version: 'v1', outputs: [0, 1], at: 1 });
    log.record('a', { ...up, version: 'v9' });
    await log.claim([{ id: 'a', key: claimKey('v1') }]);
    log.record('b', up);
    log.record('c', up); // evicts a: c takes its slot
    const found = await log.lookup(['a', 'c']);
    expect(found.get('a')).toBeUndefined();
    expect(found.get('c')).toEqual({ predictions: [up], claimed: new Set() });
    expect(await log.claim([{ id: 'c', key: claimKey('v1') }])).toEqual([true]);
  });
});

describe('decodeFeedback', () => {
  test('accepts one item or a list, scalar or per-row labels', () => {
    expect(decodeFeedback({ id: 'a', label: 1 }, binary)).toEqual([
      { id: 'a', labels: [1], values: undefined, returns: undefined },
    ]);
    expect(decodeFeedback([{ id: 'a', label: [1, 0], value: [0.5, -0.5] }], binary)).toEqual([
      { id: 'a', labels: [1, 0], values: [0.5, -0.5], returns: undefined },
    ]);
  });

  test.each([
    [[], 'feedback: the list is empty'],
    ['x', 'feedback: expected an object'],
    [{ label: 1 }, 'id: expected the id (1 to 256 characters) of an earlier prediction, got nothing'],
    [{ id: 'a' }, 'label: missing; expected a class label (0 or 1)'],
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
    [{ id: 'a', label: 0.5 }, 'label: 0.5 is not a class label (0 or 1)'],
  ])('rejects %j with a message naming the field', (body, message) => {
    let caught: unknown;
    try {
      decodeFeedback(body, binary);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RequestError);
    expect((caught as RequestError).status).toBe(400);
    expect((caught as RequestError).message).toContain(message);
  });
});

describe('the task from metadata', () => {
  test('defaults to a 0/1 classifier; regression names its output; bad fields are named', () => {
    expect(taskOf({}, 'm')).toEqual({ type: 'classification', classes: [0, 1], output: 'label', positive: 1 });
    expect(taskOf({ task: 'regression' }, 'm')).toEqual({ type: 'regression', output: 'value' });
    expect(decodeFeedback({ id: 'a', label: 2.5 }, taskOf({ task: 'regression' }, 'm'))[0]!.labels).toEqual([2.5]);
    expect(() => taskOf({ task: 'ranking' }, 'm/v1/metadata.json')).toThrow(
      'm/v1/metadata.json: task: "ranking" is not a task',
    );
    expect(() => taskOf({ classes: [0, 0] }, 'm')).toThrow('classes: expected 2 to 64 distinct whole numbers');
    expect(() => taskOf({ classes: Array.from({ length: 65 }, (_, i) => i) }, 'm')).toThrow('classes');
  });
});
