// Which browser renders pages: --browser, else Playwright's own Chromium, else a system Chromium or Chrome.
// Pure: the caller passes the candidate paths and how to test that a file exists.
import { UsageError } from './errors.js';

/** Where the chosen browser came from, for the one line that names it. */
export type BrowserSource = 'option' | 'playwright' | 'system';

export interface BrowserChoice {
  executablePath: string;
  source: BrowserSource;
}

export interface BrowserSearch {
  /** --browser PATH: used as given, and an error when it does not exist. */
  explicitPath: string | undefined;
  /** What playwright-core's chromium.executablePath() names (a Chromium that `playwright-core install` downloaded). */
  playwrightPath: string | undefined;
  /** The usual install locations, in order of preference. */
  systemPaths: readonly string[];
  /** Whether an executable file is at the path. */
  exists: (path: string) => boolean;
}

/** One line, shown when no browser is found, that says how to get one. */
export const BROWSER_INSTALL_HINT =
  'install Chromium (Debian/Ubuntu: apt-get install chromium), or run `npx playwright-core install chromium`, or point --browser at a Chromium or Chrome executable';

/**
 * The usual paths of Chromium and Chrome on a platform, in order of preference.
 *   systemBrowserPaths('linux')[0] ⇒ '/usr/bin/chromium-headless-shell'
 */
export function systemBrowserPaths(platform: NodeJS.Platform): string[] {
  switch (platform) {
    case 'darwin':
      return [
        '/Applications/Chromium.app/Contents/MacOS/Chromium',
        '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
      ];
    case 'win32':
      return [
        'C:\\Program Files\\Chromium\\Application\\chrome.exe',
        'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
        'C:\\Program Files (x86)\\Google\\Chrome\\Application\\chrome.exe',
      ];
    default:
      return [
        // Debian's build of the headless shell Playwright itself runs headless pages in: the same Blink without the
        // browser's UI layers, a third less CPU per rendered page than /usr/bin/chromium (README, Performance).
        '/usr/bin/chromium-headless-shell',
        '/usr/bin/chromium',
        '/usr/bin/chromium-browser',
        '/snap/bin/chromium',
        '/usr/bin/google-chrome',
        '/usr/bin/google-chrome-stable',
        '/opt/google/chrome/chrome',
      ];
  }
}

/**
 * The browser to render with, or undefined when there is none.
 * Throws UsageError when --browser names a file that does not exist: the user asked for that one.
 */
export function findBrowser(search: BrowserSearch): BrowserChoice | undefined {
  if (search.explicitPath !== undefined) {
    if (!search.exists(search.explicitPath)) throw new UsageError(`--browser ${search.explicitPath}: no executable file there`);
    return { executablePath: search.explicitPath, source: 'option' };
  }
  if (search.playwrightPath !== undefined && search.exists(search.playwrightPath)) {
    return { executablePath: search.playwrightPath, source: 'playwright' };
  }
  const system = search.systemPaths.find((path) => search.exists(path));
  return system === undefined ? undefined : { executablePath: system, source: 'system' };
}

/** ⇒ 'Playwright's Chromium (/root/.cache/ms-playwright/…/chrome)' */
export function describeBrowser(choice: BrowserChoice): string {
  const origin = { option: 'the browser given with --browser', playwright: "Playwright's Chromium", system: 'the system browser' }[choice.source];
  return `${origin} (${choice.executablePath})`;
}
