// The file rollout store: commands recorded with who and when, optimistic
// revisions, and crash safety: a writer killed mid-write leaves a valid file.
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { parse } from 'yaml';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { emptyStatus } from '../../controller/src/api/schema.js';
import { sleep } from '../../shared/wait.js';
import { packageRoot } from '../../shared/paths.js';
import { ConflictError, FileRolloutStore } from '../../controller/src/providers/file/store.js';
import { CommandRefusedError, InvalidRolloutError } from '../../controller/src/providers/types.js';

const dirs: string[] = [];
async function folder(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'weir-store-'));
  dirs.push(dir);
  await copyFile(
    path.join(packageRoot(), 'manifests/examples/price-direction.yaml'),
    path.join(dir, 'price-direction.yaml'),
  );
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('FileRolloutStore', () => {
  test('reads a rollout with defaults, records commands with who and when, and writes status by revision', async () => {
    const store = new FileRolloutStore(await folder());
    const first = await store.get('price-direction');
    expect(first.rollout.spec.canary.version).toBe('v2');
    expect(first.rollout.status!.phase).toBe('Pending');
    const command = await store.addCommand('price-direction', {
      type: 'pause',
      by: 'alice@example.com',
      at: '2026-11-22T10:00:00Z',
    });
    const second = await store.get('price-direction');
    expect(second.commands).toEqual([command]);
    // The revision moved: a status computed from the first read is refused.
    await expect(store.writeStatus('price-direction', emptyStatus(), first.revision)).rejects.toBeInstanceOf(
      ConflictError,
    );
    const status = { ...emptyStatus(), phase: 'Progressing' as const, consumedCommands: [command.id] };
    await store.writeStatus('price-direction', status, second.revision);
    const third = await store.get('price-direction');
    expect(third.rollout.status!.phase).toBe('Progressing');
    expect(third.commands).toEqual([]);
    await expect(store.get('nope')).rejects.toThrow('rollout "nope" not found');
    await expect(store.get('../etc')).rejects.toThrow('is not a DNS label');
  });

  test('a writer killed mid-write leaves a valid file, and its stale lock is broken', async () => {
    const dir = await folder();
    const storeUrl = pathToFileURL(path.join(packageRoot(), 'dist/controller/src/providers/file/store.js')).href;
    const schemaUrl = pathToFileURL(path.join(packageRoot(), 'dist/controller/src/api/schema.js')).href;
    // The writer rewrites a large status until it dies. With CRASH_MID_WRITE it
    // kills itself halfway through writing a rollout file (temporary or final),
    // the worst instant there is; otherwise the test kills it at a random time.
    const writer = (crash: boolean) => `
      import fsp from 'node:fs/promises';
      import { syncBuiltinESMExports } from 'node:module';
      if (${crash}) {
        const paths = new WeakMap();
        const open = fsp.open;
        fsp.open = async (file, ...rest) => { const h = await open(file, ...rest); paths.set(h, String(file)); return h; };
        syncBuiltinESMExports(); // named imports of node:fs/promises see the wrapper too
        const probe = await open('/dev/null');
        const proto = Object.getPrototypeOf(probe);
        await probe.close();
        const rollout = (h) => /\\.yaml(\\..*\\.tmp)?$/.test(paths.get(h) ?? '');
        const { write, writeFile } = proto;
        let seen = 0;
        const die = () => process.kill(process.pid, 'SIGKILL');
        proto.writeFile = async function (data, ...rest) {
          if (!rollout(this)) return writeFile.call(this, data, ...rest);
          const text = String(data);
          await write.call(this, text.slice(0, text.length >> 1));
          die();
        };
        proto.write = async function (...args) {
          if (rollout(this) && ++seen === 3) die();
          return write.apply(this, args);
        };
      }
      const { FileRolloutStore } = await import(${JSON.stringify(storeUrl)});
      const { emptyStatus } = await import(${JSON.stringify(schemaUrl)});
      const store = new FileRolloutStore(${JSON.stringify(dir)});
      const history = Array.from({ length: 100 }, (_, i) => ({ stepId: 's' + i, action: 'hold', stage: 1, canaryWeight: 25, at: new Date(0).toISOString(), summary: 'x'.repeat(200) }));
      process.stdout.write('ready\\n');
      for (let i = 0; ; i++) {
        const { revision } = await store.get('price-direction');
        await store.writeStatus('price-direction', { ...emptyStatus(), phase: 'Progressing', stage: i % 4, history }, revision);
      }`;
    const store = new FileRolloutStore(dir);
    for (let round = 0; round < 8; round++) {
      const crash = round % 2 === 0;
      const child = spawn(process.execPath, ['--input-type=module', '-e', writer(crash)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
      if (!crash) {
        await sleep(30 + Math.random() * 120);
        child.kill('SIGKILL');
      }
      const guard = setTimeout(() => child.kill('SIGTERM'), 10_000); // a writer that never crashes fails below, not by hanging
      const signal = await new Promise((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
      clearTimeout(guard);
      expect(signal).toBe('SIGKILL');
      // YAML forgives a file cut at a line end, so completeness is checked
      // directly: \`revision\` is written last, and the history is all there or absent.
      const raw = parse(await readFile(path.join(dir, 'price-direction.yaml'), 'utf8')) as {
        revision?: unknown;
        status?: { history?: unknown[] };
      };
      if (round > 0) expect(typeof raw.revision).toBe('number');
      expect([0, 100]).toContain(raw.status?.history?.length ?? 0);
      const stored = await store.get('price-direction');
      expect(stored.rollout.spec.model).toBe('price-direction');
      // The dead writer's lock does not block the next writer.
      await store.writeStatus(
        'price-direction',
        { ...stored.rollout.status!, message: `after kill ${round}` },
        stored.revision,
      );
      expect((await store.get('price-direction')).rollout.status!.message).toBe(`after kill ${round}`);
    }
    expect((await readdir(dir)).filter((f) => f.endsWith('.lock'))).toEqual([]);
  });

  test('one file that does not parse or validate is listed as invalid; the others still list (issue 11, bug 4)', async () => {
    const dir = await folder();
    const good = await readFile(path.join(dir, 'price-direction.yaml'), 'utf8');
    await writeFile(
      path.join(dir, 'aaa-broken.yaml'),
      'apiVersion: weir.dev/v1alpha1\nkind: ModelRollout\nspec: [unclosed\n',
    );
    await writeFile(
      path.join(dir, 'bad-spec.yaml'),
      good.replace('name: price-direction', 'name: bad-spec').replace(/steps: \[[^\]]*\]/, 'steps: [50, 10]'),
    );
    await writeFile(path.join(dir, 'empty.yaml'), '');
    await writeFile(path.join(dir, 'Not_A_Name.yaml'), good);
    await writeFile(
      path.join(dir, 'null-command.yaml'),
      `${good.replace('name: price-direction', 'name: null-command')}\ncommands: [null]\n`,
    );
    await writeFile(
      path.join(dir, 'string-commands.yaml'),
      `${good.replace('name: price-direction', 'name: string-commands')}\ncommands: oops\n`,
    );
    await writeFile(
      path.join(dir, 'bad-command.yaml'),
      `${good.replace('name: price-direction', 'name: bad-command')}\ncommands: [{id: x, type: launch, by: a, at: t}]\n`,
    );
    await writeFile(
      path.join(dir, 'bad-revision.yaml'),
      `${good.replace('name: price-direction', 'name: bad-revision')}\nrevision: -3\n`,
    );
    const store = new FileRolloutStore(dir);
    const listing = await store.list();
    expect(listing.rollouts.map((r) => r.key)).toEqual(['price-direction']);
    expect(Object.fromEntries(listing.invalid.map((i) => [i.key, i.reason]))).toEqual({
      Not_A_Name: expect.stringContaining('is not a DNS label'),
      'aaa-broken': expect.stringContaining('not YAML'),
      'bad-command': expect.stringContaining('commands[0].type: "launch"'),
      'bad-revision': expect.stringContaining('revision: -3 is not a whole number >= 0'),
      'bad-spec': expect.stringContaining('spec.strategy.steps'),
      'null-command': expect.stringContaining('commands[0]: null'),
      'string-commands': expect.stringContaining('commands: "oops"'),
      empty: expect.stringContaining('not a ModelRollout document'),
    });
    await expect(store.get('aaa-broken')).rejects.toBeInstanceOf(InvalidRolloutError);
    // An invalid file is never rewritten: a write leaves its bytes exactly as they were.
    const before = await readFile(path.join(dir, 'bad-spec.yaml'), 'utf8');
    await expect(store.addCommand('bad-spec', { type: 'abort', by: 'x', at: 't' })).rejects.toBeInstanceOf(
      InvalidRolloutError,
    );
    await expect(store.writeStatus('bad-spec', emptyStatus(), '0')).rejects.toBeInstanceOf(InvalidRolloutError);
    expect(await readFile(path.join(dir, 'bad-spec.yaml'), 'utf8')).toBe(before);
  });

  test('a malformed status is reported and left alone, never reset to a fresh rollout (issue 11, bug 5)', async () => {
    const dir = await folder();
    const store = new FileRolloutStore(dir);
    const first = await store.get('price-direction');
    const history = [
      {
        stepId: 'a1-s2-rolledback',
        action: 'rollback',
        stage: 2,
        canaryWeight: 0,
        at: '2026-11-22T10:00:00Z',
        summary: 'rolled back: guardrail error-rate',
      },
    ];
    await store.writeStatus(
      'price-direction',
      { ...emptyStatus(), phase: 'RolledBack', stage: 2, history },
      first.revision,
    );
    const file = path.join(dir, 'price-direction.yaml');
    const tampered = (await readFile(file, 'utf8')).replace('phase: RolledBack', 'phase: Bogus');
    await writeFile(file, tampered);
    const listing = await store.list();
    expect(listing.rollouts).toEqual([]);
    expect(listing.invalid).toEqual([
      {
        key: 'price-direction',
        reason: expect.stringMatching(/malformed status, left as it is: status\.phase: "Bogus"/),
        metadata: { name: 'price-direction' },
      },
    ]);
    await expect(store.get('price-direction')).rejects.toThrow('malformed status');
    await expect(store.addCommand('price-direction', { type: 'retry', by: 'x', at: 't' })).rejects.toBeInstanceOf(
      InvalidRolloutError,
    );
    expect(await readFile(file, 'utf8')).toBe(tampered);
  });

  test('a command the phase refuses is recorded as a refusal with who tried it, atomically, and not queued', async () => {
    const dir = await folder();
    const store = new FileRolloutStore(dir);
    const first = await store.get('price-direction');
    await store.writeStatus('price-direction', { ...emptyStatus(), phase: 'RolledBack', stage: 2 }, first.revision);
    for (const type of ['approve', 'pause', 'resume', 'promote', 'abort'] as const) {
      const refused = store.addCommand('price-direction', {
        type,
        by: 'mallory@example.com',
        at: '2026-11-22T11:00:00Z',
      });
      await expect(refused).rejects.toBeInstanceOf(CommandRefusedError);
      await expect(refused).rejects.toThrow('refused: the rollout is RolledBack');
    }
    const after = await store.get('price-direction');
    expect(after.commands).toEqual([]);
    expect(after.rollout.status!.refusedCommands.map((r) => r.type)).toEqual([
      'approve',
      'pause',
      'resume',
      'promote',
      'abort',
    ]);
    expect(after.rollout.status!).toMatchObject({ phase: 'RolledBack', canaryWeight: 0 });
    await expect(store.addCommand('price-direction', { type: 'retry', by: 'carol', at: 't' })).resolves.toMatchObject({
      type: 'retry',
      by: 'carol',
    });
  });
});
