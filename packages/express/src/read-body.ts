import type { IncomingMessage } from 'node:http';
import { RialtoError } from '@rialto-exchange/core';

/**
 * Reads the request body as text, refusing more than `maxBytes` before buffering it. When a host
 * body parser already consumed the stream, its result is used instead.
 */
export async function readBody(
  req: IncomingMessage & { body?: unknown },
  maxBytes: number,
): Promise<unknown> {
  if (req.body !== undefined || req.readableEnded) return req.body;
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    throw new RialtoError('unsupported_media_type', 'Compressed request bodies are not accepted.');
  }
  const declaredLength = Number(req.headers['content-length'] ?? 0);
  if (declaredLength > maxBytes) throw tooLarge(maxBytes);

  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

function tooLarge(maxBytes: number): RialtoError {
  // The rest of the body is never read, so the connection cannot be reused for another request.
  return new RialtoError('request_too_large', `The request body must not exceed ${maxBytes} bytes.`, {
    headers: { connection: 'close' },
  });
}
