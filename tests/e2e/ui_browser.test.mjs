// The built-in UI in a real browser (Debian's chromium, headless, through playwright-core)
// against a real tailtraced fed by the OpenTelemetry JS SDK: the seed's search for slow checkouts,
// the trace page with its nesting and critical path, span details, deep links, an unknown trace,
// a 10,000-span trace, and the service map. Screenshots go to tests/e2e/artifacts/.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, screenshot, watchPageErrors } from './lib/browser.mjs';
import { httpGet, pollUntil, pollV3Trace, startDaemon } from './lib/daemon.mjs';
import { createShopServices } from './lib/scenario.mjs';
import { buildShopTrace, SHOP_SPANS } from './lib/shop_traces.mjs';

const SLOW_MS = 2_800;
const FAST_MS = 40;

describe('built-in UI', () => {
  let daemon;
  let browser;
  const slow = [];
  const fast = [];

  before(async () => {
    // metrics.resolution 1s: the service graph reaches the store within a second.
    // Every trace is kept; the failed one by `errors`, the others by `everything`.
    daemon = await startDaemon({
      extraYaml: 'metrics:\n  resolution: 1s',
      samplingYaml: `
  policies:
    - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }
    - { name: everything, type: always_sample }
`,
    });
    const shop = createShopServices('http/protobuf', daemon.endpoints);
    for (let i = 0; i < 3; i++)
      slow.push(buildShopTrace(shop, { inventoryMs: SLOW_MS, offsetMs: i * 3_000 }));
    for (let i = 0; i < 5; i++)
      fast.push(
        buildShopTrace(shop, {
          inventoryMs: FAST_MS,
          offsetMs: 10_000 + i * 100,
          fail: i === 2,
        }),
      );
    for (const s of Object.values(shop)) await s.flush();
    for (const t of [...slow, ...fast]) await pollV3Trace(daemon, t.traceId, SHOP_SPANS.length);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
  });

  async function open(path) {
    const page = await browser.newPage({
      viewport: { width: 1400, height: 900 },
    });
    const errors = watchPageErrors(page);
    await page.goto(daemon.queryUrl(path));
    return { page, errors };
  }

  test('serves the UI at / and the search finds exactly the slow traces', async () => {
    const { page, errors } = await open('/');
    await page.getByTestId('service-select').selectOption('frontend');
    await page.getByTestId('min-duration').fill('2s');
    await page.getByTestId('search-submit').click();
    await page.getByTestId('result-count').waitFor();
    const found = await page
      .getByTestId('result')
      .evaluateAll((els) => els.map((e) => e.dataset.traceId));
    assert.deepEqual(found.sort(), slow.map((t) => t.traceId).sort());
    const url = new URL(page.url());
    assert.equal(url.pathname, '/search');
    assert.equal(url.searchParams.get('service'), 'frontend');
    assert.equal(url.searchParams.get('minDuration'), '2s');
    // Short IDs and durations as a user reads them.
    const shortIds = await page.getByTestId('result-short-id').allTextContents();
    assert.deepEqual(shortIds.sort(), slow.map((t) => t.traceId.slice(0, 7)).sort());
    for (const d of await page.getByTestId('result-duration').allTextContents())
      assert.match(d, /^2\.8\ds$/);
    assert.equal(await page.getByTestId('scatter-dot').count(), slow.length);
    await screenshot(page, 'search-slow-checkouts');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("a result's policy searches again for every trace that policy kept", async () => {
    const { page, errors } = await open('/');
    await page.getByTestId('service-select').selectOption('frontend');
    await page.getByTestId('search-submit').click();
    await page.getByTestId('result-count').waitFor();
    assert.equal(await page.getByTestId('result').count(), slow.length + fast.length);
    const failed = fast[2].traceId;
    const card = page.locator(`[data-trace-id="${failed}"]`);
    assert.equal(await card.getByTestId('result-policy').textContent(), 'kept by errors');
    await card.getByTestId('result-policy').click();
    await page.waitForURL(/sampling\.policy/);
    const url = new URL(page.url());
    assert.equal(url.searchParams.get('service'), 'frontend');
    assert.deepEqual(JSON.parse(url.searchParams.get('tags')), { 'sampling.policy': 'errors' });
    // The new search's answer, not the previous one's: one card.
    await page
      .getByTestId('result-count')
      .filter({ hasText: /^1 trace$/ })
      .waitFor();
    const found = await page
      .getByTestId('result')
      .evaluateAll((els) => els.map((e) => e.dataset.traceId));
    assert.deepEqual(found, [failed]);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('a result opens the trace: every span nested, the critical path through the slow span', async () => {
    const { page, errors } = await open(`/search?service=frontend&minDuration=2s&lookback=1h`);
    const first = page.getByTestId('result').first();
    const traceId = await first.getAttribute('data-trace-id');
    await first.locator('a').first().click();
    await page.getByTestId('trace-header').waitFor();
    assert.equal(new URL(page.url()).pathname, `/trace/${traceId}`);
    const trace = slow.find((t) => t.traceId === traceId);
    const rows = await page.getByTestId('span-row').evaluateAll((els) =>
      els.map((e) => ({
        id: e.dataset.spanId,
        depth: Number(e.dataset.depth),
        service: e.dataset.service,
        critical: e.dataset.critical === 'true',
      })),
    );
    const expected = SHOP_SPANS.map((s) => ({
      id: trace.spanIds[`${s.name}@${s.service}`],
      depth: s.depth,
      service: s.service,
      critical: s.critical,
    }));
    assert.deepEqual(
      [...rows].sort((a, b) => a.id.localeCompare(b.id)),
      [...expected].sort((a, b) => a.id.localeCompare(b.id)),
    );
    // Depth first, siblings in start order: the client call (2 ms) and its subtree come before
    // "render cart" (3 ms), the inventory call (6 ms) and its child before "validate cart" (8 ms).
    assert.deepEqual(
      rows.map((r) => r.depth),
      [0, 1, 2, 3, 4, 3, 1],
    );
    const summary = await page.getByTestId('critical-path-summary').textContent();
    assert.match(summary, /inventory/);
    await screenshot(page, 'trace-critical-path');

    // The flame graph: a frame per span; a frame opens its span's details.
    await page.getByTestId('view-flame').click();
    await page.getByTestId('flame-frame').first().waitFor();
    const frames = await page
      .getByTestId('flame-frame')
      .evaluateAll((els) => els.map((e) => e.dataset.spanId).sort());
    assert.deepEqual(frames, Object.values(trace.spanIds).sort());
    assert.equal(new URL(page.url()).searchParams.get('view'), 'flame');
    await screenshot(page, 'trace-flame-graph');
    await page.getByTestId('view-waterfall').click();

    // A span's details.
    const reserveId = trace.spanIds['reserve stock@inventory'];
    await page.locator(`[data-testid="span-row"][data-span-id="${reserveId}"]`).click();
    const details = page.getByTestId('span-details');
    await details.waitFor();
    const text = await details.textContent();
    for (const s of ['reserve stock', 'inventory', reserveId, 'stock.sku', 'A-1', 'service.name']) {
      assert.ok(text.includes(s), `span details should show ${s}: ${text.slice(0, 500)}`);
    }
    await screenshot(page, 'trace-span-details');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('a deep link opens the trace with the span selected', async () => {
    const trace = fast[2]; // the failed one
    const spanId = trace.spanIds['reserve stock@inventory'];
    const { page, errors } = await open(`/trace/${trace.traceId}?span=${spanId}`);
    const details = page.getByTestId('span-details');
    await details.waitFor();
    assert.ok((await details.textContent()).includes('out of stock'));
    const row = page.locator(`[data-testid="span-row"][data-span-id="${spanId}"]`);
    assert.equal(await row.getAttribute('data-error'), 'true');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('an unknown trace ID gets a message in words', async () => {
    const { page } = await open('/trace/0123456789abcdef0123456789abcdef');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.textContent(), /No trace with ID 0123456789abcdef0123456789abcdef/);
    await screenshot(page, 'trace-unknown');
    await page.close();
  });

  test('a 10,000-span trace renders a window of rows and scrolls to its last span', async () => {
    const { traceId, lastSpanId } = await sendWideTrace(daemon, 10_000);
    await pollV3Trace(daemon, traceId, 10_000, { timeoutMs: 30_000 });
    const { page, errors } = await open(`/trace/${traceId}`);
    await page.getByTestId('trace-header').waitFor();
    const rendered = await page.getByTestId('span-row').count();
    assert.ok(
      rendered > 10 && rendered < 300,
      `rows in the DOM: ${rendered} (virtualized: a window only)`,
    );
    await page.getByTestId('trace-search').fill(lastSpanId);
    await page.getByTestId('trace-search').press('Enter'); // go to the (only) match
    await page.locator(`[data-testid="span-row"][data-span-id="${lastSpanId}"]`).waitFor();
    assert.match(await page.getByTestId('trace-search-count').textContent(), /^1 of 10,?000/);
    await screenshot(page, 'trace-10k-spans');
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('the services page draws the service map with call counts', async () => {
    const calls = slow.length + fast.length;
    await pollUntil('the service graph to count every call', async (seen) => {
      const r = await httpGet(
        daemon.queryUrl(`/api/dependencies?endTs=${Date.now()}&lookback=3600000`),
      );
      seen(r.body);
      const links = r.json?.data ?? [];
      return links.some(
        (l) => l.parent === 'checkout' && l.child === 'inventory' && l.callCount === calls,
      )
        ? true
        : undefined;
    });
    const { page, errors } = await open('/services?range=1h');
    await page.getByTestId('service-map').waitFor();
    const nodes = await page
      .getByTestId('service-node')
      .evaluateAll((els) => els.map((e) => e.dataset.service).sort());
    assert.deepEqual(nodes, ['checkout', 'frontend', 'inventory']);
    const edges = await page
      .getByTestId('service-edge')
      .evaluateAll((els) =>
        els
          .map(
            (e) => `${e.dataset.parent}->${e.dataset.child}:${e.dataset.calls}/${e.dataset.failed}`,
          )
          .sort(),
      );
    // One trace failed in inventory: its call from checkout failed.
    assert.deepEqual(edges, [`checkout->inventory:${calls}/1`, `frontend->checkout:${calls}/0`]);
    await screenshot(page, 'services-map');
    assert.deepEqual(errors, []);
    await page.close();
  });
});

// One trace of `count` spans (a root and count-1 children) posted as OTLP/JSON; spans get
// distinct names so a search in the trace finds exactly one.
async function sendWideTrace(daemon, count) {
  const hex = (n, width) => n.toString(16).padStart(width, '0');
  const traceId = `feed${hex(Date.now(), 28)}`;
  const base = BigInt(Date.now() - 30_000) * 1_000_000n;
  const spans = [];
  for (let i = 0; i < count; i++) {
    spans.push({
      traceId,
      spanId: hex(i + 1, 16),
      parentSpanId: i === 0 ? undefined : hex(1, 16),
      name: i === 0 ? 'batch job' : `item ${i}`,
      kind: 1,
      startTimeUnixNano: String(base + BigInt(i) * 1_000_000n),
      endTimeUnixNano: String(base + BigInt(i === 0 ? count + 1 : i + 1) * 1_000_000n),
    });
  }
  const body = {
    resourceSpans: [
      {
        resource: {
          attributes: [{ key: 'service.name', value: { stringValue: 'batch' } }],
        },
        scopeSpans: [{ spans }],
      },
    ],
  };
  const r = await fetch(`http://${daemon.endpoints.http}/v1/traces`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, await r.text());
  return { traceId, lastSpanId: hex(count, 16) };
}
