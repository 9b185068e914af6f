// mime-types, loaded when first needed: its database (mime-db, ~2,500 types) costs ~12 ms of CPU to read, and a
// crawl whose files all carry extensions and types with their own rules (HTML, CSS) never asks it anything.
import { createRequire } from 'node:module';

type MimeTypes = typeof import('mime-types');
let loaded: MimeTypes | undefined;

export function mimeTypes(): MimeTypes {
  loaded ??= createRequire(import.meta.url)('mime-types') as MimeTypes;
  return loaded;
}
