-- Create a session, or return the one an Idempotency-Key already made.
-- KEYS: rec, evs, owner index (sorted set), idempotency key ('' when none)
-- ARGV: id, fingerprint, idempotency ttl, first event body, then field/value pairs
local rec, evs, index, idem = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
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
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', rec, unpack(fields))
redis.call('XADD', evs, '1-0', 'f', '{"seq":1,' .. string.sub(ARGV[4], 2))
redis.call('ZADD', index, 0, id)
return {id, 1, fp}
