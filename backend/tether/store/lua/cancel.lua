-- KEYS: rec, the audit log stream
-- ARGV: channel, who asks ('' = unknown), audit entry JSON ('' = none), the audit cap,
--       the publish command (store/keys.py Layout.publish), the audit entry's time
--       (audit.lua)
-- The first to ask is who cancelled the session: a later cancel while it runs is told to
-- the runner again (idempotent), naming the same person.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'unknown_session' end
if status == 'completed' or status == 'failed' or status == 'cancelled' then
  return 'already_finished'
end
if redis.call('HGET', KEYS[1], 'cancel') ~= '1' then
  redis.call('HSET', KEYS[1], 'cancel', '1', 'cancel_by', ARGV[2])
end
local by = redis.call('HGET', KEYS[1], 'cancel_by')
if by and by ~= '' then
  redis.call(ARGV[5], ARGV[1], 'Ccancel:' .. by)  -- store/base.py cancel_command
else
  redis.call(ARGV[5], ARGV[1], 'Ccancel')
end
if ARGV[3] ~= '' then
  add_audit(KEYS[2], ARGV[4], ARGV[6], ARGV[3])
end
return 'ok'
