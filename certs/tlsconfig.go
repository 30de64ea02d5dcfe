package certs

import (
	"crypto/tls"
	"crypto/x509"
)

// TLS 1.2 suites the gateway accepts: ECDHE key exchange with AEAD ciphers
// only. TLS 1.3 suites are fixed by Go and are all AEAD.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ServerPolicy is the gateway listener's TLS policy.
type ServerPolicy struct {
	// GetCertificate returns the server certificate (reloadable).
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ClientCAs returns the pool of every party's trust anchors (reloadable).
	ClientCAs func() *x509.CertPool
	// VerifyConnection binds the verified chain to a party; it runs on every
	// handshake, resumed ones included.
	VerifyConnection func(tls.ConnectionState) error
}

// Config returns a tls.Config that requires and verifies a client
// certificate, speaks TLS 1.2 (ECDHE + AEAD only) or 1.3, and never
// renegotiates. Trust anchors are read per handshake, so a reload takes
// effect on the next connection.
func (p ServerPolicy) Config() *tls.Config {
	base := &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     tls12Suites,
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384},
		ClientAuth:       tls.RequireAndVerifyClientCert,
		Renegotiation:    tls.RenegotiateNever,
		GetCertificate:   p.GetCertificate,
		VerifyConnection: p.VerifyConnection,
		NextProtos:       []string{"http/1.1"},
	}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c := base.Clone()
		c.GetConfigForClient = nil
		c.ClientCAs = p.ClientCAs()
		return c, nil
	}
	return base
}

// AdminPolicy is the admin listener's TLS policy: the same protocol and
// cipher limits as the partner listener, without client certificates
// (administrators authenticate with bearer tokens).
func AdminPolicy(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     tls12Suites,
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384},
		Renegotiation:    tls.RenegotiateNever,
		GetCertificate:   getCert,
		NextProtos:       []string{"http/1.1"},
	}
}
