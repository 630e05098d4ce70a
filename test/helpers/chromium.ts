/**
 * Debian's Chromium for the browser tests (playwright-core drives it; `scripts/setup-test-deps.sh`
 * installs the `chromium` package): its path (`MRV_CHROMIUM` overrides) and the flags every test
 * starts it with — headless, no sandbox (root in CI), and nothing that would reach the network.
 */
export const CHROMIUM = process.env.MRV_CHROMIUM ?? '/usr/bin/chromium';

/** Flags of `chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })`. */
export const CHROMIUM_ARGS: string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
