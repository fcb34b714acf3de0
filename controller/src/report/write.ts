// Collect, render and write one report: shared by `weir report` and `weir demo`.
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDuration } from '../../../shared/duration.js';
import type { ModelRollout } from '../api/schema.js';
import { PrometheusMetrics } from '../providers/prometheus/provider.js';
import { collectReport, type ReportData } from './collect.js';
import { renderHtml, renderMarkdown } from './render.js';
import { UsageError } from '../../../shared/errors.js';

export type ReportFormat = 'md' | 'html';

export interface ReportOptions {
  format?: ReportFormat;
  out?: string;
  prometheus?: string;
  window?: string;
}

/** The format asked for, else the one --out's extension names, else Markdown. */
export function reportFormat(options: { format?: string; out?: string }): ReportFormat {
  if (options.format !== undefined) {
    if (options.format !== 'md' && options.format !== 'html')
      throw new UsageError(`--format: "${options.format}" is not a report format; expected md or html`);
    return options.format;
  }
  return options.out && /\.html?$/i.test(options.out) ? 'html' : 'md';
}

/** Collects and renders; writes --out through a temporary file, so a crash never leaves half a report. */
export async function writeReport(
  rollout: ModelRollout,
  options: ReportOptions,
): Promise<{ data: ReportData; text: string; format: ReportFormat }> {
  const format = reportFormat(options);
  const windowSeconds = options.window ? parseDuration(options.window) / 1000 : undefined;
  if (windowSeconds !== undefined && !(windowSeconds >= 1))
    throw new UsageError(`--window: "${options.window}" is shorter than 1s`);
  const data = await collectReport(rollout, {
    ...(options.prometheus
      ? { prometheus: new PrometheusMetrics({ url: options.prometheus, timeoutMs: 10_000, retries: 1 }) }
      : {}),
    ...(windowSeconds ? { windowSeconds: Math.round(windowSeconds) } : {}),
  });
  const text = format === 'html' ? renderHtml(data) : renderMarkdown(data);
  if (options.out) {
    const temporary = path.join(path.dirname(options.out), `.${path.basename(options.out)}.${process.pid}.tmp`);
    await writeFile(temporary, text);
    await rename(temporary, options.out);
  }
  return { data, text, format };
}
