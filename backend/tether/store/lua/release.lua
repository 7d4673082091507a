-- Give leases up at once (graceful shutdown): another hub may claim them immediately.
-- KEYS: active   ARGV: runner, session ids...
local ARGV_CHANNEL = 'tether:ch:__released__'  -- store/base.py RELEASES
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
-- Tell every hub's lease keeper (they listen like to a session) to adopt them now.
if released > 0 then redis.call('PUBLISH', ARGV_CHANNEL, 'Creleased') end
return released
