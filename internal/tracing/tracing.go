// Package tracing sets up optional OpenTelemetry tracing: spans for every
// request and object-store transfer, exported over OTLP/HTTP. Without an
// endpoint nothing is set up and tracing costs nothing. Spans carry party
// and agreement ids and routes, never subject identifiers or payloads.
package tracing

import (
	"context"
	"fmt"
	"net/url"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Name is the instrumentation scope of Gatehouse's spans.
const Name = "github.com/gatehouse-gw/gatehouse"

// Config says where spans go.
type Config struct {
	// Endpoint is the OTLP/HTTP collector's URL, e.g.
	// https://otel-collector:4318; empty disables tracing.
	Endpoint string
	// SampleRatio is the share of traces recorded (0 to 1); a trace a
	// caller started (traceparent) follows the caller's decision.
	SampleRatio float64
	// ServiceName names the service in every span; Instance names this
	// gateway (its issuer).
	ServiceName string
	Instance    string
}

// Setup installs the global tracer provider and propagator. The returned
// function flushes and stops it.
func Setup(ctx context.Context, cfg Config) (func(context.Context) error, error) {
	if cfg.Endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tracing: endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(u.JoinPath("/v1/traces").String())}
	if u.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", cfg.ServiceName),
		attribute.String("service.instance.id", cfg.Instance),
	))
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return tp.Shutdown, nil
}

// Tracer is Gatehouse's tracer (a no-op until Setup installs a provider).
func Tracer() trace.Tracer { return otel.Tracer(Name) }

// Start starts a span as a child of any span in ctx.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return Tracer().Start(ctx, name, trace.WithAttributes(attrs...))
}
