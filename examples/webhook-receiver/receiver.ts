/**
 * A partner's webhook receiver: verifies each delivery's Standard Webhooks signature against the
 * raw body, refuses replays outside the tolerance window, processes each `webhook-id` once, and
 * answers quickly so the sender never times out.
 */
import { verifyWebhook, WebhookVerificationError } from '@rialto-exchange/express';
import express, { type Express } from 'express';

/** The envelope of every event. */
export interface RialtoEvent {
  id: string;
  type: string;
  timestamp: string;
  org_id: string;
  data: Record<string, unknown>;
}

export interface WebhookReceiverOptions {
  /** The `signing_secret` shown when the webhook was created (or last rotated). */
  secret: string;
  /** Handles a verified event, once per `webhook-id`. */
  onEvent(event: RialtoEvent): void | Promise<void>;
  /** The clock, in epoch seconds; tests move it. @default Date.now */
  nowSeconds?: () => number;
}

// Deliveries older than this are refused as replays, so ids need remembering only about as long.
const TOLERANCE_SECONDS = 300;

export function createWebhookReceiver(options: WebhookReceiverOptions): Express {
  const nowSeconds = options.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  // webhook-id → when first seen. In production keep this in a shared store (Redis SET NX EX, or a
  // unique column), so every instance of the receiver sees the same ids.
  const seen = new Map<string, number>();

  function isFirstDelivery(id: string, now: number): boolean {
    for (const [known, at] of seen) if (at < now - 2 * TOLERANCE_SECONDS) seen.delete(known);
    if (seen.has(id)) return false;
    seen.set(id, now);
    return true;
  }

  const app = express();
  // The signature covers the exact bytes sent: take the raw body, never re-serialized JSON.
  app.post('/webhooks/rialto', express.raw({ type: 'application/json' }), async (req, res) => {
    const now = nowSeconds();
    let event: RialtoEvent;
    try {
      event = verifyWebhook(req.body as Buffer, req.headers, options.secret, {
        toleranceSeconds: TOLERANCE_SECONDS,
        nowSeconds: now,
      }) as RialtoEvent;
    } catch (error) {
      if (!(error instanceof WebhookVerificationError)) throw error;
      res.status(400).json({ error: error.reason });
      return;
    }
    // Retries reuse the webhook-id: acknowledge them, but act only once.
    if (isFirstDelivery(String(req.headers['webhook-id']), now)) await options.onEvent(event);
    res.sendStatus(204);
  });
  return app;
}
