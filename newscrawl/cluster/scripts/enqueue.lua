-- The seen-set and the queue in one round trip, atomically.
-- KEYS: dupefilter, queue; ARGV: fingerprint, score, request, queue kind
-- Returns 1 if the request was new (and queued), 0 if seen before.
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[4] == 'zset' then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
else
  redis.call('LPUSH', KEYS[2], ARGV[3])
end
return 1
