-- Shared by append.lua and resolve.lua (prepended when the scripts are loaded).
-- KEYS (both scripts): 1 record hash, 2 pending hash, 3 event stream, 4 answers hash,
-- 5 journal hash, 6 emit counts hash, 7 seq marks hash, 8 the active-leases sorted set,
-- 9 progress hash (label -> the latest ProgressInfo JSON, kept with its event).
-- The record's last_seq is the only counter; a stream entry's id is "<seq>-0", so
-- XRANGE by seq needs no lookup table. The marks hash remembers at which seq each journal
-- entry ("j:<key>") and answer ("a:<request id>") was written, so a fork can cut there.
local rec, pend, evs, marks, active = KEYS[1], KEYS[2], KEYS[3], KEYS[7], KEYS[8]
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
local function finish(status, ts, ttl, chan, session_id)
  if #frames == 0 then return end
  redis.call('HSET', rec, 'last_seq', seq, 'updated_at', ts)
  if TERMINAL[status] then
    redis.call('DEL', pend)
    redis.call('ZREM', active, session_id)
    for i = 1, 7 do redis.call('EXPIRE', KEYS[i], ttl) end
    redis.call('EXPIRE', KEYS[9], ttl)
  end
  redis.call('PUBLISH', chan, 'E' .. table.concat(frames, '\n'))
end
