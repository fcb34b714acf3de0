// Feature engineering for the price-direction model. The same code builds the
// training set and the live rows the load generator sends, so they never drift.
import type { MarketBar } from './market.js';

export const FEATURE_NAMES = [
  'return_1',
  'return_2',
  'return_3',
  'return_5',
  'sma_ratio_5_20',
  'price_to_sma_10',
  'rsi_14',
  'volume_change_1',
  'volatility_10',
] as const;

export const FEATURE_COUNT = FEATURE_NAMES.length;
/** Bars of history a feature row needs before index t. */
export const WARMUP = 21;

export interface LabelledRow {
  /** Index of the bar the features describe (information up to and including t). */
  t: number;
  features: number[];
  /** 1 when the next period's price goes up. */
  label: 0 | 1;
  /** The next period's log return: what a position taken at t earns. */
  nextReturn: number;
}

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function logReturn(bars: MarketBar[], t: number, lag = 1): number {
  return Math.log(bars[t]!.price / bars[t - lag]!.price);
}

/** Relative strength index over `period` returns (Wilder's definition, simple averages), scaled to 0..1. */
function rsi(bars: MarketBar[], t: number, period: number): number {
  let gains = 0;
  let losses = 0;
  for (let i = t - period + 1; i <= t; i++) {
    const change = bars[i]!.price - bars[i - 1]!.price;
    if (change > 0) gains += change;
    else losses -= change;
  }
  if (gains + losses === 0) return 0.5;
  return gains / (gains + losses);
}

function sma(bars: MarketBar[], t: number, period: number): number {
  return mean(bars.slice(t - period + 1, t + 1).map((bar) => bar.price));
}

/** The feature row for bar t. Needs t >= WARMUP. */
export function featuresAt(bars: MarketBar[], t: number): number[] {
  if (t < WARMUP || t >= bars.length)
    throw new RangeError(`featuresAt: t=${t} must be in [${WARMUP}, ${bars.length - 1}]`);
  const returns10 = Array.from({ length: 10 }, (_, k) => logReturn(bars, t - k));
  const average = mean(returns10);
  const volatility = Math.sqrt(mean(returns10.map((r) => (r - average) ** 2)));
  return [
    logReturn(bars, t),
    logReturn(bars, t - 1),
    logReturn(bars, t - 2),
    logReturn(bars, t, 5),
    sma(bars, t, 5) / sma(bars, t, 20) - 1,
    bars[t]!.price / sma(bars, t, 10) - 1,
    rsi(bars, t, 14),
    Math.log(bars[t]!.volume / bars[t - 1]!.volume),
    volatility,
  ];
}

/** Every labelled row of a market: features at t, direction of t → t+1. */
export function labelledRows(bars: MarketBar[]): LabelledRow[] {
  const rows: LabelledRow[] = [];
  for (let t = WARMUP; t < bars.length - 1; t++) {
    const nextReturn = logReturn(bars, t + 1);
    rows.push({ t, features: featuresAt(bars, t), label: nextReturn > 0 ? 1 : 0, nextReturn });
  }
  return rows;
}
