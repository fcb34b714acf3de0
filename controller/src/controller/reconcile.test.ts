// The order of reconcile's writes, with in-memory fakes of the store and the
// router that journal every write: less traffic goes to the route first, more
// only after status; nothing is written that did not change. Fast; the same
// rules run against the real file store and gateway in
// test/controller/reconcile-safety.test.ts.
import { describe, expect, test } from '@jest/globals';
import { createLogger } from '../../../shared/log.js';
import { emptyStatus, type ModelRollout, type RolloutStatus } from '../api/schema.js';
import type { AppliedStep, Command } from '../engine/types.js';
import type { RouteTarget } from '../engine/route.js';
import {
  ConflictError,
  type RolloutStore,
  type RouteState,
  type StoredRollout,
  type TrafficRouter,
} from '../providers/types.js';
import { aSpec } from '../../../test/support/fixtures.js';
import { reconcile, type ControllerParts } from './reconcile.js';
import { UnwrittenDecisions } from './unwritten.js';

type Write = `status:${string}` | `route:${number}`;

/** One rollout in memory; `failStatus` makes status writes throw (once or always). */
class MemoryStore implements RolloutStore {
  revision = 1;
  commands: Command[] = [];
  failStatus: 'never' | 'always' | 'conflict-once' = 'never';
  constructor(
    public status: RolloutStatus,
    private readonly journal: Write[],
    private readonly rollout: ModelRollout = {
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'ModelRollout',
      metadata: { name: 'r' },
      spec: aSpec({ strategy: { steps: [10, 50, 100], minStageDuration: '0s', minSamplesPerStage: 0 } }),
    },
  ) {}
  async list() {
    return { rollouts: [await this.get()], invalid: [] };
  }
  async get(): Promise<StoredRollout> {
    return {
      key: 'r',
      rollout: { ...this.rollout, status: structuredClone(this.status) },
      commands: [...this.commands],
      revision: String(this.revision),
    };
  }
  async writeStatus(_key: string, status: RolloutStatus, revision: string): Promise<string> {
    if (this.failStatus === 'always') throw new Error('EACCES');
    if (this.failStatus === 'conflict-once' || revision !== String(this.revision)) {
      this.failStatus = 'never';
      this.revision++;
      throw new ConflictError('changed');
    }
    this.status = structuredClone(status);
    this.commands = this.commands.filter((c) => !status.consumedCommands.includes(c.id));
    this.journal.push(`status:${status.phase}`);
    return String(++this.revision);
  }
  async addCommand(_key: string, command: Omit<Command, 'id'>): Promise<Command> {
    const recorded = { id: `c${this.commands.length}`, ...command };
    this.commands.push(recorded);
    this.revision++;
    return recorded;
  }
}

class MemoryRouter implements TrafficRouter {
  state: RouteState = { weights: [100, 0], mirrorPercent: 0 };
  constructor(private readonly journal: Write[]) {}
  async getRoutes(): Promise<RouteState> {
    return structuredClone(this.state);
  }
  async setRoutes(_r: ModelRollout, target: RouteTarget, step: AppliedStep): Promise<void> {
    this.state = { weights: target.weights.map((w) => w.weight), mirrorPercent: target.mirror.percent, step };
    this.journal.push(`route:${target.weights.at(-1)!.weight}`);
  }
}

function setup(status: RolloutStatus = emptyStatus()) {
  const journal: Write[] = [];
  const store = new MemoryStore(status, journal);
  const router = new MemoryRouter(journal);
  const parts: ControllerParts = {
    store,
    router,
    metrics: { query: async () => ({ results: new Map(), failures: [] }) },
    log: createLogger('test', 'error', () => undefined),
    namespace: 'local',
    unwritten: new UnwrittenDecisions(),
  };
  return { journal, store, router, parts };
}

describe('reconcile: the order of writes', () => {
  test('more traffic is written to status first, then routed', async () => {
    const { journal, parts } = setup();
    await reconcile(parts, 'r');
    await reconcile(parts, 'r');
    expect(journal).toEqual(['status:Progressing', 'route:10', 'status:Progressing', 'route:50']);
  });

  test('a rollback goes to the route first, then to status', async () => {
    const { journal, store, parts } = setup();
    await reconcile(parts, 'r');
    await reconcile(parts, 'r');
    journal.length = 0;
    await store.addCommand('r', { type: 'abort', by: 'carol', at: 't' });
    await reconcile(parts, 'r');
    expect(journal).toEqual(['route:0', 'status:RolledBack']);
  });

  test('a failed status write on an advance routes nothing; on a rollback the route still moves', async () => {
    const { journal, store, router, parts } = setup();
    await reconcile(parts, 'r');
    journal.length = 0;
    store.failStatus = 'always';
    expect(await reconcile(parts, 'r')).toMatchObject({
      decision: { action: 'advance' },
      routed: false,
      statusFailure: 'EACCES',
    });
    expect(journal).toEqual([]);
    expect(router.state.weights).toEqual([90, 10]);
    await store.addCommand('r', { type: 'abort', by: 'carol', at: 't' });
    expect(await reconcile(parts, 'r')).toMatchObject({
      decision: { action: 'rollback' },
      routed: true,
      statusFailure: 'EACCES',
    });
    expect(journal).toEqual(['route:0']);
  });

  test('a status conflict is read and decided again at once', async () => {
    const { journal, store, parts } = setup();
    store.failStatus = 'conflict-once';
    await reconcile(parts, 'r');
    expect(journal).toEqual(['status:Progressing', 'route:10']);
  });

  test('a finished rollout writes nothing while its route matches, and only the route when someone moved it', async () => {
    const { journal, store, router, parts } = setup();
    await reconcile(parts, 'r');
    await store.addCommand('r', { type: 'abort', by: 'carol', at: 't' });
    await reconcile(parts, 'r');
    journal.length = 0;
    await reconcile(parts, 'r');
    expect(journal).toEqual([]);
    router.state = { weights: [50, 50], mirrorPercent: 0 };
    await reconcile(parts, 'r');
    expect(journal).toEqual(['route:0']);
  });
});
