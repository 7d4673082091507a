-- Shared by append.lua and resolve.lua (prepended when the scripts are loaded).
-- Key layout: KEYS[1] record hash, KEYS[2] pending hash, KEYS[3] event stream,
-- the rest per script. The record's last_seq is the only counter; a stream entry's id is
-- "<seq>-0", so XRANGE by seq needs no lookup table.
local rec, pend, evs = KEYS[1], KEYS[2], KEYS[3]
local TERMINAL = {completed = true, failed = true, cancelled = true}
local frames = {}
local seq = 0

local function push(body, cap)
  seq = seq + 1
  local frame = '{"seq":' .. seq .. ',' .. string.sub(body, 2)
  redis.call('XADD', evs, 'MAXLEN', '~', cap, seq .. '-0', 'f', frame)
  frames[#frames + 1] = frame
end

-- Must produce exactly what messages.event_body(StatusEvent(...)) produces.
local function status_body(ts, status)
  return '{"ts":"' .. ts .. '","type":"status","status":"' .. status .. '"}'
end

-- running <-> waiting follows the open requests; an explicit status wins.
local function settle(status, explicit, ts, cap)
  local new = explicit
  if new == nil and (status == 'running' or status == 'waiting') then
    if redis.call('HLEN', pend) > 0 then new = 'waiting' else new = 'running' end
  end
  if new ~= nil and new ~= status then
    redis.call('HSET', rec, 'status', new)
    push(status_body(ts, new), cap)
    return new
  end
  return status
end

-- After a write: bookkeeping, retention for finished sessions, one publish for the batch.
local function finish(status, ts, ttl, chan, extra_keys)
  if #frames == 0 then return end
  redis.call('HSET', rec, 'last_seq', seq, 'updated_at', ts)
  if TERMINAL[status] then
    redis.call('DEL', pend)
    for _, k in ipairs(extra_keys) do redis.call('EXPIRE', k, ttl) end
  end
  redis.call('PUBLISH', chan, 'E' .. table.concat(frames, '\n'))
end
