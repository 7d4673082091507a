-- Create a session, or return the one an Idempotency-Key already made; with quotas, count
-- and check the start in the same step (quotas.py), so concurrent starts cannot all pass.
-- KEYS: 1 rec, 2 evs, 3 owner index (sorted set), 4 active leases, 5 journal, 6 answers,
--       7 the index of every session (admins list it); then, when ARGV 10 says so, the
--       idempotency key; then, when ARGV 11 says so, the owner's start counter (a
--       Store.hit key) and the owner's open sessions (hash: id -> 1, and "_" once it
--       holds every open session of the owner)
-- ARGV: 1 id, 2 fingerprint, 3 idempotency ttl, 4 first event body, 5 lease ms,
--       6 seed (JSON {"j": {key: json}, "a": {request id: json}}; a fork's past),
--       7 starts allowed per window (0: no limit), 8 the window (s), 9 open sessions
--       allowed (0: no limit), 10 '1' when an idempotency key is given, 11 '1' when the
--       owner's counter and open sessions are given (else they are kept and checked
--       elsewhere: a cluster), 12 and 13 what a record key is made of around a session id
--       (store/keys.py Layout.record_affixes), then field/value pairs of the record
-- Returns {id, 1, fp} (made), {id, 0, fp of the original} (the key's session),
--         {'', -1, '', ms left in the window} (too many starts),
--         {'', -2, '', 0} (too many open sessions).
local rec, evs, index = KEYS[1], KEYS[2], KEYS[3]
local n = 8
local idem, counter, open = nil, nil, nil
if ARGV[10] == '1' then idem = KEYS[n]; n = n + 1 end
if ARGV[11] == '1' then counter, open = KEYS[n], KEYS[n + 1] end
local OWNER_INDEX_CAP = 10000
local OPEN = {pending = true, running = true, waiting = true}  -- base.OPEN_STATUSES
local id, fp = ARGV[1], ARGV[2]
local starts, window, max_open = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
if idem then
  local known = redis.call('GET', idem)
  if known then
    local sep = string.find(known, '\n', 1, true)
    return {string.sub(known, 1, sep - 1), 0, string.sub(known, sep + 1)}
  end
end
if counter and starts > 0 then  -- as RedisStore.hit: the first start of a window starts it
  redis.call('SET', counter, 0, 'EX', window, 'NX')
  if redis.call('INCR', counter) > starts then
    return {'', -1, '', math.max(redis.call('PTTL', counter), 0)}
  end
end
if open and max_open > 0 then
  if redis.call('HEXISTS', open, '_') == 0 then
    -- Once per owner: the sessions made before the hash was kept, from the owner's index.
    for _, sid in ipairs(redis.call('ZRANGE', index, 0, -1)) do
      if OPEN[redis.call('HGET', ARGV[12] .. sid .. ARGV[13], 'status') or ''] then
        redis.call('HSET', open, sid, 1)
      end
    end
    redis.call('HSET', open, '_', 1)
  end
  if redis.call('HLEN', open) - 1 >= max_open then return {'', -2, '', 0} end
end
if idem then redis.call('SET', idem, id .. '\n' .. fp, 'EX', tonumber(ARGV[3])) end
local fields = {}
for i = 14, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', rec, unpack(fields))
redis.call('XADD', evs, '1-0', 'f', '{"seq":1,' .. string.sub(ARGV[4], 2))
-- Each index keeps the newest OWNER_INDEX_CAP ids; expired ones leave it lazily
-- (list_sessions), so a user who never lists cannot make it grow without bound.
for _, idx in ipairs({index, KEYS[7]}) do
  redis.call('ZADD', idx, 0, id)
  if redis.call('ZCARD', idx) > OWNER_INDEX_CAP then
    redis.call('ZREMRANGEBYRANK', idx, 0, -(OWNER_INDEX_CAP + 1))
  end
end
if open then redis.call('HSET', open, id, 1) end  -- until it finishes (common.lua finish)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[5]), id)
local seed = cjson.decode(ARGV[6])
if seed.j then for k, v in pairs(seed.j) do redis.call('HSET', KEYS[5], k, v) end end
if seed.a then for k, v in pairs(seed.a) do redis.call('HSET', KEYS[6], k, v) end end
return {id, 1, fp}
