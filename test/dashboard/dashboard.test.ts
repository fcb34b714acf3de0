// `weir dashboard` in local mode, in real Chromium (Debian's, through
// playwright-core): the list shows a running rollout and follows its status
// without a reload; an approval from the page is recorded with the identity; a
// write without the token, or from another Host, changes nothing; the page
// makes no outside request and logs no error; a full-page screenshot is saved
// (WEIR_SCREENSHOTS, default the temp folder), the one the README shows.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { stringify } from 'yaml';
import { startDashboard } from '../../controller/src/cli/dashboard.js';
import type { DashboardServer } from '../../controller/src/dashboard/server.js';
import { CSP } from '../../controller/src/dashboard/server.js';
import { FileRolloutStore } from '../../controller/src/providers/file/store.js';
import { dashboardPage, gate, gatedRollout, runToHold } from '../support/dashboard.js';

const NAME = 'price-direction';
const AS = 'release-manager@dashboard-test';
let dir: string;
let store: FileRolloutStore;
let dashboard: { url: string; token: string; server: DashboardServer };
let browser: Awaited<ReturnType<typeof dashboardPage>>;
let page: Page;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'weir-dashboard-'));
  await writeFile(path.join(dir, `${NAME}.yaml`), stringify(gatedRollout(NAME)));
  // One that does not validate: listed with its reason, never hidden.
  await writeFile(
    path.join(dir, 'broken.yaml'),
    stringify({
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'ModelRollout',
      metadata: { name: 'broken' },
      spec: { model: '' },
    }),
  );
  store = new FileRolloutStore(dir);
  await runToHold(store, NAME);
  dashboard = await startDashboard({ local: dir, as: AS, port: 0, refreshMs: 300 });
  browser = await dashboardPage(dashboard.url);
  page = browser.page;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await dashboard?.server.close();
  await rm(dir, { recursive: true, force: true });
});

describe('weir dashboard (local mode, Chromium)', () => {
  test('the list shows the running rollout and the invalid one with its reason', async () => {
    await page.goto(`${dashboard.url}#token=${dashboard.token}`);
    const row = page.locator('tr', { hasText: NAME });
    await row.waitFor();
    expect(await row.innerText()).toMatch(
      /price-direction\s+-\s+price-direction\s+Progressing\s+10% \(stage 1 of 3\)\s+v1 90%, v2 10%/,
    );
    expect(await row.innerText()).toContain('holding at 10%: stage time 30s of 300s');
    expect(await page.locator('tr', { hasText: 'broken' }).innerText()).toMatch(
      /Invalid[\s\S]*spec\.model: "" is empty/,
    );
    // The token left the address once the page took it.
    expect(page.url()).not.toContain(dashboard.token);
  });

  test('the page follows a status change without a reload', async () => {
    const loaded = await page.evaluate(() => (globalThis as any).performance.timeOrigin as number);
    // Six minutes later the engine leaves 10% and waits for approval before 50%.
    const status = await gate(store, NAME);
    expect(status.phase).toBe('AwaitingApproval');
    await page.locator('tr', { hasText: 'AwaitingApproval' }).waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => (globalThis as any).performance.timeOrigin as number)).toBe(loaded);
  });

  test('an approval from the rollout page is recorded with who gave it', async () => {
    await page.getByRole('link', { name: NAME }).click();
    await page.locator('#phase', { hasText: 'AwaitingApproval' }).waitFor();
    expect(await page.locator('ol.stages li[aria-current="step"]').innerText()).toBe('10%');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.locator('#live', { hasText: `approve recorded for ${NAME} by ${AS}` }).waitFor();
    const { commands } = await store.get(NAME);
    expect(commands).toEqual([expect.objectContaining({ type: 'approve', by: AS })]);
    // The page shows the pending command with the identity, from the change event.
    await page.locator('tr', { hasText: AS }).first().waitFor();
    // Panels a rollout does not have are left out, not drawn as "null".
    expect(await page.locator('main').innerText()).not.toMatch(/\b(null|undefined)\b/);
    // Every chart is the report's SVG, drawn as an image.
    const charts = await page.$$eval('.charts img', (imgs: any[]) =>
      imgs.map((i) => [i.getAttribute('data-chart'), i.naturalWidth]),
    );
    expect(charts.map(([id]) => id)).toContain('weights');
    for (const [, width] of charts) expect(width).toBeGreaterThan(100);
    const shot = path.join(process.env.WEIR_SCREENSHOTS ?? os.tmpdir(), 'weir-dashboard.png');
    await writeFile(shot, await page.screenshot({ fullPage: true }));
    process.stdout.write(`dashboard screenshot: ${shot}\n`);
  });

  test('a write without the token, with a wrong one, or from another Host changes nothing', async () => {
    const before = await store.get(NAME);
    const post = (headers: Record<string, string>) =>
      fetch(`${dashboard.url}api/command?key=${NAME}&type=abort`, { method: 'POST', headers });
    const none = await post({});
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: string }).error).toContain('x-weir-token: missing');
    expect((await post({ 'x-weir-token': 'guess' })).status).toBe(401);
    // A page from another origin, even with the token, is refused (the browser sends Origin).
    expect((await post({ 'x-weir-token': dashboard.token, origin: 'http://evil.example' })).status).toBe(403);
    const after = await store.get(NAME);
    expect(after.revision).toBe(before.revision);
    expect(after.commands).toEqual(before.commands);
    // DNS rebinding: a name that points here but is not this server's is refused, reads too.
    const port = new URL(dashboard.url).port;
    const rebound = await new Promise<number>((resolve, reject) => {
      import('node:http').then(({ request }) =>
        request(
          { host: '127.0.0.1', port, path: '/api/rollouts', headers: { host: `evil.example:${port}` } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        )
          .on('error', reject)
          .end(),
      );
    });
    expect(rebound).toBe(421);
  });

  test('another site may link to the page but not read or act; listeners and methods are bounded', async () => {
    const from = (site: string, where: string) =>
      fetch(`${dashboard.url}${where}`, { headers: { 'sec-fetch-site': site } });
    expect((await from('cross-site', '')).status).toBe(200);
    const read = await from('cross-site', 'api/rollouts');
    expect(read.status).toBe(403);
    expect(((await read.json()) as { error: string }).error).toContain('sec-fetch-site: cross-site');
    expect((await from('same-site', `api/rollout?key=${NAME}`)).status).toBe(403);
    expect((await fetch(`${dashboard.url}api/events`, { method: 'HEAD' })).status).toBe(405);
    expect((await fetch(`${dashboard.url}api/rollout?key=..%2Fetc`)).status).toBe(400);
    // Event streams: the page holds one; the 33rd at once is refused in words, and the server carries on.
    const { request } = await import('node:http');
    const port = new URL(dashboard.url).port;
    const opened: import('node:http').IncomingMessage[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 33; i++)
      statuses.push(
        await new Promise<number>((resolve, reject) =>
          request({ host: '127.0.0.1', port, path: '/api/events', headers: { host: `127.0.0.1:${port}` } }, (res) => {
            opened.push(res);
            resolve(res.statusCode ?? 0);
          })
            .on('error', reject)
            .end(),
        ),
      );
    expect(statuses.filter((code) => code === 200)).toHaveLength(31);
    expect(statuses.slice(31)).toEqual([503, 503]);
    for (const res of opened) res.destroy();
    expect((await fetch(`${dashboard.url}api/rollouts`)).status).toBe(200);
  });

  test('a malformed address shows a problem in words, and the page recovers', async () => {
    await page.goto(`${dashboard.url}#/rollout/%E0%A4%A`);
    await page.locator('#problem', { hasText: 'is not a readable rollout key' }).waitFor();
    await page.getByRole('link', { name: 'All rollouts' }).click();
    await page.locator('tr', { hasText: NAME }).waitFor();
    await page.locator('#problem').waitFor({ state: 'hidden' });
  });

  test('the page is served with a strict CSP, made no outside request and logged no error', async () => {
    const res = await fetch(dashboard.url);
    expect(res.headers.get('content-security-policy')).toBe(CSP);
    expect(CSP).toContain("script-src 'self'");
    expect(CSP).not.toContain('unsafe');
    expect(browser.outside).toEqual([]);
    expect(browser.consoleErrors).toEqual([]);
  });
});
