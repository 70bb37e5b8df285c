import { type Html, html } from './html.js';

/** What the console answers, whatever the framework that carries it. */
export interface ConsoleResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: string | Buffer;
}

/**
 * Everything from the package's own origin and nothing inline: a value that escaped escaping could
 * still run no script, load nothing from elsewhere and post nowhere else.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on form posts.
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  // Pages show API keys and user data: never kept by a browser or a proxy.
  'cache-control': 'no-store',
};

export function htmlResponse(
  status: number,
  document: Html,
  headers: Record<string, string | string[]> = {},
) {
  return {
    status,
    headers: { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', ...headers },
    body: `<!doctype html>\n${document.__html}`,
  } satisfies ConsoleResponse;
}

/** 303: the browser follows with a GET, so reloading the result never repeats the write. */
export function redirect(location: string, headers: Record<string, string | string[]> = {}): ConsoleResponse {
  return { status: 303, headers: { ...SECURITY_HEADERS, location, ...headers }, body: '' };
}

export function plainResponse(status: number, text: string): ConsoleResponse {
  return {
    status,
    headers: { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' },
    body: text,
  };
}

export function documentShell(title: string, base: string, content: Html): Html {
  return html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Rialto console</title>
<link rel="stylesheet" href="${base}/assets/console.css">
<script src="${base}/assets/console.js" defer></script>
</head>
<body>
${content}
</body>
</html>`;
}
