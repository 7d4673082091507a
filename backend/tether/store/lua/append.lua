-- KEYS: see common.lua
-- ARGV: ts, cap, ttl, runner ('' = any), channel, entries (JSON list), session id,
--       batch token ('' = none: a retry of the last batch applied is not applied again)
-- Entry: {b = body?, s = emit scope?, set = {field = value}, padd = {id = json},
--         pdel = [id], j = {key = json}, p = {label = progress json}}
local ts, cap, ttl, runner, chan = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local cur = redis.call('HMGET', rec, 'status', 'last_seq', 'runner')
if not cur[1] then return redis.error_reply('unknown_session') end
if runner ~= '' and cur[3] ~= runner then return redis.error_reply('lease_lost') end
local status = cur[1]
seq = tonumber(cur[2])
if ARGV[8] ~= '' then
  if redis.call('HGET', rec, 'batch') == ARGV[8] then return seq end
  redis.call('HSET', rec, 'batch', ARGV[8])
end
for _, e in ipairs(cjson.decode(ARGV[6])) do
  if TERMINAL[status] then break end
  local explicit = nil
  if e.set then
    for k, v in pairs(e.set) do
      if k == 'status' then explicit = v else redis.call('HSET', rec, k, v) end
    end
  end
  if e.padd then for k, v in pairs(e.padd) do redis.call('HSET', pend, k, v) end end
  if e.pdel then for _, k in ipairs(e.pdel) do redis.call('HDEL', pend, k) end end
  if e.b then
    push(e.b, cap)
    if e.s then redis.call('HINCRBY', KEYS[6], e.s, 1) end
  end
  if e.p then for k, v in pairs(e.p) do redis.call('HSET', KEYS[9], k, v) end end
  if e.j then
    for k, v in pairs(e.j) do
      redis.call('HSET', KEYS[5], k, v)
      redis.call('HSET', marks, 'j:' .. k, seq)
    end
  end
  status = settle(status, explicit, ts, cap)
end
finish(status, ts, ttl, chan, ARGV[7])
return seq
