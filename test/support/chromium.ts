// Opens a local HTML file in headless Chromium (Debian's /usr/bin/chromium through
// playwright-core; see ../shared/TESTENV.md), takes a full-page screenshot, and
// reports each SVG chart's rendered size and data marks, and every console error.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.WEIR_CHROMIUM ?? '/usr/bin/chromium';

export interface RenderedChart {
  id: string;
  width: number;
  height: number;
  /** Data marks (class "data") that are drawn inside the chart's box. */
  visibleMarks: number;
}

export interface RenderedPage {
  charts: RenderedChart[];
  consoleErrors: string[];
  screenshot: Buffer;
  title: string;
}

/** Headless Chromium with a new empty profile; `close()` also removes the profile. */
export async function launchChromium(): Promise<{ browser: BrowserContext; close(): Promise<void> }> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'weir-chromium-'));
  // A new empty profile each time (playwright passes it as --user-data-dir).
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1100, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export async function renderInChromium(file: string): Promise<RenderedPage> {
  const { browser, close } = await launchChromium();
  try {
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    // Any request the page makes besides its own file is an outside asset.
    page.on('request', (r) => {
      if (r.url() !== pathToFileURL(file).href) consoleErrors.push(`outside request: ${r.url()}`);
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const screenshot = await page.screenshot({ fullPage: true });
    // Runs in the page; the project compiles without the DOM library, hence the loose types.
    const charts = await page.$$eval('svg.chart', (svgs: any[]) =>
      svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        const marks = Array.from(svg.querySelectorAll('.data') as ArrayLike<any>).filter((m) => {
          const r = m.getBoundingClientRect();
          const style = svg.ownerDocument.defaultView.getComputedStyle(m);
          return (
            style.visibility !== 'hidden' &&
            style.display !== 'none' &&
            (r.width > 0 || r.height > 0) &&
            r.left >= box.left - 1 &&
            r.right <= box.right + 1 &&
            r.top >= box.top - 1 &&
            r.bottom <= box.bottom + 1
          );
        });
        return {
          id: svg.getAttribute('data-chart') ?? '',
          width: box.width,
          height: box.height,
          visibleMarks: marks.length,
        };
      }),
    );
    return { charts, consoleErrors, screenshot, title: await page.title() };
  } finally {
    await close();
  }
}
