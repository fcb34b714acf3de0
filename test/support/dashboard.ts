// What the dashboard tests share: a rollout the engine takes to an approval
// gate (10 → 50 → 100, approval before 50%), and a Chromium page on a
// dashboard that records console errors and any request leaving it.
import type { Page } from 'playwright-core';
import { emptyStatus } from '../../controller/src/api/schema.js';
import { decide } from '../../controller/src/engine/decide.js';
import { obs, specWith } from '../../controller/src/engine/decide.test-helpers.js';
import type { RolloutStore } from '../../controller/src/providers/types.js';
import { launchChromium } from './chromium.js';

export const MIN = 60_000;

/** The stages 10 → 50 → 100, an approval before 50%: the engine's own rules take it to the gate. */
export const gatedSpec = specWith({
  strategy: {
    steps: [10, 50, 100],
    approvals: [50],
    minStageDuration: '5m',
    minSamplesPerStage: 100,
    maxDuration: '2h',
  },
});

/** A ModelRollout document of gatedSpec. */
export function gatedRollout(name: string, namespace?: string) {
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'ModelRollout',
    metadata: { name, ...(namespace ? { namespace } : {}) },
    spec: gatedSpec,
  };
}

/** Writes the status the engine decides at `now` (from an empty one when `fresh`), as the controller would. */
export async function decideAndWrite(store: RolloutStore, key: string, now: number, fresh = false) {
  const stored = await store.get(key);
  const d = decide({
    spec: gatedSpec,
    status: fresh ? emptyStatus() : stored.rollout.status!,
    observations: { ...obs(), samples: { stable: 9000, canary: 1000 } },
    commands: [],
    now,
  });
  await store.writeStatus(key, d.statusPatch, stored.revision);
  return d.statusPatch;
}

/** Starts the rollout 7 minutes ago; 30 s later it holds at 10% for its stage time; `gate` takes it on to the approval. */
export async function runToHold(store: RolloutStore, key: string): Promise<void> {
  await decideAndWrite(store, key, Date.now() - 7 * MIN, true);
  await decideAndWrite(store, key, Date.now() - 6.5 * MIN);
}

export const gate = (store: RolloutStore, key: string) => decideAndWrite(store, key, Date.now() - MIN);

/** A Chromium page that records console errors and requests to anywhere but `origin`. */
export async function dashboardPage(origin: string): Promise<{
  page: Page;
  consoleErrors: string[];
  outside: string[];
  close(): Promise<void>;
}> {
  const chromium = await launchChromium();
  const page = await chromium.browser.newPage();
  const consoleErrors: string[] = [];
  const outside: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith(origin)) outside.push(r.url());
  });
  return { page, consoleErrors, outside, close: chromium.close };
}
