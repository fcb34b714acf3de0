// Sends market feature rows through the gateway at a steady rate, then their
// ground truth (label and realized return) through the gateway too, after a
// delay: the way a trading system learns how its predictions turned out. The
// label reaches whichever replica of whichever version the route picks; the
// shared prediction log finds every version's prediction of that request.
import { generateMarket } from '../../../../shared/market/market.js';
import { labelledRows, type LabelledRow } from '../../../../shared/market/features.js';
import { sleep } from '../../../../shared/wait.js';

export interface LoadStats {
  sent: number;
  ok: number;
  /** Non-2xx answers and transport errors, for predictions and feedback alike. */
  failed: number;
  byVersion: Record<
    string,
    { requests: number; latencies: number[]; labelled: number; correct: number; value: number }
  >;
}

export interface LoadGeneratorOptions {
  gatewayUrl: string;
  model: string;
  ratePerSecond: number;
  feedbackDelayMs: number;
  seed: number;
}

/** Sends predictions through the gateway at a steady rate, and each one's ground truth after a delay, as a client would. */
export class LoadGenerator {
  readonly stats: LoadStats = { sent: 0, ok: 0, failed: 0, byVersion: {} };
  private readonly rows: LabelledRow[];
  private timer: NodeJS.Timeout | undefined;
  private readonly pending = new Set<Promise<void>>();
  private next = 0;

  constructor(private readonly options: LoadGeneratorOptions) {
    this.rows = labelledRows(generateMarket({ seed: options.seed, length: 20_000 }));
  }

  start(): void {
    const intervalMs = 20;
    const perTick = (this.options.ratePerSecond * intervalMs) / 1000;
    let owed = 0;
    this.timer = setInterval(() => {
      owed += perTick;
      while (owed >= 1) {
        owed -= 1;
        this.track(this.one(this.rows[this.next++ % this.rows.length]!));
      }
    }, intervalMs);
  }

  /** Stops sending and waits for every prediction and feedback in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private track(work: Promise<void>): void {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  private version(name: string) {
    return (this.stats.byVersion[name] ??= { requests: 0, latencies: [], labelled: 0, correct: 0, value: 0 });
  }

  private async one(row: LabelledRow): Promise<void> {
    this.stats.sent++;
    const started = performance.now();
    let version: string;
    let id: string;
    let predicted: number;
    try {
      const response = await fetch(`${this.options.gatewayUrl}/v2/models/${this.options.model}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          inputs: [{ name: 'features', shape: [1, row.features.length], datatype: 'FP64', data: row.features }],
        }),
      });
      if (!response.ok) {
        this.stats.failed++;
        await response.body?.cancel();
        return;
      }
      const body = (await response.json()) as {
        id: string;
        model_version: string;
        outputs: { name: string; data: number[] }[];
      };
      version = body.model_version;
      id = body.id;
      predicted = body.outputs.find((o) => o.name === 'label')!.data[0]!;
    } catch {
      this.stats.failed++;
      return;
    }
    this.stats.ok++;
    const stats = this.version(version);
    stats.requests++;
    stats.latencies.push(performance.now() - started);
    await sleep(this.options.feedbackDelayMs);
    try {
      // A 503 (the prediction log unreachable) says when to retry; a client retries then.
      let response: Response;
      for (let attempt = 0; ; attempt++) {
        response = await fetch(`${this.options.gatewayUrl}/v2/models/${this.options.model}/feedback`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id, label: row.label, return: row.nextReturn }),
        });
        if (response.status !== 503 || attempt >= 3) break;
        await response.body?.cancel();
        await sleep(1000 * Number(response.headers.get('retry-after') ?? 1));
      }
      await response.body?.cancel();
      if (!response.ok) {
        this.stats.failed++;
        return;
      }
      stats.labelled++;
      if (predicted === row.label) stats.correct++;
      stats.value += predicted === 1 ? row.nextReturn : -row.nextReturn;
    } catch {
      this.stats.failed++;
    }
  }
}
