-- Shared by append_many.lua, resolve.lua and followup.lua (prepended when the scripts are
-- loaded). A session's keys (resolve's and followup's KEYS 1-13; append_many.lua builds
-- the same list for each session of its batch, store/keys.py Layout.script_keys): 1 record hash, 2 pending hash, 3 event stream, 4 answers hash,
-- 5 journal hash, 6 emit counts hash, 7 seq marks hash, 8 the active-leases sorted set,
-- 9 progress hash (label -> the latest ProgressInfo JSON, kept with its event),
-- 10 shares hash and 11 share links hash (sharing.py: kept as long as the session).
-- 12 assignees set (every assignee the session's requests ever had: they may read it),
-- 13 listed hash (open request id -> the inbox keys it is listed in, one per line).
-- After these come the outbox's three keys (append_many 14-16, resolve 15-17):
-- the session's outbox list, the outbox due set and the outbox claims hash (store/keys.py).
-- The record's last_seq is the only counter; a stream entry's id is "<seq>-0", so
-- XRANGE by seq needs no lookup table. The marks hash remembers at which seq each journal
-- entry ("j:<key>") and answer ("a:<request id>") was written, so a fork can cut there.
-- K is the session's keys as listed above: KEYS itself, except in append_many.lua, which
-- points K (and the names below) at each session of its batch in turn.
local K = KEYS
local rec, pend, evs, marks, active = K[1], K[2], K[3], K[7], K[8]
local TERMINAL = {completed = true, failed = true, cancelled = true}
-- The last four ARGV say how the deployment names what a write makes from the data it
-- reads (store/keys.py Layout.script_args): the publish command (PUBLISH; SPUBLISH on a
-- cluster), the prefix of an inbox key (and the inbox's name after it), the prefix of an
-- owner's open-sessions hash ('' when it is kept where this script cannot reach it), and
-- the channel the dispatchers listen on.
local PUBLISH, INBOX, OPEN_SESSIONS, OUTBOX_CHANNEL =
  ARGV[#ARGV - 3], ARGV[#ARGV - 2], ARGV[#ARGV - 1], ARGV[#ARGV]
local OWNER_INBOX = 'owner:'   -- store/base.py OWNER_INBOX_PREFIX
-- One session's write: the frames it pushed, and its last seq (append_many.lua resets
-- both before each session of its batch).
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

-- An opened request goes into the inbox of each assignee or, unassigned, its owner's
-- (store/base.py inboxes_of), scored by when it opened; closing it takes it out.
local function list_request(rid, score, assignees, session_id)
  if redis.call('HEXISTS', K[13], rid) == 1 then return end
  local names = {}
  if #assignees == 0 then
    names[1] = INBOX .. OWNER_INBOX .. redis.call('HGET', rec, 'owner')
  else
    for _, a in ipairs(assignees) do
      names[#names + 1] = INBOX .. a
      redis.call('SADD', K[12], a)
    end
  end
  local member = session_id .. '/' .. rid
  for _, k in ipairs(names) do redis.call('ZADD', k, score, member) end
  redis.call('HSET', K[13], rid, table.concat(names, '\n'))
end

local function unlist_request(rid, session_id)
  local names = redis.call('HGET', K[13], rid)
  if not names then return end
  local member = session_id .. '/' .. rid
  for k in string.gmatch(names, '[^\n]+') do redis.call('ZREM', k, member) end
  redis.call('HDEL', K[13], rid)
end

-- A notification (notifications.py, its JSON made in Python without "seq") caused by the
-- event just pushed: numbered like a frame and queued in the session's outbox. The session
-- is due for dispatch now, unless a dispatcher holds it (it looks again before letting go).
local function enqueue(list, due, claims, session_id, body)
  redis.call('RPUSH', list, '{"seq":' .. seq .. ',' .. string.sub(body, 2))
  if redis.call('HEXISTS', claims, session_id) == 0 then
    redis.call('ZADD', due, 0, session_id)
  else
    redis.call('ZADD', due, 'NX', 0, session_id)
  end
  redis.call(PUBLISH, OUTBOX_CHANNEL, 'Coutbox')
end

-- After a write: bookkeeping, retention for finished sessions, one publish for the batch.
local function finish(status, ts, ttl, chan, session_id)
  if #frames == 0 then return end
  redis.call('HSET', rec, 'last_seq', seq, 'updated_at', ts)
  if TERMINAL[status] then
    for _, rid in ipairs(redis.call('HKEYS', K[13])) do unlist_request(rid, session_id) end
    redis.call('DEL', pend)
    redis.call('ZREM', active, session_id)
    if OPEN_SESSIONS ~= '' then
      redis.call('HDEL', OPEN_SESSIONS .. redis.call('HGET', rec, 'owner'), session_id)
    end
    for i = 1, 7 do redis.call('EXPIRE', K[i], ttl) end
    for i = 9, 12 do redis.call('EXPIRE', K[i], ttl) end
  end
  redis.call(PUBLISH, chan, 'E' .. table.concat(frames, '\n'))
end
