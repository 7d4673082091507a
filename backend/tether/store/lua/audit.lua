-- Shared by resolve.lua, cancel.lua and audit_add.lua (prepended when they are loaded).
-- Append an audit entry (its JSON, audit.py) to the log stream `key`, kept to about `cap`
-- entries. `at` is '*' on one Redis (Redis numbers the entry by its clock), or on a
-- cluster the hub's clock in microseconds: each bucket has its own stream, and entries
-- of different buckets can only be put in the order they were written if their ids say
-- when that was, finer than a millisecond (store/audit_ids.py). An id never goes back: a
-- hub whose clock is behind the stream's last entry writes at that entry's time.
local function add_audit(key, cap, at, entry)
  local id = '*'
  if at ~= '*' then
    local t = tonumber(at)
    local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
    if last[1] then
      local was = tonumber(string.match(last[1][1], '^(%d+)'))
      if was > t then t = was end
    end
    id = string.format('%.0f', t) .. '-*'
  end
  redis.call('XADD', key, 'MAXLEN', '~', cap, id, 'e', entry)
end
