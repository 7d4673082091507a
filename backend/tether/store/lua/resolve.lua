-- Close an open request exactly once (an answer or an expiry).
-- KEYS: see common.lua
-- ARGV: ts, cap, ttl, channel, request_id, answer_json, event body, session id
local ts, cap, ttl, chan = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local rid = ARGV[5]
local cur = redis.call('HMGET', rec, 'status', 'last_seq')
if not cur[1] then return 'unknown_request' end
if redis.call('HEXISTS', KEYS[4], rid) == 1 then return 'already_answered' end
if TERMINAL[cur[1]] then return 'session_finished' end
if redis.call('HEXISTS', pend, rid) == 0 then return 'unknown_request' end
seq = tonumber(cur[2])
redis.call('HSET', KEYS[4], rid, ARGV[6])
redis.call('HDEL', pend, rid)
push(ARGV[7], cap)
redis.call('HSET', marks, 'a:' .. rid, seq)
local status = settle(cur[1], nil, ts, cap)
finish(status, ts, ttl, chan, ARGV[8])
return 'ok'
