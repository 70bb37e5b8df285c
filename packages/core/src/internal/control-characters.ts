import { z } from 'zod';

// Controls (C0, DEL, C1). PostgreSQL refuses NUL in text (error 22021) and the others have no place
// in an identifier, an email or a name: they only serve to spoof logs and split headers.
const CONTROL_CHARACTER = /\p{Cc}/u;

// Invisible format characters (Unicode category Cf): bidirectional embeddings, overrides and
// isolates (U+202A–U+202E, U+2066–U+2069) reorder what a log line, the CLI or a console shows, and
// zero-width ones (U+200B, U+FEFF, ...) make two different strings look identical.
const FORMAT_CHARACTER = /\p{Cf}/u;

// The zero-width non-joiner and joiner (U+200C, U+200D) are Cf too, but Persian and the Indic
// scripts need them to spell words and emoji sequences need the joiner: a name or a description
// may hold them. Identifiers, URLs and claims may not.
const FORMAT_CHARACTER_BUT_JOINERS = /(?![\u200c\u200d])\p{Cf}/u;

const CONTROL_MESSAGE = 'must not contain control characters';
const FORMAT_MESSAGE = 'must not contain invisible formatting characters such as bidirectional controls';

/**
 * Why `value` cannot be stored or shown back, or `null` when it can.
 * @param text `true` for names and descriptions (the joiners U+200C and U+200D pass), `false` for
 *   identifiers, URLs and token claims (every Cf character is refused)
 */
export function unprintableReason(value: string, text = false): string | null {
  if (CONTROL_CHARACTER.test(value)) return CONTROL_MESSAGE;
  if ((text ? FORMAT_CHARACTER_BUT_JOINERS : FORMAT_CHARACTER).test(value)) return FORMAT_MESSAGE;
  return null;
}

function printable(text: boolean) {
  return z.string().superRefine((value, context) => {
    const reason = unprintableReason(value, text);
    if (reason !== null) context.addIssue({ code: 'custom', message: reason });
  });
}

/** A name or description that is stored and shown back: no controls, no invisible formatting. */
export const printableText = printable(true);

/** An identifier or URL that is stored and compared: no controls, no format character at all. */
export const printableIdentifier = printable(false);
