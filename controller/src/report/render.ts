// The experiment report of one rollout, as Markdown or as one HTML file with
// inline SVG charts. The content is built once as blocks (sections/); each
// format renders the same blocks. Nothing refers to an outside asset, and no
// script runs.
import { seconds, type Block } from './blocks.js';
import type { ReportData } from './collect.js';
import { analysisBlocks } from './sections/analysis.js';
import { businessBlocks } from './sections/business.js';
import { correlationBlocks } from './sections/correlation.js';
import { designBlocks } from './sections/design.js';
import { experimentBlocks } from './sections/experiment.js';
import { seriesBlocks } from './sections/series.js';
import { timelineBlocks } from './sections/timeline.js';
import { esc } from './svg.js';
import { formatSplit } from '../../../shared/format.js';
import { candidateVersions } from '../api/schema.js';

/** The whole report as blocks: the title, the six sections, and what it left out. */
export function reportBlocks(data: ReportData): Block[] {
  const { rollout } = data;
  const { spec, status } = rollout;
  const name =
    rollout.metadata.namespace && rollout.metadata.namespace !== 'local'
      ? `${rollout.metadata.namespace}/${rollout.metadata.name}`
      : rollout.metadata.name;
  return [
    { kind: 'heading', level: 1, text: `Experiment report: ${name}` },
    {
      kind: 'paragraph',
      text: `Model ${spec.model}: ${spec.strategy.experiment ? `${spec.stable.version} (control) against ${candidateVersions(spec).join(', ')}` : `${spec.stable.version} (stable) → ${spec.canary.version} (canary)`}. ${
        status!.startedAt
          ? `${status!.phase} after ${seconds((data.span.end - data.span.start) * 1000)}, attempt ${status!.attempt}, ${
              status!.weights ? `split ${formatSplit(status!.weights)}` : `canary at ${status!.canaryWeight}%`
            }`
          : `${status!.phase}: not started yet`
      }. Generated ${data.generatedAt} by weir report.`,
    },
    ...designBlocks(data),
    ...timelineBlocks(data),
    ...experimentBlocks(data),
    ...analysisBlocks(data),
    ...businessBlocks(data),
    ...seriesBlocks(data),
    ...correlationBlocks(data),
    ...(data.notes.length
      ? [
          { kind: 'heading', level: 2, text: 'Not in this report' } as Block,
          { kind: 'list', items: data.notes } as Block,
        ]
      : []),
  ];
}

/** The report as Markdown; charts are SVG images in data URIs, so the file stays self-contained. */
const mdCell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The report as Markdown; charts are SVG images in data URIs, so the file stays self-contained. */
export function renderMarkdown(data: ReportData): string {
  return `${reportBlocks(data)
    .map((b) => {
      switch (b.kind) {
        case 'heading':
          return `${'#'.repeat(b.level)} ${b.text}`;
        case 'paragraph':
          return b.text;
        case 'list':
          return b.items.map((i) => `- ${i}`).join('\n');
        case 'table':
          return [b.header, b.header.map(() => '---'), ...b.rows]
            .map((r) => `| ${r.map(mdCell).join(' | ')} |`)
            .join('\n');
        case 'chart':
          // An image in a data URI: the Markdown file stays self-contained.
          return `![${b.alt}](data:image/svg+xml;base64,${Buffer.from(b.svg).toString('base64')})`;
      }
    })
    .join('\n\n')}\n`;
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}h1{font-size:1.6em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:2em}svg.chart{display:block;max-width:100%;height:auto}figure{margin:1em 0}figcaption{font-size:13px;color:#555}`;

/** The report as one HTML file: inline SVG, a CSP forbidding any outside fetch or script. */
export function renderHtml(data: ReportData): string {
  const blocks = reportBlocks(data);
  const title = blocks[0]!.kind === 'heading' ? blocks[0]!.text : 'weir report';
  const body = blocks
    .map((b) => {
      switch (b.kind) {
        case 'heading':
          return `<h${b.level}>${esc(b.text)}</h${b.level}>`;
        case 'paragraph':
          return `<p>${esc(b.text)}</p>`;
        case 'list':
          return `<ul>${b.items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>`;
        case 'table':
          return `<table><thead><tr>${b.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${b.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
        case 'chart':
          return `<figure>${b.svg}<figcaption>${esc(b.alt)}</figcaption></figure>`;
      }
    })
    .join('\n');
  // The CSP forbids every outside fetch and any script: the file is the whole report.
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"><title>${esc(title)}</title><style>${STYLE}</style></head><body>\n${body}\n</body></html>\n`;
}
