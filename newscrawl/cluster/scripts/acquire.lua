-- A lease on a host, for one download (HostGate).
-- KEYS: leases, next start, processing
-- ARGV: token, limit, interval ms, lease ttl ms, acks, releases
-- Returns 0 (leased), -1 (full: poll) or the milliseconds to wait before asking again.
settle(KEYS[3], ARGV[5], ARGV[6])
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if nxt > now then return math.max(1, math.ceil(nxt - now)) end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
local interval = tonumber(ARGV[3])
if interval > 0 then
  redis.call('SET', KEYS[2], now + interval, 'PX', interval + 1000)
end
return 0
