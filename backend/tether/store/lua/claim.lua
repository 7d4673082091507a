-- Take the lease of a session: it is unfinished and nobody holds a live lease on it.
-- KEYS: rec, active (sorted set: session id -> lease expiry in ms, Redis clock)
-- ARGV: session id, runner, lease ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 'gone'
end
if status == 'completed' or status == 'failed' or status == 'cancelled' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 'finished'
end
local expiry = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
if expiry > now and redis.call('HGET', KEYS[1], 'runner') ~= ARGV[2] then
  return 'held'
end
redis.call('HSET', KEYS[1], 'runner', ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
return 'ok'
