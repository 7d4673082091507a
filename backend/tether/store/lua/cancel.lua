-- KEYS: rec   ARGV: channel
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'unknown_session' end
if status == 'completed' or status == 'failed' or status == 'cancelled' then
  return 'already_finished'
end
redis.call('HSET', KEYS[1], 'cancel', '1')
redis.call('PUBLISH', ARGV[1], 'Ccancel')
return 'ok'
