// `weir report NAME`: the experiment report of one rollout, as Markdown or as a
// self-contained HTML file with SVG charts.
import type { Command } from 'commander';
import { reportFormat, writeReport, type ReportOptions } from '../report/write.js';
import { open, withStore, type Common } from './rollouts.js';

/** Adds `weir report NAME`. */
export function registerReportCommand(program: Command): void {
  withStore(
    program
      .command('report')
      .argument('<name>', 'rollout name')
      .description(
        'write the experiment report of a rollout: design, stage timeline, every verdict with effect, CI, p-value and boundary, business impact, and how model metrics track business value',
      ),
  )
    .option('--format <format>', 'md or html (default: html when --out ends in .html, else md)')
    .option('--out <file>', 'write the report here (default: standard output)')
    .option(
      '--prometheus <url>',
      'Prometheus for the time series, the correlation and the business impact (default: WEIR_PROMETHEUS_URL; without one those sections are left out)',
    )
    .option(
      '--window <duration>',
      'length of the windows the correlation pairs up (default: the larger of the analysis interval, 1/20 of the rollout, and 5s)',
    )
    .addHelpText(
      'after',
      '\nThe HTML file has inline SVG charts and no outside assets or scripts: open it anywhere, mail it, archive it.\n\nExamples:\n  weir report price-direction --local rollouts/ --prometheus http://127.0.0.1:9090 --out report.html\n  weir report price-direction -n models --prometheus http://prometheus.monitoring:9090 > report.md',
    )
    .action(async (name: string, options: Common & ReportOptions) => {
      reportFormat(options);
      const { rollout } = await open(options).get(name);
      const prometheus = options.prometheus ?? process.env.WEIR_PROMETHEUS_URL;
      const { data, text, format } = await writeReport(rollout, { ...options, ...(prometheus ? { prometheus } : {}) });
      if (options.json) return void process.stdout.write(`${JSON.stringify(data)}\n`);
      if (!options.out) return void process.stdout.write(text);
      process.stderr.write(
        `wrote the ${format === 'html' ? 'HTML' : 'Markdown'} report of ${name} to ${options.out}${data.notes.length ? ` (left out: ${data.notes.length} item${data.notes.length === 1 ? '' : 's'}, listed at its end)` : ''}\n`,
      );
    });
}
