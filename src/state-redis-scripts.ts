// The atomic steps of the Redis state, as Lua scripts (Redis runs each one alone, so workers never interleave inside).
// Every script takes the crawl's key prefix as ARGV[1]. Records are JSON strings in the hash P..'rec', by id; what
// a link to each needs (LinkTarget) is kept beside them in P..'tgt', so a page's link targets are small to send and read.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, 0, ...args);
    } catch (error) {
      if (!String((error as Error).message).includes('NOSCRIPT')) throw error;
      return redis.eval(this.source, 0, ...args);
    }
  }
}

/** Helpers every script starts with: the clock, the queue order, and the --max-pages count a record holds. */
const COMMON = `
local P = ARGV[1]
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Breadth first: depth, then the order URLs were found in.
local function score(r) return tonumber(r.depth) * 4294967296 + tonumber(r.id) end
local function counted(r)
  return r.kind == 'page' and (r.state == 'queued' or r.state == 'done' or r.state == 'redirected' or r.state == 'failed')
end
local function record(id)
  local raw = redis.call('HGET', P .. 'rec', id)
  if not raw then return nil end
  return cjson.decode(raw)
end
local function json(v) if v == nil then return cjson.null end return v end
local function store(r, before)
  if before ~= counted(r) then redis.call('INCRBY', P .. 'pages', counted(r) and 1 or -1) end
  redis.call('HSET', P .. 'rec', r.id, cjson.encode(r))
  -- In the order linkTargetOf (state-redis.ts) reads them.
  local target = {r.id, json(r.state), json(r.skip_reason), json(r.local_path), json(r.own_path), json(r.expected_path)}
  redis.call('HSET', P .. 'tgt', r.id, cjson.encode(target))
end
local function enqueue(r)
  if redis.call('ZSCORE', P .. 'leases', r.id) == false then redis.call('ZADD', P .. 'q:' .. r.kind, score(r), r.id) end
  -- Something new to crawl: link settlement must run again at the end.
  redis.call('HDEL', P .. 'meta', 'settled')
end
`;

/**
 * ARGV: P, url, record JSON (no id), queue ('0': no, a skip; '1': yes; '2': leased to the worker at once), maxPages
 * ('inf' or a number), leaseMs, worker. Returns the id, 0 (known) or -1 (max-pages).
 */
export const INSERT = new LuaScript(`${COMMON}
local url = ARGV[2]
if redis.call('HEXISTS', P .. 'ids', url) == 1 then return 0 end
local r = cjson.decode(ARGV[3])
if ARGV[4] ~= '0' and r.kind == 'page' and ARGV[5] ~= 'inf' and tonumber(redis.call('GET', P .. 'pages') or '0') >= tonumber(ARGV[5]) then return -1 end
r.id = redis.call('INCR', P .. 'seq')
redis.call('HSET', P .. 'ids', url, r.id)
redis.call('ZADD', P .. 'urls', 0, url)
store(r, false)
if ARGV[4] == '1' then enqueue(r) end
if ARGV[4] == '2' then
  redis.call('ZADD', P .. 'leases', now() + tonumber(ARGV[6]), r.id)
  redis.call('HSET', P .. 'owner', r.id, ARGV[7])
  redis.call('HDEL', P .. 'meta', 'settled')
end
return r.id
`);

/** ARGV: P, id, fields JSON. Merges the fields into the record; a record that becomes 'queued' joins the queue. */
export const UPDATE = new LuaScript(`${COMMON}
local r = record(ARGV[2])
if not r then return 0 end
local before = counted(r)
local wasQueued = r.state == 'queued'
for k, v in pairs(cjson.decode(ARGV[3])) do r[k] = v end
store(r, before)
if r.state == 'queued' and not wasQueued then enqueue(r) end
if r.state == 'queued' and wasQueued and redis.call('ZSCORE', P .. 'q:' .. r.kind, r.id) ~= false then
  -- requeued at another depth or kind: its place in the queue moves with it
  redis.call('ZREM', P .. 'q:page', r.id)
  redis.call('ZREM', P .. 'q:requisite', r.id)
  enqueue(r)
end
return 1
`);

/** ARGV: P, url. The record JSON, or false. */
export const GET_BY_URL = new LuaScript(`${COMMON}
local id = redis.call('HGET', P .. 'ids', ARGV[2])
if not id then return false end
return redis.call('HGET', P .. 'rec', id)
`);

/**
 * ARGV: P, urls… For each URL its link target, a JSON array (as store() keeps it); the whole record JSON for a
 * record not written since link targets were kept (a state from an older sitemirror); false for an unknown URL.
 */
export const LINK_TARGETS = new LuaScript(`${COMMON}
-- HMGETs rather than a call per URL (the caller sends at most a few thousand URLs: unpack's limit is 8,000).
local ids = redis.call('HMGET', P .. 'ids', unpack(ARGV, 2))
local known, at = {}, {}
for i, id in ipairs(ids) do
  if id then
    known[#known + 1] = id
    at[#known] = i
  end
end
local found = {}
for i = 1, #ids do found[i] = false end
if #known > 0 then
  local targets = redis.call('HMGET', P .. 'tgt', unpack(known))
  for k, target in ipairs(targets) do found[at[k]] = target or redis.call('HGET', P .. 'rec', known[k]) end
end
return found
`);

/** ARGV: P, leaseMs, worker. Leases the first queued URL (requisites, then pages): its record JSON, or false. */
export const NEXT = new LuaScript(`${COMMON}
for _, kind in ipairs({'requisite', 'page'}) do
  while true do
    local popped = redis.call('ZPOPMIN', P .. 'q:' .. kind)
    if #popped == 0 then break end
    local r = record(popped[1])
    -- Entries whose record moved on (or is leased) are stale: dropped.
    if r and r.state == 'queued' and redis.call('ZSCORE', P .. 'leases', r.id) == false then
      redis.call('ZADD', P .. 'leases', now() + tonumber(ARGV[2]), r.id)
      redis.call('HSET', P .. 'owner', r.id, ARGV[3])
      return cjson.encode(r)
    end
  end
end
return false
`);

/** ARGV: P, id, leaseMs, worker. 1 when the queued URL is now leased to the worker. */
export const CLAIM = new LuaScript(`${COMMON}
local r = record(ARGV[2])
if not r or r.state ~= 'queued' or redis.call('ZSCORE', P .. 'leases', r.id) ~= false then return 0 end
redis.call('ZREM', P .. 'q:' .. r.kind, r.id)
redis.call('ZADD', P .. 'leases', now() + tonumber(ARGV[3]), r.id)
redis.call('HSET', P .. 'owner', r.id, ARGV[4])
return 1
`);

/** ARGV: P, id, worker. Ends the worker's lease; a URL still queued goes back to the queue. */
export const RELEASE = new LuaScript(`${COMMON}
local owner = redis.call('HGET', P .. 'owner', ARGV[2])
if owner ~= ARGV[3] then return 0 end
redis.call('ZREM', P .. 'leases', ARGV[2])
redis.call('HDEL', P .. 'owner', ARGV[2])
local r = record(ARGV[2])
if r and r.state == 'queued' then enqueue(r) end
return 1
`);

/** ARGV: P, leaseMs, worker, ids… Extends the worker's leases that it still holds. */
export const RENEW = new LuaScript(`${COMMON}
local until_ = now() + tonumber(ARGV[2])
for i = 4, #ARGV do
  if redis.call('HGET', P .. 'owner', ARGV[i]) == ARGV[3] then redis.call('ZADD', P .. 'leases', 'XX', until_, ARGV[i]) end
end
return 1
`);

/** ARGV: P. Returns expired leases (a dead worker's URLs) to the queue; then the URLs leased or queued. */
export const REAP = new LuaScript(`${COMMON}
local expired = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now())
for _, id in ipairs(expired) do
  redis.call('ZREM', P .. 'leases', id)
  redis.call('HDEL', P .. 'owner', id)
  local r = record(id)
  if r and r.state == 'queued' then enqueue(r) end
end
return redis.call('ZCARD', P .. 'leases') + redis.call('ZCARD', P .. 'q:page') + redis.call('ZCARD', P .. 'q:requisite')
`);

/** ARGV: P, path key, id, own path, body hash ('' for none). 1 when the URL owns the path (sha256 and own_path recorded with it). */
export const CLAIM_PATH = new LuaScript(`${COMMON}
redis.call('HSETNX', P .. 'paths', ARGV[2], ARGV[3])
if redis.call('HGET', P .. 'paths', ARGV[2]) ~= ARGV[3] then return 0 end
if ARGV[5] ~= '' then
  local r = record(ARGV[3])
  local before = counted(r)
  r.sha256 = ARGV[5]
  r.own_path = ARGV[4]
  store(r, before)
end
return 1
`);

/** ARGV: P, name, worker, ttlMs. A lock held by one worker, expiring unless renewed. */
export const LOCK = new LuaScript(`${COMMON}
local key = P .. 'lock:' .. ARGV[2]
local holder = redis.call('GET', key)
if holder and holder ~= ARGV[3] then return 0 end
redis.call('SET', key, ARGV[3], 'PX', tonumber(ARGV[4]))
return 1
`);

/** ARGV: P, name, worker. */
export const UNLOCK = new LuaScript(`${COMMON}
local key = P .. 'lock:' .. ARGV[2]
if redis.call('GET', key) == ARGV[3] then redis.call('DEL', key) end
return 1
`);

/**
 * ARGV: P, host, token, perHost, gapMs, ttlMs. 0 when the token got one of the host's slots; otherwise how long to
 * wait (ms) before asking again. With a gap (a delay), one request at a time, starting the gap after the last ended.
 */
export const ACQUIRE_SLOT = new LuaScript(`${COMMON}
local key = P .. 'host:' .. ARGV[2]
local t = now()
-- A slot whose holder died expires.
redis.call('ZREMRANGEBYSCORE', key .. ':slots', '-inf', t)
local gap = tonumber(ARGV[5])
local limit = gap > 0 and 1 or tonumber(ARGV[4])
if redis.call('ZCARD', key .. ':slots') >= limit then return 5 end
if gap > 0 then
  local last = tonumber(redis.call('GET', key .. ':last') or '0')
  if t < last + gap then return last + gap - t end
end
redis.call('ZADD', key .. ':slots', t + tonumber(ARGV[6]), ARGV[3])
return 0
`);

/** ARGV: P, host, token. Frees the slot and notes when the request ended (the start of the next gap). */
export const RELEASE_SLOT = new LuaScript(`${COMMON}
local key = P .. 'host:' .. ARGV[2]
redis.call('ZREM', key .. ':slots', ARGV[3])
redis.call('SET', key .. ':last', now(), 'PX', 86400000)
return 1
`);

/** ARGV: P, host, ttlMs, tokens… Keeps the slots of requests still running. */
export const RENEW_SLOTS = new LuaScript(`${COMMON}
local until_ = now() + tonumber(ARGV[3])
for i = 4, #ARGV do redis.call('ZADD', P .. 'host:' .. ARGV[2] .. ':slots', 'XX', until_, ARGV[i]) end
return 1
`);
