-- Record one channel's delivery state of one notification, if this dispatcher still holds
-- the session's claim (a dispatcher that lost it writes nothing; the holder sends again).
-- KEYS: outbox claims, the session's deliveries hash
-- ARGV: session id, dispatcher, field ("<notification id> <channel>"), state JSON
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
return 1
