import { z } from 'zod';

// C0 controls and DEL. PostgreSQL refuses NUL in text (error 22021) and the others have no place
// in an identifier, an email or a name: they only serve to spoof logs and split headers.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

export function hasControlCharacter(value: string): boolean {
  return CONTROL_CHARACTER.test(value);
}

/** A string body field that is stored and shown back, so it must hold no control character. */
export const printableText = z
  .string()
  .refine((value) => !hasControlCharacter(value), 'must not contain control characters');
