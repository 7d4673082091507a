-- On a cluster, before create.lua: count an owner's start and reserve its place among the
-- owner's open sessions, in the owner's home bucket (store/start_quota.py), so concurrent
-- starts on any hub cannot all pass. create.lua cannot: its keys are in the new session's
-- bucket.
-- KEYS: 1 the owner's start counter (a Store.hit key), 2 the owner's open sessions (hash:
--       session id -> when it was reserved, ms; "_" once it holds every open session)
-- ARGV: 1 the new session's id ('' to only drop the ids listed), 2 starts allowed per window (0: no limit), 3 the window
--       (s), 4 open sessions allowed (0: no limit), 5 '1' to count the start ('' when this
--       start was counted by an earlier call), then ids to drop from the hash first (the
--       hub found them finished, or never made)
-- Returns {1} (reserved), {-1, ms left in the window} (too many starts), {-2, id, ...}
-- (too many open sessions, listed), {-3} (the hash is not complete: the hub fills it).
local counter, open = KEYS[1], KEYS[2]
local starts, window, max_open = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for i = 6, #ARGV do redis.call('HDEL', open, ARGV[i]) end
if ARGV[5] == '1' and starts > 0 then  -- as create.lua counts on one Redis
  redis.call('SET', counter, 0, 'EX', window, 'NX')
  if redis.call('INCR', counter) > starts then
    return {-1, math.max(redis.call('PTTL', counter), 0)}
  end
end
if max_open > 0 then
  if redis.call('HEXISTS', open, '_') == 0 then return {-3} end
  if redis.call('HLEN', open) - 1 >= max_open then
    local listed = {-2}
    for _, sid in ipairs(redis.call('HKEYS', open)) do
      if sid ~= '_' then listed[#listed + 1] = sid end
    end
    return listed
  end
end
if ARGV[1] ~= '' then
  local t = redis.call('TIME')
  redis.call('HSET', open, ARGV[1], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
return {1}
