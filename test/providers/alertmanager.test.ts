// The Alertmanager notifier against a real Alertmanager: alerts fire with the
// labels and annotations people act on, resolve when their condition ends, wait
// in the buffer while Alertmanager is down, and the buffer's bound is honest.
import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { createLogger } from '../../shared/log.js';
import { ControllerLoop } from '../../controller/src/controller/loop.js';
import { FileRolloutStore } from '../../controller/src/providers/file/store.js';
import { emptyStatus, specSchema, type ModelRollout, type RolloutStatus } from '../../controller/src/api/schema.js';
import { startAlertmanager, type AlertmanagerProcess } from '../../controller/src/local/alertmanager-process.js';
import { freePort } from '../../controller/src/local/free-port.js';
import { AlertmanagerNotifier } from '../../controller/src/providers/alertmanager/notifier.js';
import type { RolloutEvent, RolloutStore } from '../../controller/src/providers/types.js';
import { waitFor } from '../support/predictor.js';
import { sleep } from '../../shared/wait.js';
import { aSpecInput } from '../support/fixtures.js';

const rollout: ModelRollout = {
  apiVersion: 'weir.dev/v1alpha1',
  kind: 'ModelRollout',
  metadata: { name: 'price-direction', namespace: 'models' },
  spec: specSchema.parse({
    ...aSpecInput({ canary: { version: 'v3' } }),
  }),
};
const started: AlertmanagerProcess[] = [];
afterAll(async () => {
  await Promise.all(started.map((a) => a.stop()));
});

const event = (status: Partial<RolloutStatus>, extra: Partial<RolloutEvent> = {}): RolloutEvent => ({
  rollout,
  action: 'hold',
  summary: status.message ?? 'holding',
  status: { ...emptyStatus(), ...status },
  stepChanged: false,
  metricsUnavailable: false,
  ...extra,
});

interface ApiAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: { state: string };
}
const active = async (url: string): Promise<ApiAlert[]> =>
  (await (await fetch(`${url}/api/v2/alerts`)).json()) as ApiAlert[];

describe('AlertmanagerNotifier', () => {
  test('buffers while Alertmanager is down, delivers when it is up, and resolves when the condition ends', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const notifier = new AlertmanagerNotifier(url);
    const rolledBack = event(
      {
        phase: 'RolledBack',
        stage: 1,
        message: 'rolled back: accuracy harmful',
        analysis: [
          {
            kind: 'comparison',
            metric: 'accuracy',
            verdict: 'harmful',
            message: 'accuracy: harmful, canary − stable −0.07',
          },
        ],
      },
      { action: 'rollback', stepChanged: true },
    );
    await notifier.notify(rolledBack);
    expect(notifier.counts.failedPosts).toBe(1);
    expect(notifier.pending).toBe(1);

    const alertmanager = await startAlertmanager({ port });
    started.push(alertmanager);
    // The backoff retry delivers it without another notify. Alertmanager can
    // list the alert before the notifier has read the POST's reply, so the
    // buffer is waited on, then the alert is checked to be there.
    await waitFor(async () => notifier.pending === 0, 15_000, 'the buffered alert to be delivered');
    expect(notifier.counts.sent).toBe(1);
    const [alert] = (await active(url)).filter((a) => a.labels.alertname === 'WeirCanaryRolledBack');
    expect(alert!.labels).toEqual({
      alertname: 'WeirCanaryRolledBack',
      rollout: 'price-direction',
      namespace: 'models',
      model: 'price-direction',
      stable: 'v1',
      canary: 'v3',
      stage: '1',
      severity: 'critical',
    });
    expect(alert!.annotations).toEqual({
      summary: 'rolled back: accuracy harmful',
      reasons: 'accuracy: harmful, canary − stable −0.07',
      action: 'weir status price-direction -n models; after a fix, weir retry price-direction -n models',
    });
    expect(alert!.status.state).toBe('active');

    // weir retry: the rollout progresses again, so the rollback alert resolves.
    await notifier.notify(
      event({ phase: 'Progressing', stage: 0, attempt: 2, message: 'retry' }, { action: 'advance', stepChanged: true }),
    );
    await waitFor(
      async () => !(await active(url)).some((a) => a.labels.alertname === 'WeirCanaryRolledBack'),
      10_000,
      'the rollback alert to resolve',
    );
    expect(notifier.counts.resolved).toBe(1);
    // The stage advance was sent as a one-shot info alert.
    expect((await active(url)).find((a) => a.labels.alertname === 'WeirStageAdvanced')?.labels.severity).toBe('info');
    notifier.close();
  }, 60_000);

  test('awaiting approval fires with the command to give, and resolves once approved; Prometheus unreachable likewise', async () => {
    const alertmanager = await startAlertmanager();
    started.push(alertmanager);
    const notifier = new AlertmanagerNotifier(alertmanager.url);
    await notifier.notify(
      event(
        { phase: 'AwaitingApproval', stage: 2, message: 'awaiting approval for 100%' },
        { action: 'await-approval', stepChanged: true, metricsUnavailable: true },
      ),
    );
    const firing = await active(alertmanager.url);
    expect(firing.find((a) => a.labels.alertname === 'WeirRolloutAwaitingApproval')?.annotations.action).toBe(
      'weir approve price-direction -n models (or weir abort price-direction -n models)',
    );
    expect(firing.find((a) => a.labels.alertname === 'WeirPrometheusUnreachable')?.labels.severity).toBe('warning');
    // Holding in the same state sends nothing new (refreshes come once a minute).
    const sent = notifier.counts.sent;
    await notifier.notify(
      event(
        { phase: 'AwaitingApproval', stage: 2, message: 'awaiting approval for 100%' },
        { metricsUnavailable: true },
      ),
    );
    expect(notifier.counts.sent).toBe(sent);
    await notifier.notify(
      event(
        { phase: 'Progressing', stage: 3, message: 'advanced to 100% (approved by alice)' },
        { action: 'advance', stepChanged: true },
      ),
    );
    await waitFor(
      async () => {
        const names = (await active(alertmanager.url)).map((a) => a.labels.alertname);
        return !names.includes('WeirRolloutAwaitingApproval') && !names.includes('WeirPrometheusUnreachable');
      },
      10_000,
      'both to resolve',
    );
    notifier.close();
  }, 60_000);

  test('a route or status that cannot be written fires an alert while it lasts, and resolves when writes work again', async () => {
    const alertmanager = await startAlertmanager();
    started.push(alertmanager);
    const notifier = new AlertmanagerNotifier(alertmanager.url);
    await notifier.notify(
      event(
        { phase: 'RolledBack', stage: 2, message: 'aborted' },
        { routeWriteFailure: 'gateway PUT: HTTP 503', statusWriteFailure: 'EACCES: permission denied' },
      ),
    );
    const firing = await active(alertmanager.url);
    expect(firing.find((a) => a.labels.alertname === 'WeirRouteWriteFailing')).toMatchObject({
      labels: { severity: 'critical' },
      annotations: { summary: expect.stringContaining('gateway PUT: HTTP 503') },
    });
    expect(firing.find((a) => a.labels.alertname === 'WeirStatusWriteFailing')).toMatchObject({
      labels: { severity: 'warning' },
      annotations: { summary: expect.stringContaining('EACCES') },
    });
    await notifier.notify(event({ phase: 'RolledBack', stage: 2, message: 'aborted' }));
    await waitFor(
      async () => !(await active(alertmanager.url)).some((a) => /WriteFailing$/.test(a.labels.alertname!)),
      10_000,
      'both to resolve',
    );
    notifier.close();
  }, 60_000);

  test('the buffer is bounded: beyond maxBuffered the oldest alerts are dropped and counted', async () => {
    const notifier = new AlertmanagerNotifier(`http://127.0.0.1:${await freePort()}`, 'local', { maxBuffered: 3 });
    for (let stage = 0; stage < 5; stage++)
      await notifier.notify(
        event({ phase: 'Progressing', stage, message: `stage ${stage}` }, { action: 'advance', stepChanged: true }),
      );
    expect(notifier.pending).toBe(3);
    expect(notifier.counts.dropped).toBe(2);
    notifier.close();
  });
});

/** A controller serving only the webhook, on `store`: nothing else of the loop runs. */
async function webhookLoop(store: RolloutStore): Promise<{ loop: ControllerLoop; port: number }> {
  const unused = () => Promise.reject(new Error('not used by the webhook'));
  const loop = new ControllerLoop(
    {
      store,
      router: { setRoutes: unused, getRoutes: unused },
      metrics: { query: unused },
      log: createLogger('controller', 'error'),
      namespace: 'local',
    },
    { webhookToken: 'webhook-token-0123456789' },
  );
  return { loop, port: await loop.listen(0) };
}

describe('Alertmanager webhook → abort', () => {
  test('a firing alert naming the canary version aborts a rollout that opted in, and records who', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'weir-webhook-'));
    const spec = (canary: string, abortOnAlert: string[]) => ({
      ...aSpecInput({ canary: { version: canary } }),
      notifications: { abortOnAlert },
    });
    await writeFile(
      path.join(dir, 'opted-in.yaml'),
      stringify({
        apiVersion: 'weir.dev/v1alpha1',
        kind: 'ModelRollout',
        metadata: { name: 'opted-in' },
        spec: spec('v3', ['ModelAccuracyDegraded']),
      }),
    );
    await writeFile(
      path.join(dir, 'not-opted-in.yaml'),
      stringify({
        apiVersion: 'weir.dev/v1alpha1',
        kind: 'ModelRollout',
        metadata: { name: 'not-opted-in' },
        spec: spec('v3', []),
      }),
    );
    await writeFile(
      path.join(dir, 'other-canary.yaml'),
      stringify({
        apiVersion: 'weir.dev/v1alpha1',
        kind: 'ModelRollout',
        metadata: { name: 'other-canary' },
        spec: spec('v2', ['ModelAccuracyDegraded']),
      }),
    );
    const store = new FileRolloutStore(dir);
    const { loop, port } = await webhookLoop(store);
    const webhookUrl = `http://127.0.0.1:${port}/alertmanager/webhook`;
    try {
      expect(
        (await fetch(webhookUrl, { method: 'POST', body: '{"alerts":[]}', headers: { authorization: 'Bearer wrong' } }))
          .status,
      ).toBe(401);
      const alertmanager = await startAlertmanager({ webhook: { url: webhookUrl, token: 'webhook-token-0123456789' } });
      started.push(alertmanager);
      const posted = await fetch(`${alertmanager.url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([
          {
            labels: {
              alertname: 'ModelAccuracyDegraded',
              model: 'price-direction',
              version: 'v3',
              severity: 'warning',
            },
            annotations: { summary: 'accuracy below 50%' },
          },
        ]),
      });
      expect(posted.status).toBe(200);
      await waitFor(async () => (await store.get('opted-in')).commands.length > 0, 20_000, 'the abort command');
      expect((await store.get('opted-in')).commands).toEqual([
        expect.objectContaining({ type: 'abort', by: 'alertmanager:ModelAccuracyDegraded' }),
      ]);
      expect((await store.get('not-opted-in')).commands).toEqual([]);
      expect((await store.get('other-canary')).commands).toEqual([]);

      // Bug 9: bodies that crashed the controller, and a webhook while a store file is corrupt.
      const post = (body: string) =>
        fetch(webhookUrl, { method: 'POST', body, headers: { authorization: 'Bearer webhook-token-0123456789' } });
      for (const [body, error] of [
        ['null', /^body: .*expected object, received null/],
        ['{"alerts":[null]}', /^body\.alerts\.0: .*expected object/],
        ['{"alerts":{}}', /^body\.alerts: .*expected array/],
        ['[]', /^body: .*expected object, received array/],
        ['{"alerts":[{"status":"firing","labels":null}]}', /body\.alerts\.0\.labels/],
        ['{"alerts":[{"status":"firing","labels":{"alertname":7}}]}', /body\.alerts\.0\.labels\.alertname/],
        ['{"alerts":', /body: invalid JSON/],
      ] as const) {
        const reply = await post(body);
        expect([body, reply.status, ((await reply.json()) as { error: string }).error]).toEqual([
          body,
          400,
          expect.stringMatching(error),
        ]);
      }
      await writeFile(path.join(dir, 'corrupt.yaml'), 'spec: [unclosed\n');
      await writeFile(
        path.join(dir, 'second.yaml'),
        stringify({
          apiVersion: 'weir.dev/v1alpha1',
          kind: 'ModelRollout',
          metadata: { name: 'second' },
          spec: spec('v4', ['ModelAccuracyDegraded']),
        }),
      );
      const fire = () =>
        post(
          JSON.stringify({
            alerts: [{ status: 'firing', labels: { alertname: 'ModelAccuracyDegraded', version: 'v4' } }],
          }),
        );
      // Alertmanager repeats a firing alert: two posts 49 ms apart make one abort, not two.
      const first = await fire();
      await sleep(49);
      const second = await fire();
      expect([first.status, await first.json(), second.status, await second.json()]).toEqual([
        200,
        { aborted: ['second'] },
        200,
        { aborted: [] },
      ]);
      expect((await store.get('second')).commands.map((c) => c.type)).toEqual(['abort']);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      await loop.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test('one rollout whose abort cannot be recorded does not keep the others from being aborted; Alertmanager is told to retry', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'weir-webhook-'));
    const spec = (canary: string) => ({
      ...aSpecInput({ canary: { version: canary } }),
      notifications: { abortOnAlert: ['ModelAccuracyDegraded'] },
    });
    for (const name of ['a-first', 'b-second'])
      await writeFile(
        path.join(dir, `${name}.yaml`),
        stringify({ apiVersion: 'weir.dev/v1alpha1', kind: 'ModelRollout', metadata: { name }, spec: spec('v3') }),
      );
    const real = new FileRolloutStore(dir);
    // The first rollout's store refuses writes (as a forbidden namespace or a full disk would).
    const store = {
      list: () => real.list(),
      get: (k: string) => real.get(k),
      writeStatus: real.writeStatus.bind(real),
      addCommand: (k: string, c: Parameters<FileRolloutStore['addCommand']>[1]) =>
        k === 'a-first' ? Promise.reject(new Error('EACCES: permission denied')) : real.addCommand(k, c),
    };
    const { loop, port } = await webhookLoop(store);
    try {
      const reply = await fetch(`http://127.0.0.1:${port}/alertmanager/webhook`, {
        method: 'POST',
        headers: { authorization: 'Bearer webhook-token-0123456789' },
        body: JSON.stringify({
          alerts: [{ status: 'firing', labels: { alertname: 'ModelAccuracyDegraded', version: 'v3' } }],
        }),
      });
      expect(reply.status).toBe(503);
      expect(await reply.json()).toMatchObject({
        aborted: ['b-second'],
        failed: [{ rollout: 'a-first', error: expect.stringContaining('EACCES') }],
      });
      expect((await real.get('b-second')).commands.map((c) => c.type)).toEqual(['abort']);
    } finally {
      await loop.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
