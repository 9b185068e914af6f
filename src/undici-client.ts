// undici's HTTP/1.1 client without the rest of undici: its index loads fetch, WebSocket, caches and mocks too
// (133 files, ~50 ms of every start), where the crawler needs an Agent and the request API.
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

/** undici's Agent (lib/dispatcher/agent.js is what `undici` exports as Agent; version pinned in package.json). */
export const Agent = require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
export type Agent = Undici.Agent;
export type ResponseData = Undici.Dispatcher.ResponseData;

// The request API, which undici's index copies onto Dispatcher.prototype; called with the agent as `this`.
const requestApi = require('undici/lib/api/api-request.js') as (this: Agent, options: Undici.Dispatcher.RequestOptions) => Promise<ResponseData>;

/** `agent.request()` as the full undici would have it: GET-style options with origin and path. */
export function request(agent: Agent, url: URL, options: Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path'>): Promise<ResponseData> {
  return requestApi.call(agent, { ...options, origin: url.origin, path: `${url.pathname}${url.search}` });
}
