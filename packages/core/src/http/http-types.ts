/** A request as the core handler sees it; any HTTP framework can produce one. */
export interface RequestLike {
  /** Upper-case method. */
  method: string;
  /** Path relative to where the handler is mounted, without the query string. */
  path: string;
  /**
   * The query string, without its `?` (`query=acme&limit=20`); leave it out when there is none.
   * Only routes that declare query parameters read it.
   */
  query?: string;
  /** Header names lower-cased. */
  headers: Record<string, string | string[] | undefined>;
  /** The raw body text, or a value a host body parser already produced, or `undefined`. */
  body?: unknown;
  /**
   * The client's address, for per-IP rate limits. Bindings pass what the framework resolved
   * (Express: `req.ip`, which honours `trust proxy`); never a raw `X-Forwarded-For`.
   */
  ip?: string;
}

/** A response as the core handler produces it; `body` is serialized as JSON. */
export interface ResponseLike {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}
