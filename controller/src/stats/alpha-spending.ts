// Group-sequential boundaries by Lan–DeMets alpha spending, the alternative to
// mSPRT: α is spent as information accrues, so repeated looks keep the overall
// two-sided type I error at α.
import { checkAlpha, normalCdf, normalQuantile } from './distributions.js';

export type SpendingFunction = 'obrien-fleming' | 'pocock';

/** Cumulative two-sided α spent by information fraction t ∈ (0, 1]. */
export function alphaSpent(kind: SpendingFunction, alpha: number, t: number): number {
  const fraction = Math.min(1, Math.max(0, t));
  if (fraction === 0) return 0;
  if (kind === 'obrien-fleming') return 2 - 2 * normalCdf(normalQuantile(1 - alpha / 2) / Math.sqrt(fraction));
  return alpha * Math.log(1 + (Math.E - 1) * fraction);
}

/** What carries over between looks. Start with `{ looks: [] }`. */
export interface SpendingState {
  looks: { fraction: number; boundary: number }[];
}

export interface SpendingLook {
  /** Two-sided critical |z| at this look. */
  boundary: number;
  /** α spent up to and including this look. */
  spent: number;
  state: SpendingState;
}

// Brownian-motion formulation: the score S(t) = Z(t)·√t has independent
// N(0, Δt) increments. The sub-density of S at the previous look, restricted to
// the continuation region, is kept on a grid and pushed forward by numerical
// integration (Armitage, McPherson & Rowe 1969; Jennison & Turnbull,
// Group Sequential Methods, 2000, ch. 19).
const GRID = 201;

function density(x: number, variance: number): number {
  return Math.exp((-x * x) / (2 * variance)) / Math.sqrt(2 * Math.PI * variance);
}

/** Simpson weights for an odd number of equally spaced points. */
function simpson(points: number, step: number): number[] {
  return Array.from({ length: points }, (_, i) => ((i === 0 || i === points - 1 ? 1 : i % 2 === 1 ? 4 : 2) * step) / 3);
}

interface Continuation {
  grid: number[];
  weights: number[];
  /** Sub-density of S(t) on the grid: paths that have not crossed yet. */
  values: number[];
  fraction: number;
}

function crossingProbability(previous: Continuation | undefined, fraction: number, b: number): number {
  if (!previous) return 2 * normalCdf(-b / Math.sqrt(fraction));
  const sd = Math.sqrt(fraction - previous.fraction);
  let total = 0;
  for (let i = 0; i < previous.grid.length; i++) {
    const s = previous.grid[i]!;
    total += previous.weights[i]! * previous.values[i]! * (normalCdf((-b - s) / sd) + normalCdf((s - b) / sd));
  }
  return total;
}

function continueRegion(previous: Continuation | undefined, fraction: number, b: number): Continuation {
  const step = (2 * b) / (GRID - 1);
  const grid = Array.from({ length: GRID }, (_, i) => -b + i * step);
  const weights = simpson(GRID, step);
  const values = grid.map((x) => {
    if (!previous) return density(x, fraction);
    const variance = fraction - previous.fraction;
    let sum = 0;
    for (let i = 0; i < previous.grid.length; i++)
      sum += previous.weights[i]! * previous.values[i]! * density(x - previous.grid[i]!, variance);
    return sum;
  });
  return { grid, weights, values, fraction };
}

// Each look's continuation density depends on every look before it; callers
// extend the same sequence one look at a time, so memoizing by the sequence
// makes every new look one O(GRID²) step. Results are identical without it.
const REGION_CACHE = new Map<string, Continuation>();
const REGION_CACHE_LIMIT = 512;

function regionAfter(looks: SpendingState['looks']): Continuation | undefined {
  if (looks.length === 0) return undefined;
  const key = looks.map((l) => `${l.fraction}:${l.boundary}`).join('|');
  let region = REGION_CACHE.get(key);
  if (!region) {
    const last = looks.at(-1)!;
    region = continueRegion(regionAfter(looks.slice(0, -1)), last.fraction, last.boundary * Math.sqrt(last.fraction));
    if (REGION_CACHE.size >= REGION_CACHE_LIMIT) REGION_CACHE.delete(REGION_CACHE.keys().next().value!);
    REGION_CACHE.set(key, region);
  }
  return region;
}

/**
 * The boundary for a new look at information fraction `fraction` (0 < t ≤ 1,
 * rising across looks), given the looks before it. It solves, by bisection,
 *   P(no crossing before, |Z(t)| ≥ c) = α(t) − α(t_prev).
 * Lan & DeMets (1983), Biometrika 70:659–663. O'Brien–Fleming-type spending is
 * strict early and near α at the end; Pocock-type spends evenly.
 */
export function nextBoundary(
  kind: SpendingFunction,
  alpha: number,
  state: SpendingState,
  fraction: number,
): SpendingLook {
  checkAlpha(alpha);
  const last = state.looks.at(-1);
  if (!(fraction > 0 && fraction <= 1))
    throw new RangeError(`fraction: ${fraction} is not an information fraction in (0, 1]`);
  if (last && fraction <= last.fraction)
    throw new RangeError(`fraction: ${fraction} does not rise above the previous look's ${last.fraction}`);
  const region = regionAfter(state.looks);
  const target = alphaSpent(kind, alpha, fraction) - alphaSpent(kind, alpha, last?.fraction ?? 0);
  // Crossing probability falls as the boundary rises: bisect on the z scale.
  let lo = 0;
  let hi = 40;
  for (let iter = 0; iter < 55; iter++) {
    const mid = (lo + hi) / 2;
    if (crossingProbability(region, fraction, mid * Math.sqrt(fraction)) > target) lo = mid;
    else hi = mid;
  }
  const boundary = (lo + hi) / 2;
  return {
    boundary,
    spent: alphaSpent(kind, alpha, fraction),
    state: { looks: [...state.looks, { fraction, boundary }] },
  };
}
