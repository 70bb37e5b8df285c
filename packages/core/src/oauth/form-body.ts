import { RialtoError } from '../errors.js';
import type { RequestLike } from '../http/http-types.js';
import { isPlainObject } from '../http/messages.js';

/** The only parameters a request may repeat (RFC 8693 §2.1, RFC 8707 §2); every other appears once. */
export const REPEATABLE_PARAMETERS: readonly string[] = ['audience', 'resource'];

/**
 * The parameters of a form body: a string per name, and for {@link REPEATABLE_PARAMETERS} always an
 * array. Parameters sent without a value are absent (RFC 6749 §3.1). The object has no prototype,
 * so no parameter name can reach `Object.prototype`.
 */
export type FormParameters = Readonly<Record<string, string | readonly string[]>>;

export interface FormBodyLimits {
  /** Largest body, in UTF-8 bytes: the exchange's `maxBodyBytes`. */
  maxBytes: number;
  /** Most `name=value` pairs in one body. @default 100 */
  maxParameters?: number;
  /** Most values of one repeatable parameter. @default 32 (an organization has at most 32 audiences) */
  maxValuesPerParameter?: number;
}

// A token request has about a dozen parameters; a hundred leaves room for repeated targets.
const DEFAULT_MAX_PARAMETERS = 100;
// An organization has at most 32 audiences, so more targets cannot all be granted.
const DEFAULT_MAX_VALUES_PER_PARAMETER = 32;
const FORM_MEDIA_TYPE = 'application/x-www-form-urlencoded';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads an `application/x-www-form-urlencoded` body (RFC 6749 §3.2 and Appendix B): from the raw
 * text the bindings pass, or from the object a host's `express.urlencoded()` already made of it.
 *
 * @throws RialtoError `unsupported_media_type` for any other content type (JSON included) or a
 * charset other than UTF-8; `request_too_large` past `maxBytes`; `invalid_request` for a malformed
 * percent-encoding, invalid UTF-8, a repeated parameter other than `audience` and `resource`, too
 * many parameters or values, or a value a host parser nested (`a[b]=c` with `extended: true`)
 * @example
 * const parameters = parseFormBody(request, { maxBytes: options.maxBodyBytes });
 * parameters.grant_type; // 'urn:ietf:params:oauth:grant-type:token-exchange'
 * parameters.audience; // ['identity', 'primary-issuance']
 */
export function parseFormBody(
  request: Pick<RequestLike, 'headers' | 'body'>,
  limits: FormBodyLimits,
): FormParameters {
  const { maxBytes } = limits;
  const maxParameters = limits.maxParameters ?? DEFAULT_MAX_PARAMETERS;
  const maxValues = limits.maxValuesPerParameter ?? DEFAULT_MAX_VALUES_PER_PARAMETER;
  checkContentType(request.headers['content-type']);

  const { body } = request;
  let pairs: Array<[string, string]>;
  if (body === undefined || body === null) pairs = [];
  else if (typeof body === 'string') pairs = decodeForm(checkedSize(body, maxBytes), maxParameters);
  else if (body instanceof Uint8Array) pairs = decodeForm(decodeUtf8(body, maxBytes), maxParameters);
  else if (isPlainObject(body)) pairs = pairsOfParsedBody(body, maxParameters);
  else throw new RialtoError('invalid_request', 'The request body could not be read as a form.');
  return collect(pairs, maxValues);
}

function checkContentType(header: string | string[] | undefined): void {
  const value = Array.isArray(header) ? header[0] : header;
  const [mediaType = '', ...parameters] = (value ?? '').split(';');
  if (mediaType.trim().toLowerCase() !== FORM_MEDIA_TYPE) {
    throw new RialtoError(
      'unsupported_media_type',
      `The request body must be ${FORM_MEDIA_TYPE} (RFC 6749 §3.2), with a Content-Type header saying so.`,
    );
  }
  for (const parameter of parameters) {
    const [name = '', charset = ''] = parameter.split('=');
    if (name.trim().toLowerCase() !== 'charset') continue;
    if (
      charset
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase() !== 'utf-8'
    ) {
      throw new RialtoError('unsupported_media_type', 'The form body must be encoded in UTF-8.');
    }
  }
}

function checkedSize(text: string, maxBytes: number): string {
  // A string of n UTF-16 units is at most 3n UTF-8 bytes: count only when that could exceed the limit.
  if (text.length * 3 > maxBytes && Buffer.byteLength(text) > maxBytes) throw tooLarge(maxBytes);
  return text;
}

function decodeUtf8(bytes: Uint8Array, maxBytes: number): string {
  if (bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
  try {
    return utf8.decode(bytes);
  } catch {
    throw new RialtoError('invalid_request', 'The form body is not valid UTF-8.');
  }
}

function tooLarge(maxBytes: number): RialtoError {
  return new RialtoError('request_too_large', `The request body must not exceed ${maxBytes} bytes.`);
}

function decodeForm(text: string, maxParameters: number): Array<[string, string]> {
  const segments = text.split('&').filter((segment) => segment !== '');
  if (segments.length > maxParameters) throw tooManyParameters(maxParameters);
  return segments.map((segment) => {
    const separator = segment.indexOf('=');
    return separator === -1
      ? [decodeComponent(segment), '']
      : [decodeComponent(segment.slice(0, separator)), decodeComponent(segment.slice(separator + 1))];
  });
}

/**
 * One form-urlencoded component (RFC 6749 Appendix B): `+` is a space, `%XX` a UTF-8 byte.
 * @returns `null` when an escape is malformed or the bytes are not UTF-8, rather than keeping them verbatim
 */
export function formUrlDecode(encoded: string): string | null {
  // Tokens and most parameters have nothing to decode: skip the copy and the decoder for them.
  if (!encoded.includes('%') && !encoded.includes('+')) return encoded;
  try {
    return decodeURIComponent(encoded.replaceAll('+', ' '));
  } catch {
    return null;
  }
}

function decodeComponent(encoded: string): string {
  const decoded = formUrlDecode(encoded);
  if (decoded === null) {
    throw new RialtoError(
      'invalid_request',
      'The form body is not properly form-urlencoded: a "%" must start an escape of UTF-8 bytes (RFC 6749 Appendix B).',
    );
  }
  return decoded;
}

function pairsOfParsedBody(body: Record<string, unknown>, maxParameters: number): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(body)) {
    const values = Array.isArray(value) ? value : [value];
    for (const item of values) {
      if (typeof item !== 'string') throw nestedByHostParser(name);
      pairs.push([name, item]);
    }
    if (pairs.length > maxParameters) throw tooManyParameters(maxParameters);
  }
  return pairs;
}

function nestedByHostParser(name: string): RialtoError {
  return new RialtoError(
    'invalid_request',
    `The ${labelOf(name)} arrived as a nested value: a host body parser read brackets in a parameter name. Mount the router before express.urlencoded(), or use it with extended: false.`,
  );
}

function tooManyParameters(maxParameters: number): RialtoError {
  return new RialtoError(
    'invalid_request',
    `The form body must not have more than ${maxParameters} parameters.`,
  );
}

function collect(pairs: Array<[string, string]>, maxValues: number): FormParameters {
  const values = new Map<string, string[]>();
  for (const [name, value] of pairs) {
    // RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
    if (value === '') continue;
    const seen = values.get(name);
    if (seen) seen.push(value);
    else values.set(name, [value]);
  }
  const parameters: Record<string, string | string[]> = Object.create(null);
  for (const [name, all] of values) {
    if (REPEATABLE_PARAMETERS.includes(name)) {
      if (all.length > maxValues) {
        throw new RialtoError(
          'invalid_request',
          `The ${name} parameter must not appear more than ${maxValues} times.`,
        );
      }
      parameters[name] = all;
    } else if (all.length > 1) {
      // RFC 6749 §3.1: request parameters must not be included more than once.
      throw new RialtoError(
        'invalid_request',
        `The ${labelOf(name)} must not be repeated; only audience and resource may appear more than once.`,
      );
    } else {
      parameters[name] = all[0] as string;
    }
  }
  return parameters;
}

// Descriptions name a parameter only when its name is plainly one: a name is client input too.
function labelOf(name: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(name) ? `${name} parameter` : 'parameter';
}
