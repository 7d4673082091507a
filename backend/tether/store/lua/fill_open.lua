-- On a cluster: the first time an owner's open sessions are checked, the hub has read them
-- from the owner's index (every bucket) and lists them here; kept unless another hub did
-- the same first. Fine to race with finishing sessions: finished ones are dropped as found.
-- KEYS: 1 the owner's open sessions (see reserve.lua)   ARGV: the open sessions' ids
if redis.call('HEXISTS', KEYS[1], '_') == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], now) end
redis.call('HSET', KEYS[1], '_', 1)
return 1
