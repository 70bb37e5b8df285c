import { createHash } from 'node:crypto';

/*
 * Every write that touches more than one key, or reads before it writes, is one Lua script: Redis
 * runs a script to completion before serving any other command, so concurrent callers on any
 * number of instances observe it as a single step, and a dropped connection leaves either all of
 * its writes or none. Scripts reach a few keys derived from stored ids through prefixes passed in
 * ARGV, which is fine on a single Redis primary but is why Redis Cluster is not supported.
 */

export interface LuaScript {
  source: string;
  sha1: string;
}

function lua(source: string): LuaScript {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

// KEYS: issuer index, organization hash, API key hash, revoked API key hash.
// ARGV: orgId, keyId, key JSON, key revokedAt ('' when active), organization field/value pairs...
export const CREATE_ORGANIZATION = lua(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 'issuer_taken' end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[4], ARGV[2], ARGV[4]) end
return 'created'
`);

// KEYS: organization hash.
export const READ_ORGANIZATION = lua(`
return redis.call('HGETALL', KEYS[1])
`);

// KEYS: issuer index. ARGV: organization key prefix.
export const FIND_ORGANIZATION_BY_ISSUER = lua(`
local orgId = redis.call('GET', KEYS[1])
if not orgId then return {} end
return redis.call('HGETALL', ARGV[1] .. orgId)
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

// KEYS: identity link, email index, new user record.
// ARGV: user key prefix, '1' when linking by email is allowed, new userId, new user JSON.
export const FIND_OR_CREATE_USER = lua(`
local userId = redis.call('GET', KEYS[1])
if userId then return { 'existing', redis.call('GET', ARGV[1] .. userId) } end
userId = redis.call('GET', KEYS[2])
if userId then
  if ARGV[2] ~= '1' then return { 'conflict' } end
  redis.call('SET', KEYS[1], userId)
  return { 'linked', redis.call('GET', ARGV[1] .. userId) }
end
redis.call('SET', KEYS[3], ARGV[4])
redis.call('SET', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[3])
return { 'created', ARGV[4] }
`);

// KEYS: token, the family's token set, the family's revocation marker.
// ARGV: jti, record JSON, seconds to keep the token.
// A family revoked before this save never gets the token at all; the set of a family's tokens
// lives as long as its longest-lived token so that revocation can find every one.
export const SAVE_REFRESH_TOKEN = lua(`
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local ttl = tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[2], 'EX', ttl)
redis.call('SADD', KEYS[2], ARGV[1])
if redis.call('TTL', KEYS[2]) < ttl then redis.call('EXPIRE', KEYS[2], ttl) end
return 1
`);

// KEYS: token. ARGV: now, family set key prefix, revocation marker key prefix.
// GET and DEL in one script is what makes the token single-use.
export const CONSUME_REFRESH_TOKEN = lua(`
local json = redis.call('GET', KEYS[1])
if not json then return {} end
redis.call('DEL', KEYS[1])
local record = cjson.decode(json)
redis.call('SREM', ARGV[2] .. record.familyId, record.jti)
if record.expiresAt <= tonumber(ARGV[1]) then return {} end
if redis.call('EXISTS', ARGV[3] .. record.familyId) == 1 then return {} end
return { json }
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
