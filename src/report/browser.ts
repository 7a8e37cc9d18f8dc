import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { XbarError } from '../core/errors.js';

/**
 * Headless Chromium for PNG export and screenshots: Debian's `chromium`, driven by
 * playwright-core (which downloads no browser of its own). XBAR_CHROMIUM names another binary.
 */

export const chromiumPath = (): string => process.env.XBAR_CHROMIUM ?? '/usr/bin/chromium';

/** Flags for a quiet, offline, throwaway browser: no GPU, no sandbox (root in CI), no background traffic. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function checkChromium(): string {
  const path = chromiumPath();
  if (!existsSync(path))
    throw new XbarError(
      `PNG export and screenshots need Chromium at ${path}, which is missing: run 'bash scripts/install-system-deps.sh browser' as root (Debian's chromium), or set XBAR_CHROMIUM to a Chromium binary`,
    );
  return path;
}

/**
 * Runs `fn` with a page of a fresh headless Chromium (its own temporary profile, removed after),
 * and closes the browser whatever happens.
 */
export async function withBrowser<T>(
  fn: (page: Page) => Promise<T>,
  view: { width: number; height: number; scale: number } = { width: 1200, height: 900, scale: 2 },
): Promise<T> {
  const executablePath = checkChromium();
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'xbar-chromium-'));
  try {
    let context: Awaited<ReturnType<typeof chromium.launchPersistentContext>>;
    try {
      context = await chromium.launchPersistentContext(profile, {
        executablePath,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: view.width, height: view.height },
        deviceScaleFactor: view.scale,
        offline: true,
      });
    } catch (e) {
      const first = String((e as Error).message ?? e).split('\n')[0];
      throw new XbarError(
        `Chromium at ${executablePath} did not start: ${first} (reinstall it: bash scripts/install-system-deps.sh browser)`,
      );
    }
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      return await fn(page);
    } finally {
      await context.close();
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
