// Drives Debian's chromium (headless, through playwright-core, never a
// downloaded browser) against the live view page.
// Usage: node liveview_check.js PAGE_URL SCREENSHOT BRIGHTNESS
// Waits for telemetry readings, checks the chart's count grows, moves the
// slider to BRIGHTNESS, waits for the broker's PUBACK, waits for the LED
// status to follow, saves a screenshot and prints one JSON line of results.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const [pageUrl, shot, brightness] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'midge-liveview-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30000,
    viewport: { width: 1200, height: 560 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const result = { console: [] };
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.setDefaultTimeout(15000);
    page.on('console', (m) => result.console.push(m.type() + ': ' + m.text()));
    page.on('pageerror', (e) => result.console.push('pageerror: ' + e.message));
    await page.goto(pageUrl, { waitUntil: 'load' });
    await page.waitForSelector('#conn[data-state="connected"]');
    await page.waitForFunction(() => Number(document.getElementById('telemetry').dataset.count) >= 5);
    const first = await page.$eval('#telemetry', (e) => Number(e.dataset.count));
    await page.waitForFunction(
      (n) => Number(document.getElementById('telemetry').dataset.count) >= n + 10, first);
    const t = await page.$eval('#telemetry', (e) => ({ ...e.dataset }));
    result.countBefore = first;
    result.countAfter = Number(t.count);
    result.temperature = Number(t.lastTemperature);
    result.humidity = Number(t.lastHumidity);
    result.shown = await page.$eval('#temp-now', (e) => e.textContent);
    // Something other than the background was painted on the chart.
    result.chartInk = await page.$eval('#chart', (c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let red = 0, blue = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] > 200 && d[i + 1] < 120 && d[i + 2] < 90) red++;
        if (d[i] < 90 && d[i + 1] > 100 && d[i + 2] > 190) blue++;
      }
      return { red, blue };
    });
    await page.fill('#brightness', brightness);
    await page.waitForSelector('#brightness[data-acked="' + brightness + '"]');
    result.acked = await page.$eval('#brightness', (e) => e.dataset.acked);
    await page.waitForSelector('#led-status[data-brightness="' + brightness + '"]');
    result.ledStatus = await page.$eval('#led-status', (e) => e.dataset.status);
    await page.$eval('#brightness', (e) => e.blur());
    await page.waitForTimeout(5000); // a few more seconds of history for the screenshot
    await page.screenshot({ path: shot, fullPage: true });
    result.ok = true;
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result));
}

const guard = setTimeout(() => { console.error('liveview_check: timed out'); process.exit(3); }, 90000);
main().then(() => clearTimeout(guard), (e) => {
  console.error('liveview_check: ' + (e && e.stack || e));
  process.exit(1);
});
