/**
 * An in-process HTTP client for anything that answers a web-standard `Request` (`createTestApp`'s
 * app, a Hono app): the part of supertest's chained API the tests use, without a server or a socket.
 *
 *   const response = await request(t.app).post('/identity/organizations').set('authorization', …).send({ … });
 *   response.status; response.headers['cache-control']; response.body; response.text;
 */

/** Something that answers requests the way `fetch` does; Hono apps are, and so is `createTestApp().app`. */
export interface FetchTarget {
  fetch(request: Request): Response | Promise<Response>;
}

/** An answer as supertest gives it: lower-cased headers, `body` parsed when it is JSON (else `{}`). */
export interface TestResponse {
  status: number;
  headers: Record<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers of every shape, as with supertest
  body: any;
  text: string;
}

/** Where requests go when a test names only a path; the in-process target never resolves it. */
const ORIGIN = 'http://127.0.0.1';

export function request(target: FetchTarget) {
  const call = (method: string) => (path: string) => new TestRequest(target, method, path);
  return {
    get: call('GET'),
    post: call('POST'),
    put: call('PUT'),
    patch: call('PATCH'),
    delete: call('DELETE'),
  };
}

// Lets `request.Response` name an answer, as with supertest.
export declare namespace request {
  export type Response = TestResponse;
  export type Test = TestRequest;
}

export class TestRequest implements PromiseLike<TestResponse> {
  private readonly headers = new Headers();
  private body: string | undefined;
  private answer: Promise<TestResponse> | undefined;

  constructor(
    private readonly target: FetchTarget,
    private readonly method: string,
    private readonly path: string,
  ) {}

  /** Sets one header, or several from an object. */
  set(name: string | Record<string, string>, value?: string): this {
    const headers = typeof name === 'string' ? { [name]: value ?? '' } : name;
    for (const [header, headerValue] of Object.entries(headers)) this.headers.set(header, headerValue);
    return this;
  }

  /** An object is sent as JSON; a string as it is, typed as a form unless a type was set (supertest's default). */
  send(body: object | string): this {
    if (typeof body === 'string') {
      this.body = body;
      if (!this.headers.has('content-type'))
        this.headers.set('content-type', 'application/x-www-form-urlencoded');
    } else {
      this.body = JSON.stringify(body);
      if (!this.headers.has('content-type')) this.headers.set('content-type', 'application/json');
    }
    return this;
  }

  /** Fails unless the answer has `status`, like supertest's `.expect(status)`. */
  async expect(status: number): Promise<TestResponse> {
    const response = await this;
    if (response.status !== status) {
      throw new Error(`expected ${status}, got ${response.status}: ${response.text.slice(0, 300)}`);
    }
    return response;
  }

  // biome-ignore lint/suspicious/noThenProperty: awaitable like a supertest request, on purpose
  then<T = TestResponse, E = never>(
    onFulfilled?: ((value: TestResponse) => T | PromiseLike<T>) | null,
    onRejected?: ((reason: unknown) => E | PromiseLike<E>) | null,
  ): Promise<T | E> {
    this.answer ??= this.run();
    return this.answer.then(onFulfilled, onRejected);
  }

  private async run(): Promise<TestResponse> {
    let sent = this.body;
    if (sent !== undefined && (this.method === 'GET' || this.method === 'HEAD')) {
      // A `Request` cannot carry a GET body: servers (@hono/node-server) hand one over with its
      // headers and without the body, and so does this.
      this.headers.set('content-length', String(Buffer.byteLength(sent)));
      sent = undefined;
    }
    const response = await this.target.fetch(
      new Request(new URL(this.path, ORIGIN), { method: this.method, headers: this.headers, body: sent }),
    );
    const text = await response.text();
    const headers = Object.fromEntries(response.headers);
    let body: unknown = {};
    if (/^application\/json\b/.test(headers['content-type'] ?? '') && text !== '') body = JSON.parse(text);
    return { status: response.status, headers, body, text };
  }
}
