import type { z } from 'zod';
import { RialtoError } from '../errors.js';

/**
 * Validates an input against one of the exchange's schemas, as its HTTP routes do, so the CLI and
 * host code refuse exactly what the routes refuse, with the same message.
 * @throws RialtoError `invalid_request` naming the first offending field
 * @example
 * const registration = validateInput(registrationSchema, { name: 'Acme', issuer: 'https://acme.example.com' });
 */
export function validateInput<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0];
  const where = first && first.path.length > 0 ? `${first.path.map(String).join('.')}: ` : '';
  throw new RialtoError('invalid_request', `${where}${first?.message ?? 'invalid input'}`);
}
