-- One state write and, for an entry counted against a ledger (a tenant's state or pins), the
-- ledger's usage, in one atomic step (see quota.rs). Every write of the Redis store goes here.
--
-- KEYS[1] the entry; for a counted entry also KEYS[2] the ledger's usage (hash: keys, bytes),
-- KEYS[3] the size of each counted entry (hash: entry -> bytes), KEYS[4] when counted entries
-- expire (sorted set). With KEYS[1] alone, the write is not counted.
-- ARGV[1] op: set, del, setnx, incr, cas; ARGV[2] now (Unix ms); ARGV[3] most keys; ARGV[4] most
-- bytes; ARGV[5] ttl ms (0: none); ARGV[6] the value (incr: the delta); ARGV[7] what the entry's key
-- costs; cas: ARGV[8] expected present (1/0), ARGV[9] expected, ARGV[10] new present (1/0).
-- Replies: set/del 1; setnx/cas 1 or 0; incr the new value as text, or false when the stored value
-- is not an integer (or the sum overflows); a refusal is the error `QUOTA <what> <used> <limit>`.
local entry, usage, sizes, expiry = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local op, now = ARGV[1], tonumber(ARGV[2])
local max_keys, max_bytes, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local key_cost = tonumber(ARGV[7])
local counted = #KEYS == 4

local function release(k)
  local size = redis.call('HGET', sizes, k)
  if size then
    redis.call('HDEL', sizes, k)
    redis.call('HINCRBY', usage, 'keys', -1)
    redis.call('HINCRBY', usage, 'bytes', -tonumber(size))
  end
  redis.call('ZREM', expiry, k)
end

-- Counted entries whose expiry passed: released when Redis expired them, filed again when their
-- expiry moved (a bounded number per write, so a tenant's writes keep its figure current).
if counted then
  for _, k in ipairs(redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, 64)) do
    local left = redis.call('PTTL', k)
    if left > 0 then
      redis.call('ZADD', expiry, now + left, k)
    elseif left == -1 then
      redis.call('ZREM', expiry, k)
    else
      release(k)
    end
  end
  if redis.call('EXISTS', entry) == 0 then
    release(entry)
  end
end

-- Charges turning the entry into one with a value of `len` bytes (nil: removed); an error reply
-- when that grows the tenant past its quota (nothing changed), else nil.
local function charge(len)
  if not counted then return nil end
  local old = tonumber(redis.call('HGET', sizes, entry) or '-1')
  local size = -1
  if len then size = key_cost + len end
  local keys = tonumber(redis.call('HGET', usage, 'keys') or '0')
  local bytes = tonumber(redis.call('HGET', usage, 'bytes') or '0')
  local dk = (size >= 0 and 1 or 0) - (old >= 0 and 1 or 0)
  local db = math.max(size, 0) - math.max(old, 0)
  if dk > 0 and keys + dk > max_keys then
    return redis.error_reply('QUOTA keys ' .. keys .. ' ' .. max_keys)
  end
  if db > 0 and bytes + db > max_bytes then
    return redis.error_reply('QUOTA bytes ' .. bytes .. ' ' .. max_bytes)
  end
  if size >= 0 then
    redis.call('HSET', sizes, entry, size)
  else
    redis.call('HDEL', sizes, entry)
    redis.call('ZREM', expiry, entry)
  end
  redis.call('HINCRBY', usage, 'keys', dk)
  redis.call('HINCRBY', usage, 'bytes', db)
  return nil
end

local function store(value)
  if ttl > 0 then
    redis.call('SET', entry, value, 'PX', ttl)
    if counted then redis.call('ZADD', expiry, now + ttl, entry) end
  else
    redis.call('SET', entry, value)
    if counted then redis.call('ZREM', expiry, entry) end
  end
end

if op == 'set' then
  local refused = charge(#ARGV[6])
  if refused then return refused end
  store(ARGV[6])
  return 1
elseif op == 'del' then
  charge(nil)
  redis.call('DEL', entry)
  return 1
elseif op == 'setnx' then
  if redis.call('EXISTS', entry) == 1 then return 0 end
  local refused = charge(#ARGV[6])
  if refused then return refused end
  store(ARGV[6])
  return 1
elseif op == 'incr' then
  local before = redis.call('GET', entry)
  if not before then
    -- 0 + delta is the delta, as text.
    local refused = charge(#ARGV[6])
    if refused then return refused end
    store(ARGV[6])
    return ARGV[6]
  end
  local ok = redis.pcall('INCRBY', entry, ARGV[6])
  if type(ok) == 'table' and ok.err then return false end
  local refused = charge(redis.call('STRLEN', entry))
  if refused then
    redis.call('SET', entry, before, 'KEEPTTL')
    return refused
  end
  return redis.call('GET', entry)
elseif op == 'cas' then
  local cur = redis.call('GET', entry)
  if ARGV[8] == '0' then
    if cur then return 0 end
  elseif cur ~= ARGV[9] then
    return 0
  end
  if ARGV[10] == '0' then
    charge(nil)
    redis.call('DEL', entry)
  else
    local refused = charge(#ARGV[6])
    if refused then return refused end
    store(ARGV[6])
  end
  return 1
end
return redis.error_reply('unknown op ' .. op)
