-- Queue a notification that no event carries (a reminder, an escalation): as common.lua's
-- enqueue does for the others.
-- KEYS: the session's outbox list, outbox due, outbox claims
-- ARGV: session id, JSON, the dispatchers' channel, the publish command (store/keys.py)
redis.call('RPUSH', KEYS[1], ARGV[2])
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then
  redis.call('ZADD', KEYS[2], 0, ARGV[1])
end
redis.call(ARGV[4], ARGV[3], 'Coutbox')
return 1
