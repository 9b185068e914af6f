import { SitemirrorError } from './errors.js';
import type { CrawlState, StateLocation } from './state.js';
export async function openRedisState(location: StateLocation & { stateUrl: string }): Promise<CrawlState> {
  throw new SitemirrorError('USAGE', `not yet: ${location.stateUrl}`);
}
