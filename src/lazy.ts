// Modules loaded at their first use rather than at start-up: a crawl that never needs one (a UTF-8 site, plain
// http, unencoded bodies) never pays for reading it.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A getter that requires `specifier` (a package or a node: builtin) the first time it is called. */
export function lazyRequire<T>(specifier: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(specifier) as T);
}
