import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { memoryStore } from '@rialto-exchange/storage-adapters';
import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../store/store.js';
import { createTelemetry, inSpan, tracedStore, tracesNothing } from './tracing.js';

/**
 * Without an SDK the traced store and `inSpan` start no span at all; an SDK registered after they
 * were built (a host that sets tracing up late) is used from its registration on.
 */
describe('tracing registered after the exchange was built', () => {
  afterEach(() => {
    trace.disable();
  });

  function registerSdk(): InMemorySpanExporter {
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    return exporter;
  }

  it('spans store calls and inSpan work once an SDK is registered, and none before', async () => {
    const { tracer } = createTelemetry(undefined);
    const store = tracedStore(memoryStore(), tracer);
    expect(tracesNothing(tracer)).toBe(true);
    expect(await store.getOrganization('00000000-0000-4000-8000-000000000000')).toBeNull();
    expect(await inSpan(tracer, 'rialto.test', async (span) => span.isRecording())).toBe(false);

    const exporter = registerSdk();
    expect(tracesNothing(tracer)).toBe(false);
    const recorded = await inSpan(tracer, 'rialto.test', async (span) => {
      await store.getOrganization('00000000-0000-4000-8000-000000000000');
      return span.isRecording();
    });
    expect(recorded).toBe(true);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => span.name)).toEqual(['rialto.store.getOrganization', 'rialto.test']);

    trace.disable();
    exporter.reset();
    expect(tracesNothing(tracer)).toBe(true);
    await store.getOrganization('00000000-0000-4000-8000-000000000000');
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('a failing store call rejects as the store did, traced or not', async () => {
    const inner = memoryStore();
    const failure = new Error('backend down');
    inner.getOrganization = () => Promise.reject(failure);
    const store = tracedStore(inner, createTelemetry(undefined).tracer);
    await expect(store.getOrganization('x')).rejects.toBe(failure);

    const exporter = registerSdk();
    await expect(store.getOrganization('x')).rejects.toBe(failure);
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('rialto.store.getOrganization');
    expect(span?.attributes['error.type']).toBe('Error');
  });

  it("calls the store's current method, its classes' methods included, with the store as this", async () => {
    class ClassStore {
      readonly calls: string[] = [];
      async getOrganization(orgId: string) {
        this.calls.push(orgId);
        return null;
      }
    }
    const inner = new ClassStore();
    const store = tracedStore(inner as unknown as Store, createTelemetry(undefined).tracer);
    await store.getOrganization('a');
    expect(inner.calls).toEqual(['a']);

    // A method replaced after the traced store was built (a test's spy) is the one called.
    inner.getOrganization = async (orgId: string) => {
      inner.calls.push(`replaced ${orgId}`);
      return null;
    };
    await store.getOrganization('b');
    expect(inner.calls).toEqual(['a', 'replaced b']);
    // Only methods are exposed, and optional ones the store leaves out stay absent.
    expect(store.hitRateLimit).toBeUndefined();
    expect(Object.keys(store)).toEqual(['getOrganization']);
  });
});
