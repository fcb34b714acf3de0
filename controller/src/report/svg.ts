// Small SVG charts for the experiment report: self-contained markup, no
// scripts, no fonts or styles from outside. Every data mark carries the class
// "data" so a reader (or a test) can tell a chart with data from an empty frame.

import { formatNumber } from '../../../shared/format.js';

export const COLORS = { stable: '#1f77b4', canary: '#d62728', neutral: '#555', band: '#d0d7de' };

export const esc = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Short, readable numbers for ticks and labels: three significant digits. */
export const fmt = (value: number, digits = 3): string => formatNumber(value, digits);

/** About `count` round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

export interface Range {
  min: number;
  max: number;
}

/** The range of the values, padded a little, and never empty. */
export function rangeOf(values: number[], pad = 0.05, include: number[] = []): Range {
  const all = [...values, ...include].filter(Number.isFinite);
  if (all.length === 0) return { min: 0, max: 1 };
  let min = Math.min(...all);
  let max = Math.max(...all);
  if (min === max) [min, max] = [min - (Math.abs(min) || 1) * 0.1, max + (Math.abs(max) || 1) * 0.1];
  const p = (max - min) * pad;
  return { min: min - p, max: max + p };
}

export interface Frame {
  id: string;
  title: string;
  x: Range & { label: string; format?: (v: number) => string };
  y: Range & { label: string; format?: (v: number) => string };
  width?: number;
  height?: number;
  /** Legend entries, left to right. */
  legend?: { label: string; color: string }[];
}

export type Scale = (v: number) => number;

const MARGIN = { left: 64, right: 16, top: 30, bottom: 42 };

/** A framed chart with axes and ticks; `body` draws the data with the two scales. */
export function chart(frame: Frame, body: (sx: Scale, sy: Scale) => string): string {
  const width = frame.width ?? 640;
  const height = frame.height ?? 240;
  const [x0, x1, y0, y1] = [MARGIN.left, width - MARGIN.right, height - MARGIN.bottom, MARGIN.top];
  const sx: Scale = (v) => x0 + ((v - frame.x.min) / (frame.x.max - frame.x.min)) * (x1 - x0);
  const sy: Scale = (v) => y0 - ((v - frame.y.min) / (frame.y.max - frame.y.min)) * (y0 - y1);
  const fx = frame.x.format ?? fmt;
  const fy = frame.y.format ?? fmt;
  const xTicks = niceTicks(frame.x.min, frame.x.max, 6)
    .map(
      (t) =>
        `<line x1="${sx(t)}" x2="${sx(t)}" y1="${y0}" y2="${y0 + 4}" stroke="#888"/><text x="${sx(t)}" y="${y0 + 16}" text-anchor="middle">${esc(fx(t))}</text>`,
    )
    .join('');
  const yTicks = niceTicks(frame.y.min, frame.y.max, 5)
    .map(
      (t) =>
        `<line x1="${x0}" x2="${x1}" y1="${sy(t)}" y2="${sy(t)}" stroke="#eee"/><text x="${x0 - 6}" y="${sy(t) + 4}" text-anchor="end">${esc(fy(t))}</text>`,
    )
    .join('');
  const legend = (frame.legend ?? [])
    .map(
      (l, i) =>
        `<rect x="${x0 + i * 130}" y="8" width="12" height="12" fill="${l.color}"/><text x="${x0 + i * 130 + 16}" y="18">${esc(l.label)}</text>`,
    )
    .join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="${esc(frame.id)}" role="img" aria-label="${esc(frame.title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(frame.title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`,
    yTicks,
    `<line x1="${x0}" x2="${x1}" y1="${y0}" y2="${y0}" stroke="#888"/><line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y1}" stroke="#888"/>`,
    xTicks,
    `<text x="${(x0 + x1) / 2}" y="${height - 6}" text-anchor="middle">${esc(frame.x.label)}</text>`,
    `<text transform="translate(12 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">${esc(frame.y.label)}</text>`,
    legend,
    `<g class="plot">${body(sx, sy)}</g>`,
    '</svg>',
  ].join('');
}

/** A polyline through the points (step: hold each value until the next x). */
export function line(points: [number, number][], sx: Scale, sy: Scale, color: string, step = false): string {
  if (points.length === 0) return '';
  const coords: string[] = [];
  points.forEach(([x, y], i) => {
    if (step && i > 0) coords.push(`${sx(x)},${sy(points[i - 1]![1])}`);
    coords.push(`${sx(x)},${sy(y)}`);
  });
  return `<polyline class="data" fill="none" stroke="${color}" stroke-width="2" points="${coords.join(' ')}"/>`;
}

export function dots(points: [number, number][], sx: Scale, sy: Scale, color: string, titles?: string[]): string {
  return points
    .map(
      ([x, y], i) =>
        `<circle class="data" cx="${sx(x)}" cy="${sy(y)}" r="3.5" fill="${color}" fill-opacity="0.8">${titles?.[i] ? `<title>${esc(titles[i]!)}</title>` : ''}</circle>`,
    )
    .join('');
}

/** One look of a forest chart: an estimate, its interval, a label drawn beside it and a tooltip. */
export interface ForestLook {
  effect: number;
  ci: [number, number];
  label: string;
  title: string;
}

/**
 * A forest chart: each look's estimate (a dot) and interval (a line), first at
 * the top, against the zero line and dashed ±minEffect guides. Interval ends
 * are clamped to ±1e6 so an unbounded interval still draws.
 */
export function forestChart(options: {
  id: string;
  title: string;
  label: string;
  minEffect: number;
  looks: ForestLook[];
}): string {
  const { looks, minEffect } = options;
  const bounded = (v: number) => Math.max(-1e6, Math.min(1e6, v));
  const xs = looks.flatMap((l) => [bounded(l.ci[0]), bounded(l.ci[1]), l.effect]);
  const xRange = rangeOf(xs, 0.08, [0, minEffect, -minEffect]);
  return chart(
    {
      id: options.id,
      title: options.title,
      height: 80 + looks.length * 34,
      x: { ...xRange, label: options.label },
      y: { min: 0, max: looks.length + 1, label: 'decision', format: () => '' },
    },
    (sx, sy) => {
      const guides = [0, minEffect, -minEffect]
        .filter((v, i, all) => all.indexOf(v) === i)
        .map(
          (v) =>
            `<line x1="${sx(v)}" x2="${sx(v)}" y1="${sy(0)}" y2="${sy(looks.length + 1)}" stroke="${v === 0 ? '#888' : '#bbb'}" stroke-dasharray="${v === 0 ? '' : '4 3'}"/>`,
        )
        .join('');
      const rows = looks.map((look, i) => {
        const y = sy(looks.length - i);
        return `<line class="data" x1="${sx(bounded(look.ci[0]))}" x2="${sx(bounded(look.ci[1]))}" y1="${y}" y2="${y}" stroke="${COLORS.canary}" stroke-width="2"/>${dots([[look.effect, looks.length - i]], sx, sy, COLORS.canary, [look.title])}<text x="${sx(xRange.min) + 4}" y="${y - 6}">${esc(look.label)}</text>`;
      });
      return guides + rows.join('');
    },
  );
}
