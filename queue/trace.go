package queue

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// A job carries the W3C trace context (traceparent, tracestate) and
// baggage of the code that enqueued it, and its handler's context
// continues them, so a trace runs from the enqueue through the handler.
// Only the OpenTelemetry API is used: a role brings its own SDK and
// exporter; without one, contexts carry no span and nothing is added.
var tracePropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// headerCarrier lets the propagator read and write a job's headers.
type headerCarrier nats.Header

func (c headerCarrier) Get(key string) string { return nats.Header(c).Get(key) }
func (c headerCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }
func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// injectTrace adds ctx's trace context to h and returns h, made when nil
// and ctx has something to carry (a nil h stays nil otherwise: most jobs
// of a role without tracing carry no header block at all).
func injectTrace(ctx context.Context, h nats.Header) nats.Header {
	if h == nil {
		if !trace.SpanContextFromContext(ctx).IsValid() && baggage.FromContext(ctx).Len() == 0 {
			return nil
		}
		h = make(nats.Header, 2)
	}
	tracePropagator.Inject(ctx, headerCarrier(h))
	return h
}

// extractTrace returns ctx continuing the trace in h, or ctx itself when
// h carries none (most jobs of a role without tracing: no allocation).
func extractTrace(ctx context.Context, h nats.Header) context.Context {
	if len(h.Values("traceparent")) == 0 && len(h.Values("baggage")) == 0 {
		return ctx
	}
	return tracePropagator.Extract(ctx, headerCarrier(h))
}
