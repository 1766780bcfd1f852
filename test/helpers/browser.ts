// A real browser for the console tests: Debian's `chromium` package driven by playwright-core
// (which downloads no browser). `.ci/run` installs chromium when it is missing.
//
//   const chromium = findChromium();            // undefined → skip the suite
//   const browser = await launchChromium(chromium!);
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** Path of an installed chromium, or undefined. */
export function findChromium(): string | undefined {
  return CANDIDATES.find((p): p is string => Boolean(p) && existsSync(p!));
}

export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, args: ['--no-sandbox'] });
}
