-- bulwark rate limiter: gives unspent permits of a batch back to every limit of one key.
-- KEYS: the key's buckets, as for acquire.lua. ARGV: the permits, then each limit's w.
-- A bucket "debt:last" becomes "max(0, debt - permits * w):last", exactly as if the permits had
-- never been taken; its expiry is kept, which is never earlier than the new debt needs.
local permits = tonumber(ARGV[1])
for i = 1, #KEYS do
  local state = redis.call('GET', KEYS[i])
  if state then
    local sep = string.find(state, ':', 1, true)
    local debt = tonumber(string.sub(state, 1, sep - 1)) - permits * tonumber(ARGV[i + 1])
    if debt < 0 then
      debt = 0
    end
    redis.call('SET', KEYS[i], string.format('%.0f', debt) .. string.sub(state, sep), 'KEEPTTL')
  end
end
return 1
