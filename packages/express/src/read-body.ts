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

  return readText(req, maxBytes);
}

/**
 * The stream's bytes as UTF-8, through its events rather than an async iterator, which costs a
 * promise per chunk. Past `maxBytes` it stops reading; a stream that fails or closes before its
 * end rejects, as the iterator did.
 */
function readText(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        stop();
        // Not destroyed: that would close the socket before the 413 is sent (it says `connection: close`).
        req.pause();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(
        chunks.length === 1
          ? (chunks[0] as Buffer).toString('utf8')
          : Buffer.concat(chunks, total).toString('utf8'),
      );
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    const onClose = () => {
      stop();
      reject(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function tooLarge(maxBytes: number): RialtoError {
  // The rest of the body is never read, so the connection cannot be reused for another request.
  return new RialtoError('request_too_large', `The request body must not exceed ${maxBytes} bytes.`, {
    headers: { connection: 'close' },
  });
}
