-- On a cluster: give back what reserve.lua took for a start that made no session (its
-- Idempotency-Key had made one already): the place, and the start counted, if counted.
-- KEYS: 1 the owner's start counter, 2 the owner's open sessions
-- ARGV: 1 the session id reserved for, 2 '1' when the start was counted
redis.call('HDEL', KEYS[2], ARGV[1])
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('DECR', KEYS[1]) end
return 1
