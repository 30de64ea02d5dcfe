package client

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// TLSConfig returns the TLS configuration a party uses to reach the
// gateway: its client certificate and key, and the CA that issued the
// gateway's server certificate (empty caFile: the system roots). TLS 1.2 is
// the least it speaks; the gateway itself allows only ECDHE with AEAD
// ciphers on 1.2.
func TLSConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}
	if caFile != "" {
		if cfg.RootCAs, err = readPool(caFile); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// readPool reads the PEM CA certificates of caFile.
func readPool(caFile string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("gateway CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("gateway CA %s: no PEM certificate found", caFile)
	}
	return pool, nil
}
