-- Renew a session log's epoch (epochs.py), unless it moved on already.
-- KEYS: rec. ARGV: the epoch to replace ('' = only if the log has none), the new one.
-- Returns the epoch the log has now; an error reply when the session is unknown.
local rec = KEYS[1]
if redis.call('EXISTS', rec) == 0 then return redis.error_reply('unknown_session') end
local current = redis.call('HGET', rec, 'epoch')
if not current or current == ARGV[1] then
  redis.call('HSET', rec, 'epoch', ARGV[2])
  return ARGV[2]
end
return current
