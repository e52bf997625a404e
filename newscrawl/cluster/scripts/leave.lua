-- A worker leaves: its unfinished requests go back; the last one clears the run.
-- KEYS: workers, busy, queue, processing, dupefilter, claims, hashes
-- ARGV: worker, queue kind, persist, acks, releases
-- Returns: requests put back, other workers alive, whether the run was cleared.
settle(KEYS[4], ARGV[4], ARGV[5])
local back = requeue_all(KEYS[4], KEYS[3], ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
local others = redis.call('ZCOUNT', KEYS[1], '(' .. now_ms(), '+inf')
local cleared = 0
if others == 0 and qlen(KEYS[3], ARGV[2]) == 0 and ARGV[3] ~= '1' then
  redis.call('DEL', KEYS[5], KEYS[6], KEYS[7])
  cleared = 1
end
return {back, others, cleared}
