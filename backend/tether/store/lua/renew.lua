-- Extend this runner's leases; return the ids it no longer holds.
-- KEYS: active, then the record of each session named in ARGV, in the same order
-- ARGV: runner, lease ms, session ids...
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lost = {}
for i = 3, #ARGV do
  local sid = ARGV[i]
  local fields = redis.call('HMGET', KEYS[i - 1], 'runner', 'status')
  local status = fields[2]
  if fields[1] == ARGV[1] and status and status ~= 'completed' and status ~= 'failed'
      and status ~= 'cancelled' then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), sid)
  else
    lost[#lost + 1] = sid
  end
end
return lost
