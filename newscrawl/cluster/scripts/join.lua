-- A worker enters the cluster.
-- KEYS: workers, busy, queue, dupefilter, claims, hashes, totals
-- ARGV: worker, ttl ms, queue kind, prefix, persist
-- Returns: whether a new run began, requests of dead workers put back.
local now = now_ms()
local requeued = reap(KEYS[1], KEYS[2], KEYS[3], ARGV[3], ARGV[4], now)
local fresh = 0
if redis.call('ZCARD', KEYS[1]) == 0 and qlen(KEYS[3], ARGV[3]) == 0 then
  -- An empty, drained cluster: a new run, whatever a crashed one left.
  if ARGV[5] ~= '1' then redis.call('DEL', KEYS[4], KEYS[5], KEYS[6], KEYS[7]) end
  fresh = 1
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return {fresh, requeued}
