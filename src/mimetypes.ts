// mime-types, loaded when first needed: its database (mime-db, ~2,500 types) costs ~12 ms of CPU to read, and a
// crawl whose files all carry extensions and types with their own rules (HTML, CSS) never asks it anything.
import { lazyRequire } from './lazy.js';

export const mimeTypes = lazyRequire<typeof import('mime-types')>('mime-types');
