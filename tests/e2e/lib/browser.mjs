// A real browser for the UI tests: Debian's chromium (installed by `make deps`), driven headless
// by playwright-core. Never a browser download: a missing chromium fails the test with a message
// that says how to install it.

import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

// Where chromium is: $CHROMIUM, else Debian's /usr/bin/chromium.
export function chromiumPath() {
  const bin = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(bin)) {
    throw new Error(`${bin} does not exist: install Debian's chromium (make deps) or set CHROMIUM`);
  }
  return bin;
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath(),
    // Containers run the tests as root, where chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

// Screenshots land in tests/e2e/artifacts/ (ignored by git), or $UI_ARTIFACTS.
const ARTIFACTS =
  process.env.UI_ARTIFACTS ??
  path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');

export async function screenshot(page, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}

// Collects the page's console errors and uncaught exceptions: a UI test fails on any.
export function watchPageErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}
