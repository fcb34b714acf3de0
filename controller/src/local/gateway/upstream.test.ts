// The gateway's balancer: least requests by two random choices (Envoy's
// LEAST_REQUEST), so equal loads spread at random, and mirrored copies count.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Backends } from './upstream.js';

/** A deterministic uniform source (an LCG), so the counts below are reproducible. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('Backends.pick', () => {
  test('with nothing in flight every replica is chosen, about equally (not always the first)', () => {
    const backends = new Backends(
      { v1: ['http://127.0.0.1:1001', 'http://127.0.0.1:1002', 'http://127.0.0.1:1003'] },
      undefined,
      lcg(7),
    );
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const url = backends.pick('v1')!.href;
      counts.set(url, (counts.get(url) ?? 0) + 1);
    }
    // Binomial(3000, 1/3): sd 25.8, so 900–1100 is ±3.9 sd.
    expect(counts.size).toBe(3);
    for (const n of counts.values()) expect(n).toBeGreaterThan(900);
    for (const n of counts.values()) expect(n).toBeLessThan(1100);
  });

  test('a retry avoids the replicas already tried, and one replica is always itself', () => {
    const backends = new Backends(
      { v1: ['http://127.0.0.1:1001', 'http://127.0.0.1:1002'], v2: ['http://127.0.0.1:2001'] },
      undefined,
      lcg(1),
    );
    const first = backends.pick('v1')!;
    for (let i = 0; i < 50; i++) expect(backends.pick('v1', new Set([first]))!.href).not.toBe(first.href);
    expect(backends.pick('v2')!.href).toBe('http://127.0.0.1:2001/');
    expect(backends.pick('v3')).toBeUndefined();
  });
});

describe('in-flight requests steer the balancer', () => {
  const held: http.ServerResponse[] = [];
  const servers: http.Server[] = [];
  const urls: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      // Holds every request until the test releases it.
      const server = http.createServer((req, res) => {
        req.resume();
        held.push(res);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      servers.push(server);
      urls.push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }
  });
  afterAll(async () => {
    for (const res of held) res.end();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  test('a mirrored copy in flight counts: the next pick is the other replica', async () => {
    const backends = new Backends({ shadow: urls }, undefined, lcg(3));
    const req = { method: 'POST', headers: {} } as http.IncomingMessage;
    const mirrored = backends.mirror('shadow', req, '/x', Buffer.from('{}'));
    while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const busyPort = (held[0]!.socket!.localPort ?? 0).toString();
    const busyUrl = urls.find((u) => u.endsWith(`:${busyPort}`));
    expect(busyUrl).toBeDefined();
    for (let i = 0; i < 50; i++) expect(backends.pick('shadow')!.href).not.toBe(`${busyUrl}/`);
    held.shift()!.end('{}');
    expect(await mirrored).toBe(200);
    backends.close();
  });
});
