// The model repository: <root>/<model>/<version>/model.onnx. It decides which
// version serves (the pinned one, or the latest), watches the folder, and swaps
// a new or changed version in only after it has loaded and warmed up. A model
// that fails to load is logged and counted; whatever was serving keeps serving.
//
// When the serving version's files vanish, it does NOT fall back to an older
// version on its own: a pod labelled with one version would silently serve
// another, and the canary analysis would compare the wrong models. The loaded
// model keeps answering from memory, the event is logged and counted, and
// readiness turns false (so a mesh drains the pod) until the files return, a
// newer version appears, or an explicit load picks what is there now.
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../shared/log.js';
import { LoadedModel, MODEL_FILE, versionFingerprint, type SessionOptions } from './model.js';

export interface RepositoryOptions {
  root: string;
  model: string;
  /** Serve exactly this version; when absent, serve the latest one present. */
  pinnedVersion: string | undefined;
  session: SessionOptions;
  warmupRows: number;
  pollIntervalMs: number;
  /** Wait this long after the last file event before loading, so copies finish. */
  settleMs: number;
}

export interface RepositoryEvents {
  /** Called after `next` has replaced `previous` (either may be undefined). */
  onSwap(next: LoadedModel | undefined, previous: LoadedModel | undefined): void;
  onLoadResult(version: string, ok: boolean): void;
  /** The serving version's files disappeared (`vanished` true), or came back (false). */
  onVanished?(version: string, vanished: boolean): void;
}

/** Orders versions so v10 comes after v9: numbers inside names compare as numbers. */
export function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** The model repository of one model (see the module comment). */
export class ModelRepository {
  private current: LoadedModel | undefined;
  private unloaded = false;
  /** The serving version whose files are gone, while they are. */
  private missing: string | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private watcher: FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  private settle: NodeJS.Timeout | undefined;
  /** Fingerprints that already failed, so a broken file is not retried every poll. */
  private readonly failed = new Map<string, string>();

  constructor(
    private readonly options: RepositoryOptions,
    private readonly events: RepositoryEvents,
    private readonly log: Logger,
  ) {}

  get serving(): LoadedModel | undefined {
    return this.current;
  }

  /** The serving version, when its files have vanished from the repository. */
  get vanished(): string | undefined {
    return this.missing;
  }

  get modelDir(): string {
    return path.join(this.options.root, this.options.model);
  }

  /** Versions on disk that have a model file, oldest first. */
  async versions(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.modelDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names.filter((name) => existsSync(path.join(this.modelDir, name, MODEL_FILE))).sort(compareVersions);
  }

  /** Loads the first version, then watches for changes. Resolves even if the load failed (the server reports not-ready). */
  async start(): Promise<void> {
    await this.enqueue(() => this.refresh(false));
    try {
      this.watcher = watch(this.modelDir, { recursive: true }, () => this.scheduleRefresh());
      this.watcher.on('error', (err) => this.log.warn('repository watch failed; polling continues', { err }));
    } catch (err) {
      this.log.warn('cannot watch the model folder; polling only', { dir: this.modelDir, err });
    }
    this.poller = setInterval(() => void this.enqueue(() => this.refresh(false)), this.options.pollIntervalMs);
    this.poller.unref();
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    if (this.poller) clearInterval(this.poller);
    if (this.settle) clearTimeout(this.settle);
    await this.chain.catch(() => undefined);
  }

  /** Triton's repository load: (re)load the target version now, even if unchanged. */
  load(): Promise<LoadedModel> {
    this.unloaded = false;
    return this.enqueue(async () => {
      const loaded = await this.refresh(true);
      if (!loaded) throw new Error(`no loadable version of "${this.options.model}" under ${this.options.root}`);
      return loaded;
    });
  }

  /** Triton's repository unload: stop serving until the next explicit load. */
  unload(): Promise<void> {
    return this.enqueue(async () => {
      this.unloaded = true;
      const previous = this.current;
      this.current = undefined;
      this.missing = undefined;
      this.events.onSwap(undefined, previous);
    });
  }

  private scheduleRefresh(): void {
    if (this.settle) clearTimeout(this.settle);
    this.settle = setTimeout(() => void this.enqueue(() => this.refresh(false)), this.options.settleMs);
  }

  /** Loads run one at a time, in order. */
  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async target(): Promise<string | undefined> {
    if (this.options.pinnedVersion) return this.options.pinnedVersion;
    return (await this.versions()).at(-1);
  }

  /** Notices the serving version's files going and coming back. */
  private checkServingFiles(): boolean {
    const serving = this.current;
    if (!serving) return true;
    const present = existsSync(path.join(this.modelDir, serving.version, MODEL_FILE));
    if (!present && this.missing !== serving.version) {
      this.missing = serving.version;
      this.events.onVanished?.(serving.version, true);
      this.log.warn(
        'the serving version vanished from the repository; it keeps answering from memory, readiness is false, and no older version is loaded on its own',
        { model: this.options.model, version: serving.version, dir: path.join(this.modelDir, serving.version) },
      );
    } else if (present && this.missing === serving.version) {
      this.missing = undefined;
      this.events.onVanished?.(serving.version, false);
      this.log.info('the serving version is back in the repository; ready again', {
        model: this.options.model,
        version: serving.version,
      });
    }
    return present;
  }

  /** Loads the target version when it differs from what serves (or when forced). Returns what serves afterwards. */
  private async refresh(force: boolean): Promise<LoadedModel | undefined> {
    if (this.unloaded && !force) return this.current;
    const present = this.checkServingFiles();
    const version = await this.target();
    // Never fall back on its own: only a newer version, or an explicit load, replaces a vanished one.
    if (
      !force &&
      !present &&
      this.current &&
      (version === undefined || compareVersions(version, this.current.version) <= 0)
    )
      return this.current;
    if (!version) {
      if (force || !this.current)
        this.log.warn('no version to load', {
          model: this.options.model,
          dir: this.modelDir,
          pinned: this.options.pinnedVersion,
        });
      return this.current;
    }
    const dir = path.join(this.modelDir, version);
    const fingerprint = await versionFingerprint(dir);
    if (!force && this.current?.version === version && this.current.fingerprint === fingerprint) return this.current;
    if (!force && this.failed.get(version) === fingerprint) return this.current;
    if (!existsSync(path.join(dir, MODEL_FILE))) {
      if (force) throw new Error(`${path.join(dir, MODEL_FILE)} does not exist`);
      return this.current;
    }
    const started = performance.now();
    try {
      const next = await LoadedModel.load(
        this.options.model,
        version,
        dir,
        this.options.session,
        this.options.warmupRows,
      );
      this.failed.delete(version);
      const previous = this.current;
      this.current = next;
      if (this.missing !== undefined) {
        this.events.onVanished?.(this.missing, false);
        this.missing = undefined;
      }
      this.events.onLoadResult(version, true);
      this.events.onSwap(next, previous);
      this.log.info('model version serving', {
        model: this.options.model,
        version,
        previous: previous?.version,
        loadMs: Math.round(performance.now() - started),
        placement: next.placement,
        warmupRunMs: Number(next.warmupRunMs.toFixed(3)),
      });
      return next;
    } catch (err) {
      this.failed.set(version, fingerprint);
      this.events.onLoadResult(version, false);
      this.log.error('model load failed; the previous version keeps serving', {
        model: this.options.model,
        version,
        serving: this.current?.version ?? null,
        err,
      });
      if (force) throw err;
      return this.current;
    }
  }
}
