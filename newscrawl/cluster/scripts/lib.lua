-- Shared by the scripts (prepended to each but enqueue): Redis's clock (one
-- for every worker, whatever their machines' clocks say), and putting a dead
-- worker's requests back.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function push_back(queue, kind, entry)
  local sep = string.find(entry, '\n', 1, true)
  local score, data = string.sub(entry, 1, sep - 1), string.sub(entry, sep + 1)
  if kind == 'zset' then
    redis.call('ZADD', queue, score, data)
  elseif kind == 'fifo' then
    redis.call('RPUSH', queue, data)
  else
    redis.call('LPUSH', queue, data)
  end
end
local function qlen(queue, kind)
  if kind == 'zset' then return redis.call('ZCARD', queue) end
  return redis.call('LLEN', queue)
end
local function requeue_all(pkey, queue, kind)
  local entries = redis.call('HVALS', pkey)
  for _, entry in ipairs(entries) do push_back(queue, kind, entry) end
  redis.call('DEL', pkey)
  return #entries
end
-- Acknowledgements and lease releases a worker batched since its last call:
-- "id,id,..." and "key<TAB>token<NL>...".
local function settle(processing, acks, releases)
  for id in string.gmatch(acks, '[^,]+') do redis.call('HDEL', processing, id) end
  for key, token in string.gmatch(releases, '([^\t\n]+)\t([^\n]+)') do
    redis.call('ZREM', key, token)
  end
end
-- Workers whose entry expired are dead: their requests go back to the queue.
local function reap(workers, busy, queue, kind, prefix, now)
  local n = 0
  for _, w in ipairs(redis.call('ZRANGEBYSCORE', workers, '-inf', now)) do
    n = n + requeue_all(prefix .. ':processing:' .. w, queue, kind)
    redis.call('ZREM', workers, w)
    redis.call('ZREM', busy, w)
  end
  return n
end
