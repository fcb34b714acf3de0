// The shared helpers' contracts: bearer tokens, request targets, escapes,
// retries with backoff, waiting, and number formatting.
import { describe, expect, test } from '@jest/globals';
import { RequestError } from './errors.js';
import { formatNumber } from './format.js';
import { bearerMatches, decodeSegment, isOriginForm } from './http.js';
import { backoffMs, retry } from './retry.js';
import { waitFor } from './wait.js';

describe('http', () => {
  test('a bearer token counts only with the Bearer scheme (any case), whole and exact', () => {
    expect(bearerMatches('Bearer s3cret-token', 's3cret-token')).toBe(true);
    expect(bearerMatches('bearer s3cret-token', 's3cret-token')).toBe(true);
    for (const header of [
      's3cret-token',
      'Basic s3cret-token',
      'Bearer s3cret-tokenx',
      'Bearer s3cret',
      'Bearers3cret-token',
      'Bearer s3cret-token extra',
      undefined,
      ['Bearer s3cret-token'],
    ]) {
      expect([header, bearerMatches(header as string | undefined, 's3cret-token')]).toEqual([header, false]);
    }
  });

  test('only origin-form targets route; anything a URL parser reads as a host does not', () => {
    for (const target of ['/', '/v2/models/m/infer', '/x?y=1', '/a%2Fb'])
      expect([target, isOriginForm(target)]).toEqual([target, true]);
    for (const target of ['http://h/x', '//h/x', '/\\h/x', '*', 'h:80', '/a b', ''])
      expect([target, isOriginForm(target)]).toEqual([target, false]);
  });

  test('a malformed escape is a 400 naming the field', () => {
    expect(decodeSegment('price%2Ddirection', 'model')).toBe('price-direction');
    expect(() => decodeSegment('%E0%A4%A', 'model')).toThrow(
      new RequestError(400, 'model: "%E0%A4%A" is not valid percent-encoding'),
    );
  });
});

describe('retry', () => {
  test('backoff doubles from the base and stops at the cap', () => {
    expect([0, 1, 2, 3, 10].map((n) => backoffMs(n, 500, 3000))).toEqual([500, 1000, 2000, 3000, 3000]);
  });

  test('retries until it succeeds, up to the attempts; a failure retryOn declines is thrown at once', async () => {
    let calls = 0;
    await expect(
      retry(async (attempt) => (++calls < 3 ? Promise.reject(new Error(`fail ${attempt}`)) : 'ok'), { attempts: 5 }),
    ).resolves.toBe('ok');
    expect(calls).toBe(3);
    calls = 0;
    await expect(retry(async () => Promise.reject(new Error(`fail ${++calls}`)), { attempts: 3 })).rejects.toThrow(
      'fail 3',
    );
    calls = 0;
    await expect(
      retry(async () => Promise.reject(new Error(`fatal ${++calls}`)), { attempts: 3, retryOn: () => false }),
    ).rejects.toThrow('fatal 1');
  });
});

describe('wait', () => {
  test('waitFor resolves once the check holds, and names what it waited for on timeout', async () => {
    let n = 0;
    await waitFor(() => ++n >= 3, 1000, 'three checks', 1);
    expect(n).toBe(3);
    await expect(waitFor(() => false, 30, 'the impossible', 5)).rejects.toThrow(
      'timed out after 30 ms waiting for the impossible',
    );
  });
});

describe('formatNumber', () => {
  test.each([
    [0, 3, '0'],
    [12, 3, '12'],
    [1234.5, 3, '1230'],
    [0.0123456, 3, '0.0123'],
    [0.00012345, 3, '1.23e-4'],
    [2.0655927, 6, '2.06559'],
    [1e7, 3, '1.00e+7'],
    [-0.5, 2, '-0.5'],
    [Infinity, 3, 'Infinity'],
    [NaN, 3, 'NaN'],
  ])('%p with %p digits is %p', (value, digits, text) => expect(formatNumber(value, digits)).toBe(text));
});
