import { decodeProtectedHeader } from 'jose';

/** The `kid` of a compact JWS, or undefined when it has none or is not a JWS at all. */
export function kidOf(token: string): string | undefined {
  try {
    const { kid } = decodeProtectedHeader(token);
    return typeof kid === 'string' ? kid : undefined;
  } catch {
    return undefined;
  }
}
