-- A worker's heartbeat: refresh its entries, put dead workers' requests back.
-- KEYS: workers, busy, queue, processing
-- ARGV: worker, ttl ms, queue kind, prefix, busy, acks, releases
-- Returns: queue length, other workers busy, other workers alive, requeued.
settle(KEYS[4], ARGV[6], ARGV[7])
local now = now_ms()
local requeued = reap(KEYS[1], KEYS[2], KEYS[3], ARGV[3], ARGV[4], now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
local busy = redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')
if ARGV[5] == '1' then busy = busy - 1 end
return {qlen(KEYS[3], ARGV[3]), busy, redis.call('ZCARD', KEYS[1]) - 1, requeued}
