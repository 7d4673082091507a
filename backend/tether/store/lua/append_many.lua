-- Many sessions' appends in one step (store/appends.py gathers them), each applied on its
-- own, in the order given: one refused append leaves the others be.
-- KEYS: 1 the active-leases sorted set, 2 the outbox due set, 3 the outbox claims hash
-- ARGV: 1 ts, 2 cap, 3 ttl, 4 a JSON list of [session id, runner ('' = any), batch token
--       ('' = none), [entry, ...], floor ('' = none), fresh epoch, channel, key base]
--       (entries, floor and epoch: see append_entries), 5 the names of a session's keys
--       after its key base, space-separated (store/keys.py SessionKeys.for_batch order),
--       then common.lua's four
-- A session's keys are its base and each name: the batch's sessions are too many to pass
-- every key of each in KEYS (packing them cost more than the rest of an append). They
-- share the slot of KEYS on a cluster (keys.py), which is what Redis checks.
-- Returns one result per append, in order: its last seq, or why nothing of it was
-- applied ('unknown_session', 'lease_lost').

-- One session's append, on the keys K names (common.lua).
-- Args: ts, cap, ttl, runner ('' = any), channel, entries (a decoded list), session id,
--       batch token ('' = none: a retry of the last batch applied is not applied again),
--       floor ('' = none) and a fresh epoch: a log that ends below the floor, the last seq
--       the writer saw it reach, lost its tail and gets the new epoch (epochs.py)
-- Returns the last seq, or why nothing was applied ('unknown_session', 'lease_lost'):
-- both are checked before anything is written.
-- Entry: {b = body?, s = emit scope?, set = {field = value}, padd = {id = json},
--         pdel = [id], j = {key = json}, p = {label = progress json},
--         ix = [[id, opened ms, [assignee]]] (the opened requests' inbox listing),
--         n = [notification JSON without seq] (caused by this entry's event)}
local function append_entries(ts, cap, ttl, runner, chan, entries, session_id, token, floor,
                              epoch)
  local cur = redis.call('HMGET', rec, 'status', 'last_seq', 'runner')
  if not cur[1] then return 'unknown_session' end
  if runner ~= '' and cur[3] ~= runner then return 'lease_lost' end
  local status = cur[1]
  seq = tonumber(cur[2])
  if floor ~= '' and seq < tonumber(floor) then redis.call('HSET', rec, 'epoch', epoch) end
  if token ~= '' then
    if redis.call('HGET', rec, 'batch') == token then return seq end
    redis.call('HSET', rec, 'batch', token)
  end
  -- Per batch, not per entry: each redis.call costs Redis about a microsecond, and a
  -- stream of small events is mostly entries that only push.
  local emits = {}  -- scope -> events of it pushed
  local settled = false  -- the status follows the open requests as of the last entry
  for _, e in ipairs(entries) do
    if TERMINAL[status] then break end
    local explicit = nil
    if e.set then
      for k, v in pairs(e.set) do
        if k == 'status' then explicit = v else redis.call('HSET', rec, k, v) end
      end
    end
    if e.padd then for k, v in pairs(e.padd) do redis.call('HSET', pend, k, v) end end
    if e.ix then for _, x in ipairs(e.ix) do list_request(x[1], x[2], x[3], session_id) end end
    if e.pdel then
      for _, k in ipairs(e.pdel) do
        redis.call('HDEL', pend, k)
        unlist_request(k, session_id)
      end
    end
    if e.b then
      push(e.b, cap)
      if e.s then emits[e.s] = (emits[e.s] or 0) + 1 end
      if e.n then
        for _, n in ipairs(e.n) do enqueue(K[14], K[15], K[16], session_id, n) end
      end
    end
    if e.p then for k, v in pairs(e.p) do redis.call('HSET', K[9], k, v) end end
    if e.j then
      for k, v in pairs(e.j) do
        redis.call('HSET', K[5], k, v)
        redis.call('HSET', marks, 'j:' .. k, seq)
      end
    end
    -- Only what changes the open requests (or names a status) can change it; after a
    -- named status the next entry settles it again, as every entry once did.
    if not settled or explicit ~= nil or e.padd or e.pdel then
      status = settle(status, explicit, ts, cap)
      settled = explicit == nil
    end
  end
  for scope, n in pairs(emits) do redis.call('HINCRBY', K[6], scope, n) end
  finish(status, ts, ttl, chan, session_id)
  return seq
end

local ts, cap, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local active_key, due_key, claims_key = KEYS[1], KEYS[2], KEYS[3]
local names = {}
for name in string.gmatch(ARGV[5], '%S+') do names[#names + 1] = name end
local out = {}
for i, a in ipairs(cjson.decode(ARGV[4])) do
  local base = a[8]
  local own = {}
  for j, name in ipairs(names) do own[j] = base .. name end
  -- common.lua's order: the session's first seven, the leases, its next five; the outbox.
  K = {own[1], own[2], own[3], own[4], own[5], own[6], own[7], active_key, own[8], own[9],
       own[10], own[11], own[12], own[13], due_key, claims_key}
  rec, pend, evs, marks, active = K[1], K[2], K[3], K[7], K[8]
  frames = {}
  seq = 0
  out[i] = append_entries(ts, cap, ttl, a[2], a[7], a[4], a[1], a[3], a[5], a[6])
end
return out
