-- A request a stopping worker aborted goes back to the queue.
-- KEYS: processing, queue; ARGV: id, queue kind
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
push_back(KEYS[2], ARGV[2], entry)
return 1
