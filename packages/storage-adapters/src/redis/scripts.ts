import { createHash } from 'node:crypto';

/*
 * Every write that touches more than one key, or reads before it writes, is one Lua script: Redis
 * runs a script to completion before serving any other command, so concurrent callers on any
 * number of instances observe it as a single step, and a dropped connection leaves either all of
 * its writes or none. Scripts reach a few keys derived from stored ids through prefixes passed in
 * ARGV, which is fine on a single Redis primary but is why Redis Cluster is not supported.
 * (HIT_RATE_LIMIT touches only its KEYS.)
 */

export interface LuaScript {
  source: string;
  sha1: string;
}

function lua(source: string): LuaScript {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

// Organizations written before issuer registrations kept one issuer in their hash (fields issuer,
// clientIds, allowedAlgorithms, emailLinking) and an `issuer:<issuer>` index. Every script that
// reads or writes registrations first moves such an org's fields into its first registration (id =
// org id), within the same atomic step, so old data upgrades on first touch and never half-way.
// `prefix` is the store's key prefix.
const ISSUER_REGISTRATION_FUNCTIONS = `
local function upgradeOrg(prefix, orgId)
  local orgKey = prefix .. 'org:' .. orgId
  local f = redis.call('HMGET', orgKey, 'issuer', 'clientIds', 'allowedAlgorithms', 'emailLinking', 'createdAt', 'updatedAt')
  if not f[1] then return end
  local issuer = cjson.decode(f[1])
  local record = '{"registrationId":' .. cjson.encode(orgId) .. ',"orgId":' .. cjson.encode(orgId) ..
    ',"issuer":' .. f[1] .. ',"clientIds":' .. f[2] .. ',"allowedAlgorithms":' .. f[3] ..
    ',"emailLinking":' .. f[4] .. ',"subjectClaim":"sub","trustUsernameClaims":false,"createdAt":' ..
    f[5] .. ',"updatedAt":' .. f[6] .. '}'
  redis.call('HSET', prefix .. 'issuer-regs:' .. issuer, orgId, record)
  redis.call('HSET', prefix .. 'org-issuers:' .. orgId, orgId, issuer)
  redis.call('DEL', prefix .. 'issuer:' .. issuer)
  redis.call('HDEL', orgKey, 'issuer', 'clientIds', 'allowedAlgorithms', 'emailLinking')
end

local function upgradeIssuer(prefix, issuer)
  local orgId = redis.call('GET', prefix .. 'issuer:' .. issuer)
  if orgId then upgradeOrg(prefix, orgId) end
end

-- The rules of Store.addIssuerRegistration, in its order; false when the candidate may be added.
local function registrationConflict(registrationsKey, orgId, clientIdsJson)
  local existing = {}
  for _, json in ipairs(redis.call('HVALS', registrationsKey)) do table.insert(existing, cjson.decode(json)) end
  for _, registration in ipairs(existing) do
    if registration.orgId == orgId then return 'duplicate' end
  end
  local candidate = cjson.decode(clientIdsJson)
  if #existing == 0 then return false end
  if #candidate == 0 then return 'issuer_taken' end
  local claimed = {}
  for _, registration in ipairs(existing) do
    if #registration.clientIds == 0 then return 'issuer_taken' end
    for _, clientId in ipairs(registration.clientIds) do claimed[clientId] = true end
  end
  for _, clientId in ipairs(candidate) do
    if claimed[clientId] then return 'client_id_taken' end
  end
  return false
end
`;

// KEYS: organization hash, API key hash, revoked API key hash, issuer registrations hash, org issuers hash.
// ARGV: orgId, keyId, key JSON, key revokedAt ('' when active), prefix, issuer, registrationId,
// registration JSON, registration clientIds JSON, organization field/value pairs...
export const CREATE_ORGANIZATION = lua(`${ISSUER_REGISTRATION_FUNCTIONS}
upgradeIssuer(ARGV[5], ARGV[6])
local conflict = registrationConflict(KEYS[4], ARGV[1], ARGV[9])
if conflict then return conflict == 'duplicate' and 'issuer_taken' or conflict end
redis.call('HSET', KEYS[1], unpack(ARGV, 10))
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], ARGV[4]) end
redis.call('HSET', KEYS[4], ARGV[7], ARGV[8])
redis.call('HSET', KEYS[5], ARGV[7], ARGV[6])
return 'created'
`);

// KEYS: issuer registrations hash, org issuers hash.
// ARGV: prefix, orgId, issuer, registrationId, registration JSON, registration clientIds JSON.
export const ADD_ISSUER_REGISTRATION = lua(`${ISSUER_REGISTRATION_FUNCTIONS}
upgradeOrg(ARGV[1], ARGV[2])
upgradeIssuer(ARGV[1], ARGV[3])
local conflict = registrationConflict(KEYS[1], ARGV[2], ARGV[6])
if conflict then return conflict end
redis.call('HSET', KEYS[1], ARGV[4], ARGV[5])
redis.call('HSET', KEYS[2], ARGV[4], ARGV[3])
return 'added'
`);

// KEYS: org issuers hash. ARGV: prefix, orgId.
export const LIST_ISSUER_REGISTRATIONS = lua(`${ISSUER_REGISTRATION_FUNCTIONS}
upgradeOrg(ARGV[1], ARGV[2])
local records = {}
local entries = redis.call('HGETALL', KEYS[1])
for index = 1, #entries, 2 do
  local record = redis.call('HGET', ARGV[1] .. 'issuer-regs:' .. entries[index + 1], entries[index])
  if record then table.insert(records, record) end
end
return records
`);

// KEYS: issuer registrations hash. ARGV: prefix, issuer.
export const FIND_ISSUER_REGISTRATIONS = lua(`${ISSUER_REGISTRATION_FUNCTIONS}
upgradeIssuer(ARGV[1], ARGV[2])
return redis.call('HVALS', KEYS[1])
`);

// KEYS: org issuers hash. ARGV: prefix, orgId, registrationId.
export const REMOVE_ISSUER_REGISTRATION = lua(`${ISSUER_REGISTRATION_FUNCTIONS}
upgradeOrg(ARGV[1], ARGV[2])
local issuer = redis.call('HGET', KEYS[1], ARGV[3])
if not issuer then return 0 end
redis.call('HDEL', KEYS[1], ARGV[3])
redis.call('HDEL', ARGV[1] .. 'issuer-regs:' .. issuer, ARGV[3])
return 1
`);

// KEYS: organization hash.
export const READ_ORGANIZATION = lua(`
return redis.call('HGETALL', KEYS[1])
`);

// KEYS: organization hash. ARGV: field/value pairs, always including updatedAt.
export const UPDATE_ORGANIZATION = lua(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
redis.call('HSET', KEYS[1], unpack(ARGV))
return redis.call('HGETALL', KEYS[1])
`);

// KEYS: API key hash, revoked API key hash. ARGV: keyId, key JSON, revokedAt ('' when active).
export const ADD_API_KEY = lua(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) end
return 1
`);

// KEYS: API key hash, revoked API key hash.
export const LIST_API_KEYS = lua(`
return { redis.call('HVALS', KEYS[1]), redis.call('HKEYS', KEYS[2]) }
`);

// KEYS: API key hash, revoked API key hash. ARGV: keyId, now.
export const REVOKE_API_KEY = lua(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
`);

// Saves one or more tokens (the store batches concurrent saves). For each token, in order:
// KEYS: token, the family's token set, the family's revocation marker.
// ARGV: jti, record JSON, seconds to keep the token.
// A family revoked before this save never gets the token at all; the set of a family's tokens
// lives as long as its longest-lived token so that revocation can find every one.
export const SAVE_REFRESH_TOKENS = lua(`
for i = 1, #KEYS, 3 do
  if redis.call('EXISTS', KEYS[i + 2]) == 0 then
    local ttl = tonumber(ARGV[i + 2])
    redis.call('SET', KEYS[i], ARGV[i + 1], 'EX', ttl)
    redis.call('SADD', KEYS[i + 1], ARGV[i])
    if redis.call('TTL', KEYS[i + 1]) < ttl then redis.call('EXPIRE', KEYS[i + 1], ttl) end
  end
end
return 1
`);

// KEYS: token, successor, the family's token set, the family's revocation marker.
// ARGV: now, grace seconds, successor jti, successor JSON, seconds to keep the successor, token key prefix.
// A used token's value becomes {"successorJti": …} for the rest of its TTL, written in the same
// script as its successor: a token is never used without its successor, and a retry of the same
// call (a reply lost to a client timeout) finds what the first run wrote. Tokens saved before this
// layout have no successorJti and rotate like any live record.
export const ROTATE_REFRESH_TOKEN = lua(`
local json = redis.call('GET', KEYS[1])
if not json then return { 'unknown' } end
if redis.call('EXISTS', KEYS[4]) == 1 then return { 'unknown' } end
local record = cjson.decode(json)
local now = tonumber(ARGV[1])
if record.successorJti then
  local nextJson = redis.call('GET', ARGV[6] .. record.successorJti)
  if nextJson then
    local successor = cjson.decode(nextJson)
    if not successor.successorJti and now < successor.issuedAt + tonumber(ARGV[2]) then
      return { 'retried', nextJson }
    end
  end
  return { 'reused' }
end
if record.expiresAt <= now then return { 'unknown' } end
local ttl = tonumber(ARGV[5])
redis.call('SET', KEYS[2], ARGV[4], 'EX', ttl)
redis.call('SADD', KEYS[3], ARGV[3])
if redis.call('TTL', KEYS[3]) < ttl then redis.call('EXPIRE', KEYS[3], ttl) end
redis.call('SET', KEYS[1], cjson.encode({ successorJti = ARGV[3] }), 'KEEPTTL')
return { 'rotated' }
`);

// KEYS: the consumed key. ARGV: expiresAt, now, seconds to keep it.
// Holds the expiry as its value, so a record past expiresAt is free again even while its TTL (which
// has a margin for clock skew) runs.
export const CONSUME_ONCE = lua(`
local recordedUntil = redis.call('GET', KEYS[1])
if recordedUntil and tonumber(recordedUntil) > tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[3]))
return 1
`);

// KEYS: the rate-limit key. ARGV: intervalMs, toleranceMs, nowMs, milliseconds of expiry margin.
// One GCRA step (Store.hitRateLimit): the key holds the theoretical arrival time and expires once
// it has passed (plus a margin for callers whose clocks run behind), so idle keys cost nothing.
export const HIT_RATE_LIMIT = lua(`
local now = tonumber(ARGV[3])
local stored = tonumber(redis.call('GET', KEYS[1]) or now)
local nextArrival = math.max(stored, now) + tonumber(ARGV[1])
if nextArrival - now > tonumber(ARGV[2]) then return {0, stored} end
redis.call('SET', KEYS[1], nextArrival, 'PX', nextArrival - now + tonumber(ARGV[4]))
return {1, nextArrival}
`);

// KEYS: the family's token set, the family's revocation marker.
// ARGV: now, seconds to keep the marker, token key prefix.
export const REVOKE_REFRESH_TOKEN_FAMILY = lua(`
redis.call('SET', KEYS[2], ARGV[1], 'EX', tonumber(ARGV[2]))
for _, jti in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  redis.call('DEL', ARGV[3] .. jti)
end
redis.call('DEL', KEYS[1])
return 1
`);

// KEYS: signing key hash of one use. ARGV: candidate kid, candidate JSON.
export const ENSURE_SIGNING_KEY = lua(`
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return redis.call('HVALS', KEYS[1])
`);

/*
 * The webhook outbox. Fan-out is computed in the store's process from a snapshot of the org's
 * subscriptions taken with their version counter (READ_SUBSCRIPTIONS); the script that writes the
 * change and its deliveries first checks that no subscription of those orgs changed since, and
 * answers 'retry' otherwise, so the deliveries always match the subscriptions at the time of the write.
 *
 * Outbox ARGV layout, from index `at`: n, then n (version key, expected version) pairs, then the
 * delivery key prefix, the due set, the per-subscription list prefix, the delivery count, and per
 * delivery: id, subscriptionId, JSON, due time. n = -1 stands for "not prepared": the script answers
 * 'retry' if it would need the deliveries, so the common path (an existing user) skips the snapshot.
 */
const OUTBOX_FUNCTIONS = `
local function outbox_current(at)
  local n = tonumber(ARGV[at])
  if n < 0 then return false end
  for i = 1, n do
    if (redis.call('GET', ARGV[at + 2 * i - 1]) or '0') ~= ARGV[at + 2 * i] then return false end
  end
  return true
end
local function outbox_write(at)
  local base = at + 2 * tonumber(ARGV[at]) + 1
  local deliveryPrefix, dueKey, listPrefix = ARGV[base], ARGV[base + 1], ARGV[base + 2]
  for i = 0, tonumber(ARGV[base + 3]) - 1 do
    local j = base + 4 + i * 4
    redis.call('SET', deliveryPrefix .. ARGV[j], ARGV[j + 2])
    redis.call('ZADD', dueKey, ARGV[j + 3], ARGV[j])
    redis.call('ZADD', listPrefix .. ARGV[j + 1], ARGV[j + 3], ARGV[j])
  end
end
`;

// KEYS: identity links. ARGV: user key prefix.
// The user record of each linked identity, or nil: the read-only first step of findOrCreateUser,
// for many identities at once (the store batches concurrent lookups).
export const FIND_USERS_BY_IDENTITY = lua(`
local users = {}
for i = 1, #KEYS do
  local userId = redis.call('GET', KEYS[i])
  users[i] = userId and redis.call('GET', ARGV[1] .. userId) or false
end
return users
`);

// KEYS: identity link, email index, new user record.
// ARGV: user key prefix, two flags ('1'/'0': linking by email allowed, creating a user allowed),
// new userId, new user JSON, outbox from 5.
// Deliveries are written only on the create path, with the user. A link or email entry naming a
// user that no longer exists (deleteUser leaves links it could not find) counts as absent.
export const FIND_OR_CREATE_USER = lua(`${OUTBOX_FUNCTIONS}
local userId = redis.call('GET', KEYS[1])
if userId then
  local json = redis.call('GET', ARGV[1] .. userId)
  if json then return { 'existing', json } end
end
userId = redis.call('GET', KEYS[2])
if userId and redis.call('EXISTS', ARGV[1] .. userId) == 0 then userId = nil end
if userId then
  if string.sub(ARGV[2], 1, 1) ~= '1' then return { 'conflict' } end
  redis.call('SET', KEYS[1], userId)
  return { 'linked', redis.call('GET', ARGV[1] .. userId) }
end
if string.sub(ARGV[2], 2, 2) ~= '1' then return { 'not_provisioned' } end
if not outbox_current(5) then return { 'retry' } end
redis.call('SET', KEYS[3], ARGV[4])
redis.call('SET', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[3])
outbox_write(5)
return { 'created', ARGV[4] }
`);

// KEYS: user record. ARGV: orgId, expected onboardingCompleted ('1'/'0'), expected kycStatus,
// expected accreditationStatus, next onboardingCompleted, next kycStatus, next accreditationStatus,
// now, outbox from 9. The record holds only scalars, so re-encoding it with cjson is lossless.
export const UPDATE_USER_VERIFICATION = lua(`${OUTBOX_FUNCTIONS}
local json = redis.call('GET', KEYS[1])
if not json then return { 'not_found' } end
local user = cjson.decode(json)
if user.orgId ~= ARGV[1] then return { 'not_found' } end
local onboarding = user.onboardingCompleted and '1' or '0'
if onboarding ~= ARGV[2] or user.kycStatus ~= ARGV[3] or user.accreditationStatus ~= ARGV[4] then
  return { 'stale', json }
end
if not outbox_current(9) then return { 'retry' } end
user.onboardingCompleted = ARGV[5] == '1'
user.kycStatus = ARGV[6]
user.accreditationStatus = ARGV[7]
user.updatedAt = tonumber(ARGV[8])
local updated = cjson.encode(user)
redis.call('SET', KEYS[1], updated)
outbox_write(9)
return { 'updated', updated }
`);

// KEYS: user record. ARGV: orgId, role, now. Read-modify-write inside the script, so a concurrent
// verification change (also a script) is never overwritten.
export const SET_USER_ROLE = lua(`
local json = redis.call('GET', KEYS[1])
if not json then return false end
local user = cjson.decode(json)
if user.orgId ~= ARGV[1] then return false end
user.role = ARGV[2]
user.updatedAt = tonumber(ARGV[3])
local updated = cjson.encode(user)
redis.call('SET', KEYS[1], updated)
return updated
`);

// KEYS: email index, new user record. ARGV: user key prefix, userId, user JSON, outbox from 4.
export const CREATE_USER = lua(`${OUTBOX_FUNCTIONS}
local taken = redis.call('GET', KEYS[1])
if taken and redis.call('EXISTS', ARGV[1] .. taken) == 1 then return 'email_taken' end
if not outbox_current(4) then return 'retry' end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[2])
outbox_write(4)
return 'created'
`);

// KEYS: user record, then index entries (email, identity links) to drop if they name the user.
// ARGV: orgId, userId, outbox from 3.
export const DELETE_USER = lua(`${OUTBOX_FUNCTIONS}
local json = redis.call('GET', KEYS[1])
if not json or cjson.decode(json).orgId ~= ARGV[1] then return 'not_found' end
if not outbox_current(3) then return 'retry' end
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[2] then redis.call('DEL', KEYS[i]) end
end
outbox_write(3)
return 'deleted'
`);

// KEYS: organization hash, API keys, revoked API keys, subscriptions, subscriptions version.
// ARGV: orgId, issuer key prefix, per-subscription delivery list prefix, delivery key prefix, due
// set, lease hash. Everything a reader reaches the org through goes in this one step.
export const DELETE_ORGANIZATION = lua(`
local issuer = redis.call('HGET', KEYS[1], 'issuer')
if issuer then
  local issuerKey = ARGV[2] .. cjson.decode(issuer)
  if redis.call('GET', issuerKey) == ARGV[1] then redis.call('DEL', issuerKey) end
end
for _, id in ipairs(redis.call('HKEYS', KEYS[4])) do
  local list = ARGV[3] .. id
  for _, deliveryId in ipairs(redis.call('ZRANGE', list, 0, -1)) do
    redis.call('DEL', ARGV[4] .. deliveryId)
    redis.call('ZREM', ARGV[5], deliveryId)
    redis.call('HDEL', ARGV[6], deliveryId)
  end
  redis.call('DEL', list)
end
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return existed
`);

// KEYS: identity links or email entries of one org. ARGV: user key prefix, orgId.
// Drops each entry and the user it names, if that user belongs to the org.
export const DELETE_ORGANIZATION_USERS = lua(`
for i = 1, #KEYS do
  local userId = redis.call('GET', KEYS[i])
  redis.call('DEL', KEYS[i])
  if userId then
    local json = redis.call('GET', ARGV[1] .. userId)
    if json and cjson.decode(json).orgId == ARGV[2] then redis.call('DEL', ARGV[1] .. userId) end
  end
end
return 1
`);

// ARGV: outbox from 1.
export const ENQUEUE_WEBHOOK_EVENTS = lua(`${OUTBOX_FUNCTIONS}
if not outbox_current(1) then return 'retry' end
outbox_write(1)
return 'ok'
`);

// KEYS: the org's subscription hash, its version counter.
export const READ_SUBSCRIPTIONS = lua(`
return { redis.call('GET', KEYS[2]) or '0', redis.call('HVALS', KEYS[1]) }
`);

// KEYS: the org's subscription hash, its version counter. ARGV: id, expected JSON ('' to create), new JSON.
// A compare-and-set on the whole record, so concurrent patches (rotation, new types) are never lost.
export const WRITE_SUBSCRIPTION = lua(`
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('INCR', KEYS[2])
return 1
`);

// KEYS: the org's subscription hash, its version counter. ARGV: id.
export const DELETE_SUBSCRIPTION = lua(`
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('INCR', KEYS[2])
return 1
`);

// KEYS: delivery, due set, lease hash, the subscription's delivery list.
// ARGV: id, JSON, lease token ('' for none), due time (the lease expiry when leased), createdAt.
export const ADD_DELIVERY = lua(`
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[3]) end
if ARGV[4] ~= '' then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1]) end
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
return 1
`);

// KEYS: due set, lease hash. ARGV: now, limit, lease expiry, lease token, delivery key prefix.
// The due set scores a pending delivery by when it may next be claimed: its due time, or its lease
// expiry while leased. Claiming moves the score to the lease expiry, so no other caller sees it
// until then; finished deliveries leave the set.
export const CLAIM_DELIVERIES = lua(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local claimed = {}
for _, id in ipairs(ids) do
  local json = redis.call('GET', ARGV[5] .. id)
  if json then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    redis.call('HSET', KEYS[2], id, ARGV[4])
    table.insert(claimed, json)
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
  end
end
return claimed
`);

// KEYS: delivery, due set, lease hash. ARGV: id, lease token, new JSON, next due time ('' when finished),
// seconds to keep a finished delivery.
export const COMPLETE_DELIVERY = lua(`
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
if ARGV[4] == '' then
  redis.call('SET', KEYS[1], ARGV[3], 'EX', tonumber(ARGV[5]))
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
end
return 1
`);

// KEYS: the subscription's delivery list. ARGV: limit, delivery key prefix, retention cutoff.
// Finished deliveries expire a retention period after they finish, so every id younger than the
// cutoff still has its record; older ids are dropped here.
export const LIST_DELIVERIES = lua(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
local found = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)) do
  local json = redis.call('GET', ARGV[2] .. id)
  if json then table.insert(found, json) end
end
return found
`);
