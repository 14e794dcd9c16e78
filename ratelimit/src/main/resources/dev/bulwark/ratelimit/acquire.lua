-- bulwark rate limiter: takes permits from every limit of one key, or from none, atomically.
-- KEYS: one bucket per limit, all in one hash slot.
-- ARGV: want, need, now (microseconds; empty for the server's TIME), then per limit w, m, cap, full.
-- A bucket is "debt:last": its debt (how far from full, a permit weighing w and a microsecond
-- refilling m) and the time it was last written. Every number stays below 2^53, exact in Lua.
-- Takes the most permits from want down to need that every limit has, or none when one lacks need.
-- Returns {permits taken, now, the debt of each bucket afterwards}.
if redis.replicate_commands then
  redis.replicate_commands()
end
local want = tonumber(ARGV[1])
local need = tonumber(ARGV[2])
local now
if ARGV[3] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
else
  now = tonumber(ARGV[3])
end
local debts = {}
local grant = want
for i = 1, #KEYS do
  local a = 3 + (i - 1) * 4
  local w = tonumber(ARGV[a + 1])
  local m = tonumber(ARGV[a + 2])
  local cap = tonumber(ARGV[a + 3])
  local full = tonumber(ARGV[a + 4])
  local debt = 0
  local state = redis.call('GET', KEYS[i])
  if state then
    local sep = string.find(state, ':', 1, true)
    local elapsed = now - tonumber(string.sub(state, sep + 1))
    if elapsed < 0 then
      elapsed = 0
    end
    if elapsed < full then
      debt = tonumber(string.sub(state, 1, sep - 1)) - elapsed * m
      if debt < 0 then
        debt = 0
      end
    end
  end
  debts[i] = debt
  local free = cap - debt
  local fits = math.floor(free / w)
  while fits * w > free do
    fits = fits - 1
  end
  while (fits + 1) * w <= free do
    fits = fits + 1
  end
  if fits < grant then
    grant = fits
  end
end
if grant < need then
  grant = 0
end
local reply = {grant, now}
for i = 1, #KEYS do
  local a = 3 + (i - 1) * 4
  local debt = debts[i]
  if grant > 0 then
    local m = tonumber(ARGV[a + 2])
    debt = debt + grant * tonumber(ARGV[a + 1])
    local ttl = math.floor(debt / m / 1000) + 1
    redis.call('SET', KEYS[i], string.format('%.0f:%.0f', debt, now), 'PX', string.format('%.0f', ttl))
  end
  reply[i + 2] = debt
end
return reply
