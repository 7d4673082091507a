-- Give leases up at once (graceful shutdown): another hub may claim them immediately.
-- KEYS: active   ARGV: runner, session ids...
local released = 0
for i = 2, #ARGV do
  local sid = ARGV[i]
  if redis.call('HGET', 'tether:{' .. sid .. '}:rec', 'runner') == ARGV[1] then
    if redis.call('ZSCORE', KEYS[1], sid) then
      redis.call('ZADD', KEYS[1], 0, sid)
      released = released + 1
    end
  end
end
return released
