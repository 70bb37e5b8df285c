import { createHash } from 'node:crypto';

/*
 * Every write that touches more than one key, or reads before it writes, is one Lua script: Redis
 * runs a script to completion before serving any other command, so concurrent callers on any
 * number of instances observe it as a single step, and a dropped connection leaves either all of
 * its writes or none. Every key a script touches is passed in KEYS, and the keys of one call
 * share a Redis Cluster hash slot (key-layout.ts says which): that is Redis's scripting contract, and
 * what lets a cluster route the call to the one node that holds them all.
 */

export interface LuaScript {
  source: string;
  sha1: string;
}

function lua(source: string): LuaScript {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

// KEYS: organization hash, API key hash, revoked API key hash, the org's registrations.
// ARGV: keyId, key JSON, key revokedAt ('' when active), registrationId, registration JSON,
// organization field/value pairs...
// The org's side of createOrganization; the issuer's side (CLAIM_ISSUER_REGISTRATION) follows.
export const CREATE_ORGANIZATION = lua(`
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[3]) end
redis.call('HSET', KEYS[4], ARGV[4], ARGV[5])
return 1
`);

// KEYS: the issuer's registrations (every org's, by registration id).
// ARGV: orgId, registrationId, registration JSON, registration clientIds JSON.
// The rules of Store.addIssuerRegistration, in its order: answers the conflict, or 'added'.
export const CLAIM_ISSUER_REGISTRATION = lua(`
local existing = {}
for _, json in ipairs(redis.call('HVALS', KEYS[1])) do table.insert(existing, cjson.decode(json)) end
for _, registration in ipairs(existing) do
  if registration.orgId == ARGV[1] then return 'duplicate' end
end
local candidate = cjson.decode(ARGV[4])
if #existing > 0 then
  if #candidate == 0 then return 'issuer_taken' end
  local claimed = {}
  for _, registration in ipairs(existing) do
    if #registration.clientIds == 0 then return 'issuer_taken' end
    for _, clientId in ipairs(registration.clientIds) do claimed[clientId] = true end
  end
  for _, clientId in ipairs(candidate) do
    if claimed[clientId] then return 'client_id_taken' end
  end
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
return 'added'
`);

// KEYS: organization hash, the org's registrations. ARGV: registration ids.
// For each id, 1 when the org exists and still holds its own copy of the registration, else 0. An
// issuer index entry is written after its org's copy and removed before it, so an entry failing
// this is a leftover (a crash, or a claim racing deleteOrganization) that must not count.
export const REGISTRATIONS_ON_ORG_SIDE = lua(`
local orgExists = redis.call('EXISTS', KEYS[1]) == 1
local found = {}
for index, registrationId in ipairs(ARGV) do
  found[index] = (orgExists and redis.call('HEXISTS', KEYS[2], registrationId) == 1) and 1 or 0
end
return found
`);

// KEYS: the issuer's registrations. ARGV: registrationId, registration JSON, in pairs.
// Drops each entry only if it still holds exactly the JSON judged stale: a compare-and-delete, so
// an entry rewritten since the judgement is left alone. Answers how many it dropped.
export const DROP_STALE_ISSUER_CLAIMS = lua(`
local dropped = 0
for index = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[index]) == ARGV[index + 1] then
    dropped = dropped + redis.call('HDEL', KEYS[1], ARGV[index])
  end
end
return dropped
`);

// KEYS: organization hash, the org's registrations. ARGV: registration ids.
// What an addIssuerRegistration racing deleteOrganization can write back after the org is gone.
// Only while the org is absent: an org id is never reused, so its copies can never be live again.
export const DROP_ORPHANED_REGISTRATIONS = lua(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return redis.call('HDEL', KEYS[2], unpack(ARGV))
`);

// KEYS: the org's registrations. ARGV: registrationId, the JSON read, the JSON to write.
// A compare-and-set of the org's copy, the first step of replaceIssuerPolicy: the caller checked
// the policy version on the JSON it read, so an entry rewritten since is left alone (answers 0).
export const REPLACE_ORG_SIDE_REGISTRATION = lua(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`);

// KEYS: the issuer's registrations. ARGV: registrationId, registration JSON, its policy version.
// The issuer's side of replaceIssuerPolicy, in its own step (another slot): writes only over an
// entry that exists (a removed registration stays removed) with an older policy, so of two changes
// racing here the later version stays. Answers 1 when written.
export const RAISE_ISSUER_SIDE_POLICY = lua(`
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return 0 end
local policy = cjson.decode(json).policy
local version = (type(policy) == 'table' and tonumber(policy.version)) or 0
if version >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`);

// KEYS: organization hash. A script rather than HGETALL, whose reply is a map in RESP3.
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

// Saves one or more tokens (the store batches concurrent saves of one slot). For each token, in
// order: KEYS: the family's token hash, the family's revocation marker. ARGV: jti, record JSON,
// seconds to keep the token.
// A family revoked before this save never gets the token at all; the family's hash lives as long
// as its longest-lived token.
export const SAVE_REFRESH_TOKENS = lua(`
for i = 1, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then
    local a = (i - 1) / 2 * 3 + 1
    local ttl = tonumber(ARGV[a + 2])
    redis.call('HSET', KEYS[i], ARGV[a], ARGV[a + 1])
    if redis.call('TTL', KEYS[i]) < ttl then redis.call('EXPIRE', KEYS[i], ttl) end
  end
end
return 1
`);

// KEYS: the family's token hash, the family's revocation marker.
// ARGV: now, grace seconds, jti, successor jti, successor JSON, seconds to keep the successor,
// seconds of expiry margin.
// A used token's value becomes {"successorJti": …, "expiresAt": …}, written in the same script
// as its successor: a token is never used without its successor, and a retry of the same call (a
// reply lost to a client timeout) finds what the first run wrote. Entries a margin past their
// expiry are dropped here, so a long-lived family's hash stays as small as its live tokens.
export const ROTATE_REFRESH_TOKEN = lua(`
if redis.call('EXISTS', KEYS[2]) == 1 then return { 'unknown' } end
local json = redis.call('HGET', KEYS[1], ARGV[3])
if not json then return { 'unknown' } end
local record = cjson.decode(json)
local now = tonumber(ARGV[1])
if record.successorJti then
  local nextJson = redis.call('HGET', KEYS[1], record.successorJti)
  if nextJson then
    local successor = cjson.decode(nextJson)
    if not successor.successorJti and now < successor.issuedAt + tonumber(ARGV[2]) then
      return { 'retried', nextJson }
    end
  end
  return { 'reused' }
end
if record.expiresAt <= now then return { 'unknown' } end
local entries = redis.call('HGETALL', KEYS[1])
local horizon = now - tonumber(ARGV[7])
for index = 1, #entries, 2 do
  local expiresAt = cjson.decode(entries[index + 1]).expiresAt
  if expiresAt and expiresAt < horizon then redis.call('HDEL', KEYS[1], entries[index]) end
end
redis.call('HSET', KEYS[1], ARGV[4], ARGV[5])
redis.call('HSET', KEYS[1], ARGV[3], cjson.encode({ successorJti = ARGV[4], expiresAt = record.expiresAt }))
local ttl = tonumber(ARGV[6])
if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
return { 'rotated' }
`);

// KEYS: the family's token hash, the family's revocation marker. ARGV: now, seconds to keep the marker.
export const REVOKE_REFRESH_TOKEN_FAMILY = lua(`
redis.call('SET', KEYS[2], ARGV[1], 'EX', tonumber(ARGV[2]))
redis.call('DEL', KEYS[1])
return 1
`);

// KEYS: the family's token hash, the family's revocation marker. ARGV: jti, now.
// A used token's entry holds only its successor's jti: it is not live.
// A stored entry of a family whose revocation marker is absent: live while unused and unexpired.
const IS_LIVE_ENTRY = `
local function isLive(record, now)
  return not record.successorJti and record.expiresAt > now
end
`;

export const IS_REFRESH_TOKEN_LIVE = lua(`${IS_LIVE_ENTRY}
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return 0 end
if not isLive(cjson.decode(json), tonumber(ARGV[2])) then return 0 end
return 1
`);

// KEYS: the family's token hash, the family's revocation marker. ARGV: now.
// The family's live token with the latest issuedAt (JSON), or false when it has none. Rotation drops
// entries past their expiry, so the hash is about as small as the family's recent tokens.
export const LIVE_FAMILY_HEAD = lua(`${IS_LIVE_ENTRY}
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
local now = tonumber(ARGV[1])
local entries = redis.call('HGETALL', KEYS[1])
local head, headIssuedAt = false, nil
for i = 1, #entries, 2 do
  local record = cjson.decode(entries[i + 1])
  if isLive(record, now) and (headIssuedAt == nil or record.issuedAt > headIssuedAt) then
    head, headIssuedAt = entries[i + 1], record.issuedAt
  end
end
return head
`);

// KEYS: one user's family index per item. ARGV: family id, its token's expiresAt, seconds to keep
// the index, now, per item. The score is the latest expiry seen for the family: families past it
// are dropped here, and the index lives as long as its longest-lived family.
export const INDEX_USER_FAMILIES = lua(`
for i = 1, #KEYS do
  local a = (i - 1) * 4 + 1
  local ttl = tonumber(ARGV[a + 2])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[a + 3])
  redis.call('ZADD', KEYS[i], 'GT', ARGV[a + 1], ARGV[a])
  if redis.call('TTL', KEYS[i]) < ttl then redis.call('EXPIRE', KEYS[i], ttl) end
end
return 1
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

// KEYS: one rate-limit key per hit. ARGV: per hit, intervalMs, toleranceMs, nowMs, milliseconds
// of expiry margin. One GCRA step per hit (Store.hitRateLimit), in order, so hits on one key in the
// same batch see each other exactly as one call after another would; answers {allowed, arrival} per
// hit. The key holds the theoretical arrival time and expires once it has passed (plus a margin
// for callers whose clocks run behind), so idle keys cost nothing.
export const HIT_RATE_LIMITS = lua(`
local replies = {}
for i = 1, #KEYS do
  local a = (i - 1) * 4
  local now = tonumber(ARGV[a + 3])
  local stored = tonumber(redis.call('GET', KEYS[i]) or now)
  local nextArrival = math.max(stored, now) + tonumber(ARGV[a + 1])
  if nextArrival - now > tonumber(ARGV[a + 2]) then
    replies[i] = {0, stored}
  else
    redis.call('SET', KEYS[i], nextArrival, 'PX', nextArrival - now + tonumber(ARGV[a + 4]))
    replies[i] = {1, nextArrival}
  end
end
return replies
`);

// KEYS: signing key hash of one use. ARGV: candidate kid, candidate JSON.
export const ENSURE_SIGNING_KEY = lua(`
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return redis.call('HVALS', KEYS[1])
`);

/*
 * The webhook outbox of one organization. Fan-out is computed in the store's process from a
 * snapshot of the org's subscriptions taken with their version counter (READ_SUBSCRIPTIONS); the
 * script that writes the change and its deliveries first checks that the subscriptions did not
 * change since, and answers 'retry' otherwise, so the deliveries always match the subscriptions at
 * the time of the write.
 *
 * Outbox KEYS, from index \`ko\` (fixed per script): the subscriptions' version counter, the
 * deliveries hash, the due set, then the delivery list of each subscription a delivery goes to.
 * Outbox ARGV, from index \`ao\`: the expected version (-1 for "not prepared": the script answers
 * 'retry' if it would need the deliveries, so the common path, an existing user, skips the
 * snapshot), the delivery count, and per delivery: id, index of its list among the list keys
 * (from 1), JSON, due time.
 */
const OUTBOX_FUNCTIONS = `
local function outbox_current(ko, ao)
  if tonumber(ARGV[ao]) < 0 then return false end
  return (redis.call('GET', KEYS[ko]) or '0') == ARGV[ao]
end
local function outbox_write(ko, ao)
  for i = 0, tonumber(ARGV[ao + 1]) - 1 do
    local j = ao + 2 + i * 4
    redis.call('HSET', KEYS[ko + 1], ARGV[j], ARGV[j + 2])
    redis.call('ZADD', KEYS[ko + 2], ARGV[j + 3], ARGV[j])
    redis.call('ZADD', KEYS[ko + 2 + tonumber(ARGV[j + 1])], ARGV[j + 3], ARGV[j])
  end
end
`;

// For each identity, in order: KEYS: the org's identity links, the org's users. ARGV: identity field.
// The user record of each linked identity, or nil: the read-only first step of findOrCreateUser,
// for many identities at once (the store batches concurrent lookups of one slot).
export const FIND_USERS_BY_IDENTITY = lua(`
local users = {}
for i = 1, #KEYS, 2 do
  local userId = redis.call('HGET', KEYS[i], ARGV[(i + 1) / 2])
  users[(i + 1) / 2] = userId and redis.call('HGET', KEYS[i + 1], userId) or false
end
return users
`);

// KEYS: identity links, email entries, users, outbox from 4.
// ARGV: identity field, email, three flags ('1'/'0': linking by email allowed, creating a user
// allowed, linking within the registration only), new userId, new user JSON, registration id ('' for
// none), outbox from 7.
// Deliveries are written only on the create path, with the user. A link or email entry naming a
// user that no longer exists (deleteUser leaves links it could not find) counts as absent. The link
// scope is storeKit.mayLinkWithinScope and storeKit.claimedByLink: a user's firstSeenThrough is
// JSON null while unclaimed (cjson.null) and absent (nil) on users stored before it existed. The
// user record holds only scalars, so re-encoding it with cjson is lossless.
export const FIND_OR_CREATE_USER = lua(`${OUTBOX_FUNCTIONS}
local userId = redis.call('HGET', KEYS[1], ARGV[1])
if userId then
  local json = redis.call('HGET', KEYS[3], userId)
  if json then return { 'existing', json } end
end
userId = redis.call('HGET', KEYS[2], ARGV[2])
if userId and redis.call('HEXISTS', KEYS[3], userId) == 0 then userId = nil end
if userId then
  if string.sub(ARGV[3], 1, 1) ~= '1' then return { 'conflict' } end
  local json = redis.call('HGET', KEYS[3], userId)
  local user = cjson.decode(json)
  local first = user.firstSeenThrough
  if string.sub(ARGV[3], 3, 3) == '1' and first ~= cjson.null and first ~= ARGV[6] then
    return { 'conflict' }
  end
  if first == cjson.null and ARGV[6] ~= '' then
    user.firstSeenThrough = ARGV[6]
    json = cjson.encode(user)
    redis.call('HSET', KEYS[3], userId, json)
  end
  redis.call('HSET', KEYS[1], ARGV[1], userId)
  return { 'linked', json }
end
if string.sub(ARGV[3], 2, 2) ~= '1' then return { 'not_provisioned' } end
if not outbox_current(4, 7) then return { 'retry' } end
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
outbox_write(4, 7)
return { 'created', ARGV[5] }
`);

// KEYS: users, outbox from 2. ARGV: userId, orgId, expected onboardingCompleted ('1'/'0'),
// expected kycStatus, expected accreditationStatus, next onboardingCompleted, next kycStatus, next
// accreditationStatus, now, outbox from 10. The record holds only scalars, so re-encoding it with
// cjson is lossless.
export const UPDATE_USER_VERIFICATION = lua(`${OUTBOX_FUNCTIONS}
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return { 'not_found' } end
local user = cjson.decode(json)
if user.orgId ~= ARGV[2] then return { 'not_found' } end
local onboarding = user.onboardingCompleted and '1' or '0'
if onboarding ~= ARGV[3] or user.kycStatus ~= ARGV[4] or user.accreditationStatus ~= ARGV[5] then
  return { 'stale', json }
end
if not outbox_current(2, 10) then return { 'retry' } end
user.onboardingCompleted = ARGV[6] == '1'
user.kycStatus = ARGV[7]
user.accreditationStatus = ARGV[8]
user.updatedAt = tonumber(ARGV[9])
local updated = cjson.encode(user)
redis.call('HSET', KEYS[1], ARGV[1], updated)
outbox_write(2, 10)
return { 'updated', updated }
`);

// KEYS: users. ARGV: userId, orgId, role, now. Read-modify-write inside the script, so a concurrent
// verification change (also a script) is never overwritten.
export const SET_USER_ROLE = lua(`
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return false end
local user = cjson.decode(json)
if user.orgId ~= ARGV[2] then return false end
user.role = ARGV[3]
user.updatedAt = tonumber(ARGV[4])
local updated = cjson.encode(user)
redis.call('HSET', KEYS[1], ARGV[1], updated)
return updated
`);

// KEYS: email entries, users, outbox from 3. ARGV: email, userId, user JSON, outbox from 4.
export const CREATE_USER = lua(`${OUTBOX_FUNCTIONS}
local taken = redis.call('HGET', KEYS[1], ARGV[1])
if taken and redis.call('HEXISTS', KEYS[2], taken) == 1 then return 'email_taken' end
if not outbox_current(3, 4) then return 'retry' end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
outbox_write(3, 4)
return 'created'
`);

// KEYS: users, email entries, identity links, outbox from 4.
// ARGV: userId, orgId, the user's email, JSON array of identity fields to drop if they name the
// user, outbox from 5.
export const DELETE_USER = lua(`${OUTBOX_FUNCTIONS}
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json or cjson.decode(json).orgId ~= ARGV[2] then return 'not_found' end
if not outbox_current(4, 5) then return 'retry' end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[3]) end
for _, field in ipairs(cjson.decode(ARGV[4])) do
  if redis.call('HGET', KEYS[3], field) == ARGV[1] then redis.call('HDEL', KEYS[3], field) end
end
outbox_write(4, 5)
return 'deleted'
`);

// KEYS: organization hash, API keys, revoked API keys, registrations, users, identity links, email
// entries, subscriptions, subscriptions version, deliveries, due set, lease hash, finished set,
// then the delivery list of each subscription. ARGV: the subscription ids of those lists.
// Everything of the org in one step: 'retry' if a subscription came or went since the caller
// listed them. Answers whether the org existed, its user ids and its delivery ids, whose global
// index entries the caller drops next.
export const DELETE_ORGANIZATION = lua(`
local current = redis.call('HKEYS', KEYS[8])
if #current ~= #ARGV then return { 'retry' } end
local expected = {}
for _, id in ipairs(ARGV) do expected[id] = true end
for _, id in ipairs(current) do
  if not expected[id] then return { 'retry' } end
end
local existed = redis.call('EXISTS', KEYS[1])
local users = redis.call('HKEYS', KEYS[5])
local deliveries = redis.call('HKEYS', KEYS[10])
redis.call('UNLINK', unpack(KEYS))
return { existed, users, deliveries }
`);

// KEYS: outbox from 1. ARGV: outbox from 1.
export const ENQUEUE_WEBHOOK_EVENTS = lua(`${OUTBOX_FUNCTIONS}
if not outbox_current(1, 1) then return 'retry' end
outbox_write(1, 1)
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

// KEYS: the org's subscription hash, its version counter, the subscription's delivery list. ARGV: id.
export const DELETE_SUBSCRIPTION = lua(`
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('INCR', KEYS[2])
redis.call('DEL', KEYS[3])
return 1
`);

// KEYS: deliveries, due set, lease hash, the subscription's delivery list.
// ARGV: id, JSON, lease token ('' for none), due time (the lease expiry when leased), createdAt.
export const ADD_DELIVERY = lua(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[3]) end
if ARGV[4] ~= '' then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1]) end
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
return 1
`);

// KEYS: the global set of orgs with due deliveries. ARGV: due time, orgId.
// Lowers the org's score to the due time (adds it if absent); never raises it.
export const LOWER_DUE_ORG = lua(`
local current = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not current or tonumber(current) > tonumber(ARGV[1]) then redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) end
return 1
`);

// KEYS: the org's due set, lease hash, deliveries. ARGV: now, limit, lease expiry, lease token.
// The due set scores a pending delivery by when it may next be claimed: its due time, or its lease
// expiry while leased. Claiming moves the score to the lease expiry, so no other caller sees it
// until then; finished deliveries leave the set. Answers the claimed records and the earliest
// score left ('' when none), which the caller puts back into the global set of orgs.
export const CLAIM_DELIVERIES = lua(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local claimed = {}
for _, id in ipairs(ids) do
  local json = redis.call('HGET', KEYS[3], id)
  if json then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    redis.call('HSET', KEYS[2], id, ARGV[4])
    table.insert(claimed, json)
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
  end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return { claimed, first[2] or '' }
`);

// KEYS: deliveries, due set, lease hash, finished set. ARGV: id, lease token, new JSON, next due
// time ('' when finished), now, retention cutoff.
// A finished delivery is kept for the retention period after it finished; older finished ones are
// dropped here. Answers 0 when the lease is not held, else 1 and the ids dropped.
export const COMPLETE_DELIVERY = lua(`
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return { 0 } end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
local dropped = {}
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
  dropped = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[6])
  for _, id in ipairs(dropped) do
    redis.call('HDEL', KEYS[1], id)
    redis.call('ZREM', KEYS[4], id)
  end
else
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
end
return { 1, dropped }
`);

// KEYS: the subscription's delivery list, deliveries. ARGV: limit, retention cutoff.
// Finished deliveries are kept a retention period after they finish, so every id younger than the
// cutoff still has its record; older ids are dropped here.
export const LIST_DELIVERIES = lua(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
local found = {}
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)) do
  local json = redis.call('HGET', KEYS[2], id)
  if json then table.insert(found, json) end
end
return found
`);

// KEYS: deliveries, due set, lease hash. ARGV: id.
// The stored delivery, its lease token ('' for none) and its due score ('' when not due).
export const READ_DELIVERY = lua(`
return {
  redis.call('HGET', KEYS[1], ARGV[1]) or '',
  redis.call('HGET', KEYS[3], ARGV[1]) or '',
  redis.call('ZSCORE', KEYS[2], ARGV[1]) or ''
}
`);

// KEYS: deliveries, due set, lease hash, finished set. ARGV: id, JSON as read, lease token as read
// ('' for none), new JSON, due time.
// Makes the delivery due again, if nothing changed it since it was read (a claim, a completion):
// answers 0 so that the caller reads again.
export const REDELIVER = lua(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if (redis.call('HGET', KEYS[3], ARGV[1]) or '') ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
`);
