-- Let a claimed session go: drop the finished notifications at the head of its outbox
-- (each every channel delivered or gave up) with their delivery states, then make it due
-- again: now if notifications came that the dispatcher did not see, after `delay` when
-- one waits for a retry, never when its outbox is empty.
-- KEYS: outbox due, outbox claims, the session's outbox list, its deliveries hash
-- ARGV: session id, dispatcher, delay ms ('' = none waits), how many it saw,
--       n (how many finished ids follow), n notification ids, then delivery fields
local sid = ARGV[1]
if redis.call('HGET', KEYS[2], sid) ~= ARGV[2] then return 0 end
local n = tonumber(ARGV[5])
local dropped = 0
for i = 6, 5 + n do
  local head = redis.call('LINDEX', KEYS[3], 0)
  if not head or cjson.decode(head).id ~= ARGV[i] then break end
  redis.call('LPOP', KEYS[3])
  dropped = dropped + 1
end
for i = 6 + n, #ARGV do redis.call('HDEL', KEYS[4], ARGV[i]) end
redis.call('HDEL', KEYS[2], sid)
local left = redis.call('LLEN', KEYS[3])
if left == 0 then
  redis.call('ZREM', KEYS[1], sid)
  redis.call('DEL', KEYS[4])
elseif left > tonumber(ARGV[4]) - dropped or ARGV[3] == '' then
  redis.call('ZADD', KEYS[1], 0, sid)
else
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), sid)
end
return 1
