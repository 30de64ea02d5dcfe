package server

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse-gw/gatehouse/certs"
	"github.com/gatehouse-gw/gatehouse/gateway"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
)

// listenMetrics opens admin.metrics_listen: TLS with the gateway's server
// certificate, framed strictly like the other listeners. It serves only
// /metrics, without a token, for a Prometheus that reaches it on a network
// of the operator's choosing; on the admin listener /metrics needs an
// auditor's or admin's token.
func (a *App) listenMetrics(maxHead int) (net.Listener, error) {
	ln, err := net.Listen("tcp", a.Config.Admin.MetricsListen)
	if err != nil {
		return nil, err
	}
	ln = gateway.LimitPerIP(ln, a.Config.Limits.MaxConnsPerIP)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	a.metricsSrv.Store(&http.Server{
		Handler:           mux,
		ReadHeaderTimeout: a.Config.Limits.HeaderTimeout,
		IdleTimeout:       a.Config.Limits.IdleTimeout,
		MaxHeaderBytes:    int(a.Config.Limits.MaxHeaderBytes),
	})
	return gateway.StrictFraming(tls.NewListener(ln, certs.AdminPolicy(a.TLS.Certificate)), maxHead, "metrics", a.Log), nil
}

func (a *App) serveMetrics(ln net.Listener) error {
	if err := a.metricsSrv.Load().Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (a *App) shutdownMetrics(ctx context.Context) error {
	if srv := a.metricsSrv.Load(); srv != nil {
		return srv.Shutdown(ctx)
	}
	return nil
}
