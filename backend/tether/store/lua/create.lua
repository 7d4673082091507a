-- Create a session, or return the one an Idempotency-Key already made.
-- KEYS: rec, evs, owner index (sorted set), idempotency key ('' when none), active leases,
--       journal, answers
-- ARGV: id, fingerprint, idempotency ttl, first event body, lease ms,
--       seed (JSON {"j": {key: json}, "a": {request id: json}}; a fork's past), then
--       field/value pairs of the record
local rec, evs, index, idem = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local OWNER_INDEX_CAP = 10000
local id, fp = ARGV[1], ARGV[2]
if idem ~= '' then
  local known = redis.call('GET', idem)
  if known then
    local sep = string.find(known, '\n', 1, true)
    return {string.sub(known, 1, sep - 1), 0, string.sub(known, sep + 1)}
  end
  redis.call('SET', idem, id .. '\n' .. fp, 'EX', tonumber(ARGV[3]))
end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', rec, unpack(fields))
redis.call('XADD', evs, '1-0', 'f', '{"seq":1,' .. string.sub(ARGV[4], 2))
redis.call('ZADD', index, 0, id)
-- The owner's index keeps the newest OWNER_INDEX_CAP ids; expired ones leave it lazily
-- (list_sessions), so a user who never lists cannot make it grow without bound.
if redis.call('ZCARD', index) > OWNER_INDEX_CAP then
  redis.call('ZREMRANGEBYRANK', index, 0, -(OWNER_INDEX_CAP + 1))
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[5], now + tonumber(ARGV[5]), id)
local seed = cjson.decode(ARGV[6])
if seed.j then for k, v in pairs(seed.j) do redis.call('HSET', KEYS[6], k, v) end end
if seed.a then for k, v in pairs(seed.a) do redis.call('HSET', KEYS[7], k, v) end end
return {id, 1, fp}
