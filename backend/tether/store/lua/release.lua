-- Give leases up at once (graceful shutdown): another hub may claim them immediately.
-- KEYS: active, then the record of each session named in ARGV, in the same order
-- ARGV: runner, the lease keepers' channel, the publish command (store/keys.py), then
--       the session ids
local released = 0
for i = 4, #ARGV do
  local sid = ARGV[i]
  if redis.call('HGET', KEYS[i - 2], 'runner') == ARGV[1] then
    if redis.call('ZSCORE', KEYS[1], sid) then
      redis.call('ZADD', KEYS[1], 0, sid)
      released = released + 1
    end
  end
end
-- Tell every hub's lease keeper (they listen like to a session) to adopt them now.
if released > 0 then redis.call(ARGV[3], ARGV[2], 'Creleased') end
return released
