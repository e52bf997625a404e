-- An article's URL keys and content hash are claimed for a worker.
-- KEYS: claims, hashes, totals, dead, workers
-- ARGV: url, content hash, worker, url keys...
-- A claim holds its worker's id until the line is written ("1" then): a claim of
-- a worker that died before writing is taken over, not honoured.
-- Returns '' (claimed), 'duplicate_url' or 'duplicate_content'.
local now = now_ms()
local function held(key, field)
  local holder = redis.call('HGET', key, field)
  if not holder then return false end
  if holder == '1' or holder == ARGV[3] then return true end
  local expiry = redis.call('ZSCORE', KEYS[5], holder)
  return expiry ~= false and tonumber(expiry) > now
end
for i = 4, #ARGV do
  if held(KEYS[1], ARGV[i]) then return 'duplicate_url' end
end
if ARGV[2] ~= '' and held(KEYS[2], ARGV[2]) then return 'duplicate_content' end
for i = 4, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], ARGV[3]) end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) end
redis.call('HINCRBY', KEYS[3], 'items', 1)
redis.call('HDEL', KEYS[4], ARGV[1])
return ''
