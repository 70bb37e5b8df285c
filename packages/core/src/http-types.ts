/** A request as the core handler sees it; any HTTP framework can produce one. */
export interface RequestLike {
  /** Upper-case method. */
  method: string;
  /** Path relative to where the handler is mounted, without the query string. */
  path: string;
  /** Header names lower-cased. */
  headers: Record<string, string | string[] | undefined>;
  /** The raw body text, or a value a host body parser already produced, or `undefined`. */
  body?: unknown;
}

/** A response as the core handler produces it; `body` is serialized as JSON. */
export interface ResponseLike {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}
