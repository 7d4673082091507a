-- Claim sessions whose outbox is due (new notifications, a retry whose time came, or a
-- claim whose dispatcher died): each is held by this dispatcher until the lease runs out.
-- KEYS: outbox due (sorted set: session id -> due ms, or claim expiry ms; Redis clock),
--       outbox claims (hash: session id -> dispatcher)
-- ARGV: dispatcher, lease ms, how many at most
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
for _, sid in ipairs(due) do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), sid)
  redis.call('HSET', KEYS[2], sid, ARGV[1])
end
return due
