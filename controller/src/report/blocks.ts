// The report's content as format-neutral blocks, and the small number
// formats every section uses. Each section (sections/) builds its blocks from
// the report data; render.ts turns blocks into Markdown or HTML.
import { fmt } from './svg.js';

export type Block =
  | { kind: 'heading'; level: 1 | 2 | 3; text: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'table'; header: string[]; rows: string[][] }
  | { kind: 'chart'; svg: string; alt: string };

export const seconds = (ms: number) => `${fmt(ms / 1000)} s`;
export const pct = (x: number, digits = 2) => `${(x * 100).toFixed(digits)}%`;
export const interval = (ci: number[] | undefined) =>
  ci && ci.length === 2 ? `[${fmt(ci[0]!)}, ${fmt(ci[1]!)}]` : '-';
export const duration = (s: number) =>
  Number.isFinite(s)
    ? s < 120
      ? `${Math.ceil(s)} s`
      : s < 7200
        ? `${fmt(s / 60, 2)} min`
        : `${fmt(s / 3600, 2)} h`
    : 'never (no traffic)';
