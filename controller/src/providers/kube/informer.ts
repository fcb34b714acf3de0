// A list-then-watch cache of one resource collection, as client-go's informer:
// list, watch from the list's resourceVersion, and list again when the watch
// fails or the server answers 410 Gone. A periodic resync lists again anyway, so
// a missed event cannot leave the cache wrong for longer than the resync period.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../../../predictor/src/log.js';
import { kubeFailure } from './client.js';

export interface Listed<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

interface Named {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface InformerOptions<T> {
  kubeconfig: KubeConfig;
  /** Collection path, e.g. /apis/weir.dev/v1alpha1/modelrollouts. */
  path: string;
  list: () => Promise<Listed<T>>;
  log: Logger;
  resyncMs?: number;
  /** Called after every change to the cache. */
  onChange?: () => void;
}

const keyOf = (o: Named) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class Informer<T extends Named> {
  private readonly objects = new Map<string, T>();
  private abort: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private stopped = false;
  private generation = 0;
  private failures = 0;
  /** True once a list has succeeded; false again while relisting after a failure. */
  synced = false;
  readonly counts = { lists: 0, watchEvents: 0, watchErrors: 0 };

  constructor(private readonly options: InformerOptions<T>) {}

  /** Resolves after the first successful list; keeps the cache current afterwards. */
  async start(): Promise<void> {
    await this.relist();
    const resyncMs = this.options.resyncMs ?? 5 * 60_000;
    this.resync = setInterval(() => void this.relist().catch((err: unknown) => this.listFailed(err)), resyncMs);
    this.resync.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.resync);
    this.abort?.abort();
  }

  values(): T[] {
    return [...this.objects.values()];
  }

  private async relist(): Promise<void> {
    const generation = ++this.generation;
    this.abort?.abort();
    const listed = await this.options.list();
    this.counts.lists++;
    this.objects.clear();
    for (const item of listed.items) this.objects.set(keyOf(item), item);
    this.synced = true;
    this.failures = 0;
    this.options.onChange?.();
    if (generation === this.generation && !this.stopped) await this.watchFrom(listed.metadata?.resourceVersion ?? '', generation);
  }

  private async watchFrom(resourceVersion: string, generation: number): Promise<void> {
    let gone = false;
    this.abort = await new Watch(this.options.kubeconfig).watch(
      this.options.path,
      { resourceVersion, allowWatchBookmarks: true },
      (phase: string, object: T & { code?: number }) => {
        if (generation !== this.generation) return;
        this.counts.watchEvents++;
        if (phase === 'ADDED' || phase === 'MODIFIED') this.objects.set(keyOf(object), object);
        else if (phase === 'DELETED') this.objects.delete(keyOf(object));
        else if (phase === 'ERROR') gone = object.code === 410;
        if (phase !== 'BOOKMARK' && phase !== 'ERROR') this.options.onChange?.();
      },
      (err: unknown) => {
        if (generation !== this.generation || this.stopped) return;
        // A watch that ends cleanly (server timeout) continues with a fresh list, as after 410 Gone.
        if (err || gone) this.counts.watchErrors++;
        this.retry(err ?? (gone ? new Error('410 Gone: the resourceVersion is too old') : undefined));
      },
    );
  }

  private retry(err: unknown): void {
    if (this.stopped) return;
    if (err) {
      this.options.log.warn('watch ended; listing again', { path: this.options.path, err: kubeFailure(err).message });
    }
    const delay = err ? Math.min(30_000, 500 * 2 ** this.failures++) : 0;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.relist().catch((e: unknown) => this.listFailed(e)), delay);
  }

  private listFailed(err: unknown): void {
    this.synced = false;
    this.retry(err);
  }
}
