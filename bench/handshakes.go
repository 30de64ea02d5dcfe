package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/certs"
	"github.com/gatehouse-gw/gatehouse/devenv/demo"
)

// benchHandshakes is target P6: new mutual-TLS connections per second with
// the gateway's checks (party binding, key policy, CRL revocation) against
// plain crypto/tls requiring and verifying a client certificate, alternating
// in the same run.
func benchHandshakes(d time.Duration) ([]Metric, error) {
	dir, err := os.MkdirTemp("", "gatehouse-p6-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	now := time.Now()
	ca, _, err := certs.LoadOrCreateAuthority(dir, "P6 CA", 24*time.Hour, now)
	if err != nil {
		return nil, err
	}
	reg, err := certs.LoadRegister(dir)
	if err != nil {
		return nil, err
	}
	if err := reg.Publish(dir, ca, now, time.Hour); err != nil {
		return nil, err
	}
	server, err := ca.IssueServer("gatehouse", []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour, now)
	if err != nil {
		return nil, err
	}
	if err := certs.WriteLeaf(dir, "gateway", server); err != nil {
		return nil, err
	}
	party, err := ca.IssueParty(demo.TrustDomain, "council.revenues", time.Hour, now)
	if err != nil {
		return nil, err
	}
	registry := agreements.NewRegistry(demo.Parties(), nil)
	gw, err := certs.NewServer(certs.ServerConfig{
		TrustDomain: demo.TrustDomain, CertFile: filepath.Join(dir, "gateway.crt"), KeyFile: filepath.Join(dir, "gateway.key"),
		ClientCAFiles: []string{filepath.Join(dir, "ca.crt")},
		Revocation:    certs.RevocationPolicy{CRLFiles: []string{certs.CRLPath(dir)}, UseDistributionPoints: true},
		Parties:       func(context.Context) (*agreements.Registry, error) { return registry, nil },
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	serverCert := tls.Certificate{Certificate: [][]byte{server.Cert.Raw}, PrivateKey: server.Key, Leaf: server.Cert}
	plain := &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	client := &tls.Config{
		RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{party.Cert.Raw}, PrivateKey: party.Key, Leaf: party.Cert}},
	}

	var base, gateway []float64
	for r := range rounds {
		p, err := handshakeRate(plain, client, d)
		if err != nil {
			return nil, err
		}
		g, err := handshakeRate(gw.TLSConfig(), client, d)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "  round %d: plain crypto/tls %.0f handshakes/s; gateway policy with revocation %.0f/s\n", r+1, p, g)
		base, gateway = append(base, p), append(gateway, g)
	}
	return []Metric{ratioAtLeast("P6 new mTLS connections with revocation checks (vs plain crypto/tls)", medianOf(gateway), medianOf(base), "handshakes/s", 0.8)}, nil
}

// handshakeRate runs full handshakes (no resumption) from two clients
// against a server with cfg for d, and returns handshakes per second.
func handshakeRate(cfg, client *tls.Config, d time.Duration) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				tc := tls.Server(c, cfg)
				if tc.Handshake() == nil {
					_, _ = tc.Write([]byte("ok"))
				}
				tc.Close()
			}()
		}
	}()
	addr := ln.Addr().String()
	res := closedLoop(2, 500*time.Millisecond, d, func(int, int) error {
		c, err := tls.Dial("tcp", addr, client)
		if err != nil {
			return err
		}
		// Read until the server closes: that is after its side of the
		// handshake, verification included, is done; "ok" if it accepted.
		b, _ := io.ReadAll(c)
		c.Close()
		if string(b) != "ok" {
			return errors.New("handshake refused")
		}
		return nil
	})
	if res.errors > 0 {
		return 0, fmt.Errorf("%d handshakes failed", res.errors)
	}
	return res.perSecond, nil
}
