-- Unfinished sessions whose record names this runner (a restarted hub reclaims them at
-- once instead of waiting for their leases to run out). Scans the lease index: run once
-- at start-up, not on a hot path.
-- KEYS: active   ARGV: runner
local owned = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('HGET', 'tether:{' .. sid .. '}:rec', 'runner') == ARGV[1] then
    owned[#owned + 1] = sid
  end
end
return owned
