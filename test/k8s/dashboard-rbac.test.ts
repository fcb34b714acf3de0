// `weir dashboard` in Kubernetes mode on a real kube-apiserver + etcd, in
// Chromium: the dashboard acts with the user's own kube credentials. bob (a
// weir-viewer) sees the rollout waiting for approval, clicks Approve and is
// refused, and the page shows the API server's words, which name the missing
// permission; alice (a weir-approver) clicks Approve and the command is
// recorded as hers.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startDashboard } from '../../controller/src/cli/dashboard.js';
import { loadKubeConfig } from '../../controller/src/providers/kube/client.js';
import { KubeRolloutStore } from '../../controller/src/providers/kube/store.js';
import { createLogger } from '../../shared/log.js';
import { dashboardPage, gate, gatedRollout, runToHold } from '../support/dashboard.js';
import { applyObject, installWeir, startKube, tokenUser, type KubeEnv } from '../support/kube-env.js';

const NS = 'models';
const NAME = 'gated';
const KEY = `${NS}/${NAME}`;
let kube: KubeEnv;
let admin: KubeRolloutStore;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  kube = await startKube([tokenUser('alice'), tokenUser('bob')]);
  await installWeir(kube, { approvers: ['alice'], viewers: ['bob'] });
  await applyObject(kube, gatedRollout(NAME, NS));
  admin = new KubeRolloutStore(loadKubeConfig({ kubeconfig: await kube.kubeconfig() }), {
    namespaces: [NS],
    log: createLogger('test', 'error'),
  });
  // What the controller would have written: the rollout waits for approval before 50%.
  await runToHold(admin, KEY);
  expect((await gate(admin, KEY)).phase).toBe('AwaitingApproval');
}, 180_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await kube?.stop();
});

/** `user`'s dashboard on the rollout's page, in Chromium; clicks Approve. */
async function approveAs(user: string) {
  const dashboard = await startDashboard({ kubeconfig: await kube.kubeconfig(user), namespace: NS, port: 0 });
  closers.push(() => dashboard.server.close());
  const browser = await dashboardPage(dashboard.url);
  closers.push(browser.close);
  const { page } = browser;
  await page.goto(`${dashboard.url}#token=${dashboard.token}`);
  await page.getByRole('link', { name: NAME }).click();
  await page.locator('#phase', { hasText: 'AwaitingApproval' }).waitFor();
  await page.getByRole('button', { name: 'Approve' }).click();
  return browser;
}

describe('weir dashboard (Kubernetes mode): RBAC decides, with the user’s own credentials', () => {
  test('bob (weir-viewer) is refused, and the page names the missing permission', async () => {
    const { page, consoleErrors } = await approveAs('bob');
    const problem = page.locator('#problem');
    await problem.waitFor();
    expect(await problem.innerText()).toMatch(
      /^Approve refused: .*forbidden: User "bob" cannot update resource "modelrollouts\/status" in API group "weir\.dev" in the namespace "models".*weir-approver/,
    );
    expect((await admin.get(KEY)).commands).toEqual([]);
    // The refusal is an answer the page shows, not a script error (the browser logs the 403 itself).
    expect(consoleErrors.filter((e) => !/status of 403/.test(e))).toEqual([]);
  }, 60_000);

  test('alice (weir-approver) approves, and the command is recorded as hers', async () => {
    const { page, outside } = await approveAs('alice');
    await page.locator('#live', { hasText: `approve recorded for ${KEY} by alice` }).waitFor();
    expect((await admin.get(KEY)).commands).toEqual([expect.objectContaining({ type: 'approve', by: 'alice' })]);
    expect(outside).toEqual([]);
  }, 60_000);
});
