-- Close an open request exactly once (an answer or an expiry).
-- KEYS: see common.lua (1 to 13), then 14 the audit log stream, 15-17 the outbox's
--       (session list, due, claims)
-- ARGV: ts, cap, ttl, channel, request_id, answer_json, event body, session id,
--       audit entry JSON ('' = none), the audit log's cap,
--       notification JSON without seq ('' = none; caused by the event), the audit entry's
--       time (audit.lua), then common.lua's four
-- The audit entry is added in this same step: no answer is recorded without it.
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
unlist_request(rid, ARGV[8])
push(ARGV[7], cap)
if ARGV[11] ~= '' then enqueue(KEYS[15], KEYS[16], KEYS[17], ARGV[8], ARGV[11]) end
redis.call('HSET', marks, 'a:' .. rid, seq)
local status = settle(cur[1], nil, ts, cap)
finish(status, ts, ttl, chan, ARGV[8])
if ARGV[9] ~= '' then
  add_audit(KEYS[14], ARGV[10], ARGV[12], ARGV[9])
end
return 'ok'
