-- A worker takes a request: moved to its processing hash in the same call.
-- KEYS: queue, workers, busy, processing, seq, sites version
-- ARGV: ttl ms, queue kind, worker, acks, releases
-- Returns: false, or the request's id, its data, the sites version, queue length.
settle(KEYS[4], ARGV[4], ARGV[5])
local data, score
if ARGV[2] == 'zset' then
  local top = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  data, score = top[1], top[2]
  if data then redis.call('ZREM', KEYS[1], data) end
elseif ARGV[2] == 'fifo' then
  data = redis.call('RPOP', KEYS[1])
else
  data = redis.call('LPOP', KEYS[1])
end
if not data then return false end
local now = now_ms()
local id = redis.call('INCR', KEYS[5])
redis.call('HSET', KEYS[4], id, (score or '0') .. '\n' .. data)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[1]), ARGV[3])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), ARGV[3])
return {id, data, redis.call('GET', KEYS[6]) or '0', qlen(KEYS[1], ARGV[2])}
