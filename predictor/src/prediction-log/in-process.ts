// The embedded prediction log: one process's recent predictions, bounded in
// count and age, for a predictor that runs alone. Every operation is O(1).
//
// It is laid out for a predictor under constant load, where every request adds
// an entry and evicts the oldest (issue 16):
// - A ring of slots keeps arrival order; the oldest slot is overwritten when
//   full. A Map alone used as a FIFO is not O(1): V8 leaves a hole for each
//   deleted entry until the table is rebuilt, and `keys().next()` walks over
//   every hole, so a full store got slower with each eviction (32.7k → 6.0k
//   req/s in 30 s at 200,000 entries).
// - The common entry (one version's prediction of one row) lives in typed
//   arrays, one column per field, not in objects: an object per entry (the
//   entry, its request, its predictions array, a claims Set, two number
//   arrays) cost about 1 KB each, 200 MB live at 200,000 entries, and each
//   evicted one was old-generation garbage, so a full store's RSS grew by
//   ~270 MB a minute at 29k req/s. Now an entry is its id string, a Map slot
//   and 33 bytes of columns. Several rows, a second version (a shadow's) and
//   claims, rarer, go to a side table keyed by slot.
// - An open-addressing hash table of slot numbers (an Int32Array, linear
//   probing, deletion by backward shift) finds an id's slot. A Map did it before,
//   but under constant churn (one insert and one delete per request) V8 rebuilds
//   a 200,000-entry Map's table every few seconds, megabytes of garbage each time.
import { expiredGraceMs, type LoggedPrediction, type LoggedRequest, type PredictionLog } from './log.js';

/** What does not fit the columns: every prediction of the id, and its claims. */
interface Extra {
  /** All of the id's predictions, when there are several rows or versions; else the columns hold the one. */
  predictions?: LoggedPrediction[];
  claimed?: Set<string>;
}

/** The embedded prediction log (see the module comment). */
export class InProcessLog implements PredictionLog {
  /** Slot + 1 of each id, by hash (0: empty); twice the capacity, rounded up to a power of two. */
  private readonly index: Int32Array;
  private readonly mask: number;
  private readonly ids: (string | undefined)[];
  /** When the slot's entry is dropped: the feedback TTL plus the grace in which late feedback is told "expired". */
  private readonly dropAt: Float64Array;
  private readonly at: Float64Array;
  private readonly output: Float64Array;
  /** NaN: the prediction has no probability. */
  private readonly probability: Float64Array;
  /** Index into `versions`. */
  private readonly version: Uint16Array;
  private readonly extra = new Map<number, Extra>();
  /** Version names, each once. */
  private readonly versions: string[] = [];
  private readonly versionIndex = new Map<string, number>();
  /** Next slot to write; the slot after the newest. */
  private head = 0;
  /** Oldest slot still in use. */
  private tail = 0;
  private used = 0;
  private readonly keepMs: number;

  constructor(
    private readonly maxEntries: number,
    ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    const capacity = Math.max(1, maxEntries);
    this.ids = new Array<string | undefined>(capacity);
    let size = 2;
    while (size < capacity * 2) size *= 2;
    this.index = new Int32Array(size);
    this.mask = size - 1;
    this.dropAt = new Float64Array(capacity);
    this.at = new Float64Array(capacity);
    this.output = new Float64Array(capacity);
    this.probability = new Float64Array(capacity);
    this.version = new Uint16Array(capacity);
    this.keepMs = ttlMs + expiredGraceMs(ttlMs);
  }

  get size(): number {
    return this.used;
  }

  record(id: string, prediction: LoggedPrediction): void {
    if (this.maxEntries === 0) return;
    const now = this.now();
    this.dropExpired(now);
    const existing = this.find(id);
    if (existing !== undefined) {
      // Another version's prediction of the same request (a shadow's) joins it. The same version
      // again under this id (a client's reused id) is ignored: the first prediction stays, as in
      // Redis (HSETNX), so nothing already logged or claimed can be replaced.
      const predictions = this.predictionsAt(existing);
      if (predictions.some((p) => p.version === prediction.version)) return;
      const extra = this.extra.get(existing) ?? {};
      extra.predictions = [...predictions, prediction];
      this.extra.set(existing, extra);
      return;
    }
    if (this.used === this.ids.length) this.dropOldest();
    const slot = this.head;
    this.head = (this.head + 1) % this.ids.length;
    this.used++;
    this.ids[slot] = id;
    this.insert(id, slot);
    this.dropAt[slot] = now + this.keepMs;
    const { outputs, probabilities } = prediction;
    const versionsFit = this.versions.length < 0xffff || this.versionIndex.has(prediction.version);
    const oneProbability =
      probabilities === undefined || (probabilities.length === 1 && !Number.isNaN(probabilities[0]));
    if (outputs.length === 1 && oneProbability && versionsFit) {
      this.version[slot] = this.indexOf(prediction.version);
      this.at[slot] = prediction.at;
      this.output[slot] = outputs[0]!;
      this.probability[slot] = probabilities === undefined ? NaN : probabilities[0]!;
    } else {
      this.extra.set(slot, { predictions: [prediction] });
    }
  }

  lookup(ids: string[]): Promise<Map<string, LoggedRequest | undefined>> {
    const now = this.now();
    return Promise.resolve(
      new Map(
        ids.map((id) => {
          const slot = this.find(id);
          if (slot === undefined || this.dropAt[slot]! <= now) return [id, undefined];
          return [id, { predictions: this.predictionsAt(slot), claimed: this.extra.get(slot)?.claimed ?? new Set() }];
        }),
      ),
    );
  }

  claim(claims: { id: string; key: string }[]): Promise<boolean[]> {
    return Promise.resolve(
      claims.map(({ id, key }) => {
        const slot = this.find(id);
        if (slot === undefined) return false;
        let extra = this.extra.get(slot);
        if (extra?.claimed?.has(key)) return false;
        if (!extra) this.extra.set(slot, (extra = {}));
        (extra.claimed ??= new Set()).add(key);
        return true;
      }),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Every prediction of the slot's id, as the contract gives them (fresh arrays: callers may keep them). */
  private predictionsAt(slot: number): LoggedPrediction[] {
    const listed = this.extra.get(slot)?.predictions;
    if (listed) return listed;
    const probability = this.probability[slot]!;
    return [
      {
        version: this.versions[this.version[slot]!]!,
        outputs: [this.output[slot]!],
        probabilities: Number.isNaN(probability) ? undefined : [probability],
        at: this.at[slot]!,
      },
    ];
  }

  private indexOf(version: string): number {
    let index = this.versionIndex.get(version);
    if (index === undefined) {
      index = this.versions.push(version) - 1;
      this.versionIndex.set(version, index);
    }
    return index;
  }

  private dropOldest(): void {
    const slot = this.tail;
    const id = this.ids[slot];
    this.ids[slot] = undefined;
    this.extra.delete(slot);
    this.tail = (this.tail + 1) % this.ids.length;
    this.used--;
    if (id !== undefined) this.remove(id, slot);
  }

  /** FNV-1a over the id's UTF-16 code units, as a table position. */
  private home(id: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    return (h >>> 0) & this.mask;
  }

  /** The slot holding `id`, if any. */
  private find(id: string): number | undefined {
    for (let at = this.home(id); ; at = (at + 1) & this.mask) {
      const entry = this.index[at]!;
      if (entry === 0) return undefined;
      if (this.ids[entry - 1] === id) return entry - 1;
    }
  }

  private insert(id: string, slot: number): void {
    let at = this.home(id);
    while (this.index[at] !== 0) at = (at + 1) & this.mask;
    this.index[at] = slot + 1;
  }

  /** Removes `id`'s entry for `slot`, shifting later entries of its probe run back so no lookup stops early. */
  private remove(id: string, slot: number): void {
    let at = this.home(id);
    while (this.index[at] !== slot + 1) {
      if (this.index[at] === 0) return;
      at = (at + 1) & this.mask;
    }
    let gap = at;
    for (let next = (gap + 1) & this.mask; this.index[next] !== 0; next = (next + 1) & this.mask) {
      const home = this.home(this.ids[this.index[next]! - 1]!);
      // The entry at `next` may move into the gap only if its home is not within (gap, next].
      const between = gap <= next ? home > gap && home <= next : home > gap || home <= next;
      if (!between) {
        this.index[gap] = this.index[next]!;
        gap = next;
      }
    }
    this.index[gap] = 0;
  }

  /** Entries live equally long, so the expired ones are the oldest: drop them from the tail. */
  private dropExpired(now: number): void {
    while (this.used > 0 && this.dropAt[this.tail]! <= now) this.dropOldest();
  }
}
