// Prediction cache: LRU with a TTL, keyed by the load that computed it and the
// exact input bytes, so a swapped-in model (another version, or the same
// version loaded again from changed files) never answers from old entries.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { OutputTensor } from './model.js';
import type { InputArray } from './tensor.js';

export interface CacheOptions {
  maxEntries: number;
  ttlMs: number;
}

/** Inputs up to this many bytes are used as the key directly; longer ones are hashed. */
const INLINE_KEY_BYTES = 512;

/** `load` identifies one loaded model (LoadedModel.loadId), not merely its version name. */
export function cacheKey(load: string, values: InputArray): string {
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const digest =
    bytes.length <= INLINE_KEY_BYTES ? bytes.toString('base64') : createHash('sha256').update(bytes).digest('base64');
  return `${load}\u0000${values.constructor.name}\u0000${values.length}\u0000${digest}`;
}

/** An LRU of answers with a TTL, keyed by the model's load and the input bytes. */
export class PredictionCache {
  private readonly entries: LRUCache<string, OutputTensor[]> | undefined;

  constructor(options: CacheOptions) {
    this.entries =
      options.maxEntries > 0
        ? new LRUCache({ max: options.maxEntries, ttl: options.ttlMs > 0 ? options.ttlMs : undefined })
        : undefined;
  }

  get enabled(): boolean {
    return this.entries !== undefined;
  }

  get size(): number {
    return this.entries?.size ?? 0;
  }

  get(key: string): OutputTensor[] | undefined {
    return this.entries?.get(key);
  }

  /** Drops every entry (after a swap, the old model's answers can no longer be reached, so they need not wait for the LRU). */
  clear(): void {
    this.entries?.clear();
  }

  set(key: string, outputs: OutputTensor[]): void {
    // Copy the slices: they may be views into a whole batch's output buffer.
    this.entries?.set(
      key,
      outputs.map((o) => ({ ...o, data: Array.from(o.data as ArrayLike<number>) })),
    );
  }
}
