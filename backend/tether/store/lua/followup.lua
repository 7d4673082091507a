-- Change an open request in place (a reminder or an escalation): only while it is open,
-- only by the runner that holds the session's lease; relists it in the inboxes of its
-- (maybe grown) assignees and appends the event that tells every tab.
-- KEYS: see common.lua (1 to 13), then 14-16 the outbox's (session list, due, claims)
-- ARGV: ts, cap, ttl, runner, channel, request id, pending request JSON, opened ms,
--       assignees (JSON list), event body, session id, notification JSON ('' = none),
--       then common.lua's four
local ts, cap, ttl, runner, chan = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local rid = ARGV[6]
local cur = redis.call('HMGET', rec, 'status', 'last_seq', 'runner')
if not cur[1] then return redis.error_reply('unknown_session') end
if cur[3] ~= runner then return redis.error_reply('lease_lost') end
if TERMINAL[cur[1]] or redis.call('HEXISTS', pend, rid) == 0 then return 'closed' end
seq = tonumber(cur[2])
redis.call('HSET', pend, rid, ARGV[7])
unlist_request(rid, ARGV[11])
list_request(rid, ARGV[8], cjson.decode(ARGV[9]), ARGV[11])
push(ARGV[10], cap)
if ARGV[12] ~= '' then enqueue(KEYS[14], KEYS[15], KEYS[16], ARGV[11], ARGV[12]) end
finish(cur[1], ts, ttl, chan, ARGV[11])
return 'ok'
