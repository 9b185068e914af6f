// Which URLs belong to the crawl: a small object built from the seed and the scope options, and told the hosts the
// seed redirected to. No I/O.
import type { ScopeOptions } from './config.js';
import type { SkipReason } from './types.js';

export class Scope {
  private readonly seedHost: string;
  /** The seed's host, its www form and their subdomains (--subdomains), by the rule credentials follow too. */
  private readonly onSeedSite: (hostname: string) => boolean;
  private readonly seedPort: string;
  private readonly include: RegExp[];
  private readonly exclude: RegExp[];
  /** Hosts the seed redirected to (apex to www, an old domain to a new one): the site's own, like the seed's. */
  private readonly adoptedHosts = new Set<string>();
  /** Counts adoptHost calls: an answer given before may differ after one (a cache of answers reads it). */
  #generation = 0;

  constructor(
    seed: string,
    private readonly options: ScopeOptions,
  ) {
    const url = new URL(seed);
    this.seedHost = url.host;
    this.onSeedSite = seedSiteHostnames(seed);
    this.seedPort = url.port;
    this.include = options.include.map((pattern) => new RegExp(pattern));
    this.exclude = options.exclude.map((pattern) => new RegExp(pattern));
  }

  /** Why a page (a URL to crawl for links) is refused, or null when it is in scope. */
  pageSkipReason(url: string): SkipReason | null {
    const parsed = parseHttp(url);
    if (!parsed) return 'scheme';
    if (!this.isSiteHost(parsed)) return 'out-of-scope';
    if (this.options.pathPrefix !== undefined && !parsed.pathname.startsWith(this.options.pathPrefix)) return 'out-of-scope';
    if (this.exclude.some((pattern) => pattern.test(url))) return 'excluded';
    if (this.include.length > 0 && !this.include.some((pattern) => pattern.test(url))) return 'excluded';
    return null;
  }

  /** Why a requisite (a file a page needs to display) is refused, or null. Requisites ignore the path prefix (wget2's test-page-requisites). */
  requisiteSkipReason(url: string): SkipReason | null {
    const parsed = parseHttp(url);
    if (!parsed) return 'scheme';
    if (!this.isSiteHost(parsed) && !this.options.allowedHosts.includes(parsed.host) && !this.options.allowedHosts.includes(parsed.hostname)) {
      return 'out-of-scope';
    }
    if (this.exclude.some((pattern) => pattern.test(url))) return 'excluded';
    return null;
  }

  /** Takes `host` (host:port as URL.host spells it) for one of the site's own, as the seed's host is. */
  adoptHost(host: string): void {
    if (this.adoptedHosts.has(host)) return;
    this.adoptedHosts.add(host);
    this.#generation++;
  }

  /** Changes whenever an answer of this scope may have changed. */
  get generation(): number {
    return this.#generation;
  }

  /** Whether a sitemap document may be fetched: only from the site's own hosts. */
  isSiteUrl(url: string): boolean {
    const parsed = parseHttp(url);
    return parsed !== undefined && this.isSiteHost(parsed);
  }

  private isSiteHost(url: URL): boolean {
    if (url.host === this.seedHost || this.adoptedHosts.has(url.host)) return true;
    return this.options.subdomains && url.port === this.seedPort && this.onSeedSite(url.hostname);
  }
}

/** The request headers that carry credentials, which go only where seedSiteHostnames says (names in any case). */
export function isCredentialHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === 'authorization' || lower === 'cookie';
}

/**
 * The seed's host, its www-less or www form, and their subdomains, as a cookie for the domain would go: where
 * --cookie and an Authorization --header may be sent. Never an --allow-host CDN or another site a redirect leads to.
 */
export function seedSiteHostnames(seed: string): (hostname: string) => boolean {
  const base = new URL(seed).hostname.replace(/^www\./, '');
  return (hostname) => hostname === base || hostname.endsWith(`.${base}`);
}

function parseHttp(url: string): URL | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed : undefined;
  } catch {
    return undefined;
  }
}
