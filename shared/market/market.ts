// A deterministic synthetic market: a log-price walk that switches between a
// trending regime (momentum) and a ranging regime (mean reversion, higher
// volatility). Direction is predictable, but how depends on the regime, which a
// linear model cannot see and a small MLP can.
import { gaussian, seededRandom } from '../random.js';

export interface MarketBar {
  price: number;
  volume: number;
  /** 0 = trending, 1 = mean-reverting. Hidden from models; kept for analysis. */
  regime: 0 | 1;
}

export interface MarketOptions {
  seed: number;
  length: number;
}

const SWITCH_PROBABILITY = 0.01;
const TREND = { momentum: 0.35, volatility: 0.006 };
const RANGE = { reversal: -0.4, pull: 0.25, volatility: 0.014 };

/** A deterministic synthetic market: a log-price walk switching between trending and ranging regimes. */
export function generateMarket({ seed, length }: MarketOptions): MarketBar[] {
  const uniform = seededRandom(seed);
  const normal = gaussian(uniform);
  const bars: MarketBar[] = [];
  let logPrice = Math.log(100);
  let lastReturn = 0;
  let regime: 0 | 1 = 0;
  const recent: number[] = [];
  for (let t = 0; t < length; t++) {
    if (uniform() < SWITCH_PROBABILITY) regime = regime === 0 ? 1 : 0;
    recent.push(logPrice);
    if (recent.length > 20) recent.shift();
    const anchor = recent.reduce((sum, value) => sum + value, 0) / recent.length;
    const ret =
      regime === 0
        ? TREND.momentum * lastReturn + TREND.volatility * normal()
        : RANGE.reversal * lastReturn - RANGE.pull * (logPrice - anchor) + RANGE.volatility * normal();
    logPrice += ret;
    lastReturn = ret;
    const volume = Math.exp(10 + (regime === 1 ? 0.4 : 0) + 25 * Math.abs(ret) + 0.2 * normal());
    bars.push({ price: Math.exp(logPrice), volume, regime });
  }
  return bars;
}
