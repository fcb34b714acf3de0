// A list-then-watch cache of one resource collection, as client-go's informer:
// list, watch from the list's resourceVersion, and list again when the watch
// fails or the server answers 410 Gone. A periodic resync lists again anyway, so
// a missed event cannot leave the cache wrong for longer than the resync period.
// A watch the client ends for inactivity (client-node: 30 s without data) or the
// server closes continues from the last resourceVersion seen, without a list.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../../../shared/log.js';
import { kubeFailure } from './client.js';
import { backoffMs } from '../../../../shared/retry.js';

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
  /** Limits the watch as `list` is limited, e.g. metadata.name=predictor. */
  fieldSelector?: string;
  /** Limits the watch as `list` is limited, e.g. weir.dev/shard=a. */
  labelSelector?: string;
  log: Logger;
  resyncMs?: number;
  /** Called after every change to the cache. */
  onChange?: () => void;
  /** Every object as listed ('LISTED') or watched ('ADDED', 'MODIFIED', 'DELETED'). */
  onEvent?: (phase: string, object: T) => void;
}

const keyOf = (o: Named) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** A list-then-watch cache of one resource path (see the module comment). */
export class Informer<T extends Named> {
  private readonly objects = new Map<string, T>();
  private abort: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private stopped = false;
  private generation = 0;
  private failures = 0;
  private resourceVersion = '';
  /** True once a list has succeeded; false again while relisting after a failure. */
  synced = false;

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
    this.objects.clear();
    for (const item of listed.items) {
      this.objects.set(keyOf(item), item);
      this.options.onEvent?.('LISTED', item);
    }
    this.synced = true;
    this.failures = 0;
    this.resourceVersion = listed.metadata?.resourceVersion ?? '';
    this.options.onChange?.();
    if (generation === this.generation && !this.stopped) await this.watch(generation);
  }

  private async watch(generation: number): Promise<void> {
    let gone = false;
    this.abort = await new Watch(this.options.kubeconfig).watch(
      this.options.path,
      {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        ...(this.options.fieldSelector ? { fieldSelector: this.options.fieldSelector } : {}),
        ...(this.options.labelSelector ? { labelSelector: this.options.labelSelector } : {}),
      },
      (phase: string, object: T & { code?: number }) => {
        if (generation !== this.generation) return;
        if (phase === 'ERROR') {
          gone = object.code === 410;
          return;
        }
        this.resourceVersion = object.metadata?.resourceVersion ?? this.resourceVersion;
        if (phase === 'BOOKMARK') return;
        if (phase === 'DELETED') this.objects.delete(keyOf(object));
        else this.objects.set(keyOf(object), object);
        this.options.onEvent?.(phase, object);
        this.options.onChange?.();
      },
      (err: unknown) => {
        if (generation !== this.generation || this.stopped) return;
        const quiet = !gone && (!err || (err as { name?: string }).name === 'TimeoutError');
        if (quiet) {
          // Nothing happened for a while, or the server ended the watch: carry on from where it was.
          void this.watch(generation).catch((e: unknown) => this.retry(e));
          return;
        }
        this.retry(gone ? new Error('410 Gone: the resourceVersion is too old') : err);
      },
    );
  }

  private retry(err: unknown): void {
    if (this.stopped) return;
    if (err) {
      this.options.log.warn('watch ended; listing again', { path: this.options.path, err: kubeFailure(err).message });
    }
    const delay = err ? backoffMs(this.failures++, 500, 30_000) : 0;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.relist().catch((e: unknown) => this.listFailed(e)), delay);
  }

  private listFailed(err: unknown): void {
    this.synced = false;
    this.retry(err);
  }
}

/** The namespaces a controller watches, as list scopes: each one, or undefined for all of them. */
export function scopesOf(namespaces: string[] | undefined): (string | undefined)[] {
  return namespaces?.length ? namespaces : [undefined];
}

export interface ScopedInformersOptions<T> {
  kubeconfig: KubeConfig;
  group: string;
  version: string;
  plural: string;
  /** Namespaces to watch; empty or undefined: all of them. */
  namespaces?: string[] | undefined;
  /** Lists one scope (a namespace, or undefined for all), limited as the watch is. */
  list: (namespace: string | undefined) => Promise<Listed<T>>;
  log: Logger;
  labelSelector?: string | undefined;
  resyncMs?: number | undefined;
  onChange?: (() => void) | undefined;
}

/** One collection watched in each chosen namespace (or in all), read as one cache. */
export class ScopedInformers<T extends Named> {
  private readonly informers: Informer<T>[];

  constructor(options: ScopedInformersOptions<T>) {
    const { group, version, plural, labelSelector, resyncMs, onChange } = options;
    this.informers = scopesOf(options.namespaces).map(
      (namespace) =>
        new Informer<T>({
          kubeconfig: options.kubeconfig,
          path: namespace
            ? `/apis/${group}/${version}/namespaces/${namespace}/${plural}`
            : `/apis/${group}/${version}/${plural}`,
          list: () => options.list(namespace),
          log: options.log,
          ...(labelSelector ? { labelSelector } : {}),
          ...(resyncMs ? { resyncMs } : {}),
          ...(onChange ? { onChange } : {}),
        }),
    );
  }

  /** Lists and starts watching; resolves when every scope has been listed once. */
  async start(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.start()));
  }

  stop(): void {
    for (const informer of this.informers) informer.stop();
  }

  get synced(): boolean {
    return this.informers.every((i) => i.synced);
  }

  values(): T[] {
    return this.informers.flatMap((i) => i.values());
  }
}
