-- Unfinished sessions whose record names this runner (a restarted hub reclaims them at
-- once instead of waiting for their leases to run out). Scans the lease index: run once
-- at start-up, not on a hot path.
-- KEYS: active   ARGV: runner, then what a record key is made of: the text before the
-- session id and the text after it (store/keys.py Layout.record_affixes)
local owned = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('HGET', ARGV[2] .. sid .. ARGV[3], 'runner') == ARGV[1] then
    owned[#owned + 1] = sid
  end
end
return owned
