// The built-in web UI as the real daemon serves it on the query port: `/` is the UI's page (HTML
// that loads the UI's script from ./assets/), a deep link such as /trace/{id} is the same page
// (the single-page app routes it in the browser), and the script it names is served as
// JavaScript. Needs a daemon built with TAILTRACE_BUILD_UI=ON (`make e2e-test` builds one).
//
// Run from the repo root:
//   TAILTRACED=/abs/path/to/build/daemon/tailtraced node --test tests/e2e/ui.test.mjs

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { httpGet, pollUntil, startDaemon, truncate } from './lib/daemon.mjs';

describe('built-in UI', () => {
  let daemon;

  before(async () => {
    daemon = await startDaemon();
  });

  after(async () => {
    if (!daemon) return;
    const exit = await daemon.stop();
    await daemon.cleanup();
    assert.equal(exit.code, 0, `tailtraced exited with ${JSON.stringify(exit)}`);
  });

  test('the start-up log says where the UI is', async () => {
    // Logged (stderr) just before the ready line (stdout); the pipes may deliver them in any order.
    const line = `UI at http://${daemon.endpoints.query}/`;
    await pollUntil(`"${line}" in the log`, () => (daemon.stderr.includes(line) ? true : undefined), {
      daemon,
    });
  });

  test('/ is the UI page, loading its script from ./assets/', async () => {
    const page = await httpGet(daemon.queryUrl('/'));
    assert.equal(page.status, 200, truncate(page.body));
    assert.match(page.contentType, /^text\/html/);
    assert.ok(page.body.includes('<base href="/" />'), truncate(page.body));
    const script = /<script type="module"[^>]* src="\.\/(assets\/[^"]+\.js)"/.exec(page.body);
    assert.ok(script, `no module script in ${truncate(page.body)}`);

    const js = await fetch(daemon.queryUrl(`/${script[1]}`), {
      headers: { 'accept-encoding': 'gzip' },
    });
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type'), /^text\/javascript/);
    assert.equal(js.headers.get('content-encoding'), 'gzip');
    assert.match(js.headers.get('cache-control'), /immutable/);
    assert.ok((await js.text()).length > 0);
  });

  test('a deep link is the same page', async () => {
    const root = await httpGet(daemon.queryUrl('/'));
    for (const link of ['/trace/whatever', '/trace/0af7651916cd43dd8448eb211c80319c', '/search']) {
      const page = await httpGet(daemon.queryUrl(link));
      assert.equal(page.status, 200, link);
      assert.match(page.contentType, /^text\/html/, link);
      assert.equal(page.body, root.body, link);
    }
  });

  test('the API is where it was', async () => {
    const services = await httpGet(daemon.queryUrl('/api/services'));
    assert.equal(services.status, 200, truncate(services.body));
    assert.ok(Array.isArray(services.json?.data), truncate(services.body));
  });
});
