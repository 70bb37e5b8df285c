import { describe, expect, it } from 'vitest';
import { RialtoError } from '../errors.js';
import type { RequestLike } from '../http/http-types.js';
import { type FormBodyLimits, parseFormBody as parseForm } from './form-body.js';

// The exchange's default maxBodyBytes, which the token endpoint passes.
const parseFormBody = (request: Parameters<typeof parseForm>[0], limits: Partial<FormBodyLimits> = {}) =>
  parseForm(request, { maxBytes: 65_536, ...limits });

const FORM = 'application/x-www-form-urlencoded';

function request(body: unknown, contentType: string | null = FORM): Pick<RequestLike, 'headers' | 'body'> {
  return { headers: contentType === null ? {} : { 'content-type': contentType }, body };
}

function refusal(run: () => unknown): { code: string; description: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RialtoError);
    const { code, description } = error as RialtoError;
    return { code, description };
  }
  throw new Error('expected a refusal');
}

describe('parseFormBody', () => {
  it('decodes names and values: + is a space, %XX a UTF-8 byte (RFC 6749 Appendix B)', () => {
    const parameters = parseFormBody(
      request('grant_type=refresh_token&refresh_token=a%2Bb+c%3D%3D&client_id=%C3%A9t%C3%A9&x%20y=1'),
    );
    expect({ ...parameters }).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'a+b c==',
      client_id: 'été',
      'x y': '1',
    });
  });

  it('reads a Buffer body as UTF-8 and refuses bytes that are not', () => {
    expect({ ...parseFormBody(request(Buffer.from('scope=aud%3Aidentity'))) }).toEqual({
      scope: 'aud:identity',
    });
    expect(refusal(() => parseFormBody(request(Buffer.from([0x61, 0x3d, 0xff]))))).toEqual({
      code: 'invalid_request',
      description: 'The form body is not valid UTF-8.',
    });
  });

  it('treats parameters sent without a value as omitted (RFC 6749 §3.1)', () => {
    const parameters = parseFormBody(request('scope=&audience=&resource&grant_type=refresh_token&&'));
    expect({ ...parameters }).toEqual({ grant_type: 'refresh_token' });
  });

  it('lets an empty value sit beside a real one of the same name without counting as a repeat', () => {
    expect({ ...parseFormBody(request('scope=&scope=aud%3Aidentity')) }).toEqual({ scope: 'aud:identity' });
  });

  it('gives audience and resource as arrays, in order, even when sent once', () => {
    const parameters = parseFormBody(
      request('audience=identity&resource=https%3A%2F%2Fa.example%2F&audience=primary-issuance'),
    );
    expect(parameters.audience).toEqual(['identity', 'primary-issuance']);
    expect(parameters.resource).toEqual(['https://a.example/']);
  });

  it('refuses any other repeated parameter with invalid_request naming it', () => {
    expect(refusal(() => parseFormBody(request('grant_type=a&scope=x&grant_type=b')))).toEqual({
      code: 'invalid_request',
      description:
        'The grant_type parameter must not be repeated; only audience and resource may appear more than once.',
    });
  });

  it('does not repeat a parameter name that is not plainly one in its description', () => {
    expect(refusal(() => parseFormBody(request('%0Aevil=1&%0Aevil=2'))).description).toBe(
      'The parameter must not be repeated; only audience and resource may appear more than once.',
    );
  });

  it('refuses a malformed percent-encoding instead of keeping it verbatim', () => {
    for (const body of ['token=%zz', 'token=%E0%A4', 'a%=1', 'token=%ED%A0%80']) {
      expect(refusal(() => parseFormBody(request(body)))).toEqual({
        code: 'invalid_request',
        description:
          'The form body is not properly form-urlencoded: a "%" must start an escape of UTF-8 bytes (RFC 6749 Appendix B).',
      });
    }
  });

  it.each([
    ['application/json', '{"grant_type":"refresh_token"}'],
    [null, 'grant_type=refresh_token'],
    ['text/plain', 'grant_type=refresh_token'],
    ['multipart/form-data; boundary=x', 'grant_type=refresh_token'],
  ])('refuses content type %s with unsupported_media_type', (contentType, body) => {
    expect(refusal(() => parseFormBody(request(body, contentType)))).toEqual({
      code: 'unsupported_media_type',
      description:
        'The request body must be application/x-www-form-urlencoded (RFC 6749 §3.2), with a Content-Type header saying so.',
    });
  });

  it('accepts the media type in any case, with a UTF-8 charset, and refuses another charset', () => {
    for (const contentType of [
      'Application/X-WWW-Form-Urlencoded',
      `${FORM}; charset=UTF-8`,
      `${FORM};charset="utf-8"`,
    ]) {
      expect({ ...parseFormBody(request('a=1', contentType)) }).toEqual({ a: '1' });
    }
    expect(refusal(() => parseFormBody(request('a=1', `${FORM}; charset=ISO-8859-1`)))).toEqual({
      code: 'unsupported_media_type',
      description: 'The form body must be encoded in UTF-8.',
    });
  });

  it('refuses a body over maxBytes, counted in UTF-8 bytes, with request_too_large', () => {
    const twoByteCharacters = `a=${'é'.repeat(60)}`; // 62 characters, 122 bytes
    expect({ ...parseFormBody(request(twoByteCharacters), { maxBytes: 122 }) }).toEqual({
      a: 'é'.repeat(60),
    });
    expect(refusal(() => parseFormBody(request(twoByteCharacters), { maxBytes: 121 }))).toEqual({
      code: 'request_too_large',
      description: 'The request body must not exceed 121 bytes.',
    });
    expect(refusal(() => parseFormBody(request(Buffer.alloc(11, 'a')), { maxBytes: 10 })).code).toBe(
      'request_too_large',
    );
  });

  it('refuses more parameters than maxParameters, and more values of one than maxValuesPerParameter', () => {
    const pairs = Array.from({ length: 6 }, (_, index) => `p${index}=1`).join('&');
    expect(Object.keys(parseFormBody(request(pairs), { maxParameters: 6 }))).toHaveLength(6);
    expect(refusal(() => parseFormBody(request(pairs), { maxParameters: 5 }))).toEqual({
      code: 'invalid_request',
      description: 'The form body must not have more than 5 parameters.',
    });
    const audiences = Array.from({ length: 4 }, (_, index) => `audience=a${index}`).join('&');
    expect(refusal(() => parseFormBody(request(audiences), { maxValuesPerParameter: 3 }))).toEqual({
      code: 'invalid_request',
      description: 'The audience parameter must not appear more than 3 times.',
    });
  });

  it('gives an object without prototype, so __proto__ and constructor are plain parameters', () => {
    const parameters = parseFormBody(request('__proto__=x&constructor=y'));
    expect(Object.getPrototypeOf(parameters)).toBeNull();
    expect(Object.getOwnPropertyDescriptor(parameters, '__proto__')?.value).toBe('x');
    expect(parameters.constructor).toBe('y');
    expect(parseFormBody(request('a=1')).toString).toBeUndefined();
  });

  it('takes an empty or absent body as no parameters', () => {
    expect({ ...parseFormBody(request('')) }).toEqual({});
    expect({ ...parseFormBody(request(undefined)) }).toEqual({});
  });

  describe('a body a host parser already read (express.urlencoded)', () => {
    it('takes strings as sent and repeated names as arrays, with the same rules', () => {
      const parameters = parseFormBody(
        request({ grant_type: 'refresh_token', refresh_token: 'r', audience: ['identity', ''], scope: '' }),
      );
      expect({ ...parameters }).toEqual({
        grant_type: 'refresh_token',
        refresh_token: 'r',
        audience: ['identity'],
      });
      expect(refusal(() => parseFormBody(request({ grant_type: ['a', 'b'] })))).toEqual({
        code: 'invalid_request',
        description:
          'The grant_type parameter must not be repeated; only audience and resource may appear more than once.',
      });
    });

    it('refuses a value the extended parser nested from brackets in a name', () => {
      const expected = {
        code: 'invalid_request',
        description:
          'The client parameter arrived as a nested value: a host body parser read brackets in a parameter name. Mount the router before express.urlencoded(), or use it with extended: false.',
      };
      expect(refusal(() => parseFormBody(request({ client: { id: 'x' } })))).toEqual(expected);
      expect(refusal(() => parseFormBody(request({ client: [{ id: 'x' }] })))).toEqual(expected);
    });

    it('counts its parameters against maxParameters too', () => {
      const body = Object.fromEntries(Array.from({ length: 4 }, (_, index) => [`p${index}`, '1']));
      expect(refusal(() => parseFormBody(request(body), { maxParameters: 3 })).description).toBe(
        'The form body must not have more than 3 parameters.',
      );
    });

    it('still checks the content type, so a JSON body parsed by express.json() is refused', () => {
      expect(refusal(() => parseFormBody(request({ grant_type: 'x' }, 'application/json'))).code).toBe(
        'unsupported_media_type',
      );
    });
  });

  it('refuses a body of any other kind with invalid_request', () => {
    expect(refusal(() => parseFormBody(request(42)))).toEqual({
      code: 'invalid_request',
      description: 'The request body could not be read as a form.',
    });
  });
});
