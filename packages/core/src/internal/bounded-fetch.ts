/** Why a remote document could not be used; kept in `cause`, never sent to clients. */
export class RemoteDocumentError extends Error {
  override readonly name = 'RemoteDocumentError';
}

export interface BoundedFetchLimits {
  timeoutMs: number;
  maxResponseBytes: number;
}

/**
 * GETs a JSON object with a deadline on the whole exchange (connect, headers and body) and a cap on
 * the body size, so a slow or hostile IdP can neither hold a request open nor exhaust memory.
 * Redirects are refused: a registered issuer must serve its own documents.
 */
export async function fetchJsonObject(
  url: URL,
  limits: BoundedFetchLimits,
): Promise<Record<string, unknown>> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { signal, redirect: 'manual', headers: { accept: 'application/json' } });
  } catch (error) {
    throw new RemoteDocumentError(`GET ${url.href} failed: ${describe(error)}`, { cause: error });
  }
  try {
    if (response.status !== 200) {
      throw new RemoteDocumentError(`GET ${url.href} answered ${response.status}`);
    }
    const declaredLength = Number(response.headers.get('content-length') ?? Number.NaN);
    if (declaredLength > limits.maxResponseBytes) {
      throw new RemoteDocumentError(`GET ${url.href} declared ${declaredLength} bytes`);
    }
    const text = await readTextCapped(response, limits.maxResponseBytes, url);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new RemoteDocumentError(`GET ${url.href} did not return JSON`, { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new RemoteDocumentError(`GET ${url.href} did not return a JSON object`);
    }
    return parsed as Record<string, unknown>;
  } finally {
    // Free the socket whatever happened to the body.
    await response.body?.cancel().catch(() => {});
  }
}

async function readTextCapped(response: Response, maxBytes: number, url: URL): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw new RemoteDocumentError(`GET ${url.href} exceeded ${maxBytes} bytes`);
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof RemoteDocumentError) throw error;
    throw new RemoteDocumentError(`GET ${url.href} failed while reading: ${describe(error)}`, {
      cause: error,
    });
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return `${error.name}: ${error.message}${cause}`;
  }
  return String(error);
}
