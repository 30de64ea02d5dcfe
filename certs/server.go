package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// ServerConfig configures the partner listener's certificates and checks.
type ServerConfig struct {
	TrustDomain string
	CertFile    string
	KeyFile     string
	// ClientCAFiles are anchors trusted for every party.
	ClientCAFiles []string
	Revocation    RevocationPolicy
	// RevocationHosts are the hosts that the CRL and OCSP addresses in
	// certificates issued under ClientCAFiles may be fetched from; each
	// party registers its own.
	RevocationHosts Hosts
	// MaxChain is the most certificates a client may present.
	MaxChain int
	// MinRSABits is the smallest RSA key accepted.
	MinRSABits int
	// Parties returns the registered parties (their anchors and rules).
	Parties func(ctx context.Context) (*agreements.Registry, error)
	Log     *slog.Logger
	// Refused, if set, is told the reason of every refused handshake.
	Refused func(reason string)
}

// Server holds the listener's certificate, trust anchors and CRLs, and
// reloads them without a restart: a new handshake uses the new files, a
// connection already open keeps working.
type Server struct {
	cfg     ServerConfig
	checker *Checker

	cert   atomic.Pointer[tls.Certificate]
	global atomic.Pointer[[]*x509.Certificate]
	// stamps are the modification times of the watched files.
	stampsMu sync.Mutex
	stamps   map[string]time.Time

	trustMu  sync.Mutex
	trustFor *agreements.Registry
	trustGen *[]*x509.Certificate
	trust    *TrustStore
	// trustAt is when the parties were last read.
	trustAt time.Time
}

// NewServer loads the certificate, anchors and CRLs.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.MaxChain == 0 {
		cfg.MaxChain = 5
	}
	if cfg.MinRSABits == 0 {
		cfg.MinRSABits = 2048
	}
	s := &Server{cfg: cfg, stamps: map[string]time.Time{}}
	var err error
	if s.checker, err = NewChecker(cfg.Revocation); err != nil {
		return nil, fmt.Errorf("revocation: %w", err)
	}
	if err := s.loadFiles(); err != nil {
		return nil, err
	}
	s.recordStamps()
	return s, nil
}

// Checker is the revocation checker.
func (s *Server) Checker() *Checker { return s.checker }

func (s *Server) loadFiles() error {
	cert, err := tls.LoadX509KeyPair(s.cfg.CertFile, s.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("server certificate: %w", err)
	}
	var global []*x509.Certificate
	for _, f := range s.cfg.ClientCAFiles {
		cas, err := ReadCertificates(f)
		if err != nil {
			return fmt.Errorf("client CA: %w", err)
		}
		global = append(global, cas...)
	}
	s.cert.Store(&cert)
	s.global.Store(&global)
	return nil
}

func (s *Server) watched() []string {
	files := append([]string{s.cfg.CertFile, s.cfg.KeyFile}, s.cfg.ClientCAFiles...)
	s.checker.mu.RLock()
	defer s.checker.mu.RUnlock()
	return append(files, s.checker.policy.CRLFiles...)
}

// SetCRLFiles replaces the CRL files checked and reloads them.
func (s *Server) SetCRLFiles(ctx context.Context, files []string) error {
	err := s.checker.SetCRLFiles(ctx, files)
	s.recordStamps()
	return err
}

func (s *Server) recordStamps() {
	s.stampsMu.Lock()
	defer s.stampsMu.Unlock()
	for _, f := range s.watched() {
		if st, err := os.Stat(f); err == nil {
			s.stamps[f] = st.ModTime()
		}
	}
}

// changed reports whether a watched file changed since the last load.
func (s *Server) changed() bool {
	s.stampsMu.Lock()
	defer s.stampsMu.Unlock()
	for _, f := range s.watched() {
		st, err := os.Stat(f)
		if err == nil && !st.ModTime().Equal(s.stamps[f]) {
			return true
		}
	}
	return false
}

// Reload rereads the certificate, anchors and CRLs. If a file is bad the
// old material stays in use and the error says why.
func (s *Server) Reload(ctx context.Context) error {
	fileErr := s.loadFiles()
	crlErr := s.checker.Reload(ctx)
	s.recordStamps()
	return errors.Join(fileErr, crlErr)
}

// Watch reloads when a watched file changes (checked every interval) and
// refreshes CRLs past their next update, until ctx ends.
func (s *Server) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.changed() {
			if err := s.Reload(ctx); err != nil {
				s.cfg.Log.Error("reloading certificates or CRLs failed; keeping the previous ones", "err", err)
			} else {
				s.cfg.Log.Info("reloaded certificates, trust anchors and CRLs")
			}
		} else if err := s.checker.RefreshDue(ctx); err != nil {
			s.cfg.Log.Warn("refreshing CRLs failed", "err", err)
		}
	}
}

// trustStore returns the trust store for the current registry and anchors.
func (s *Server) trustStore(ctx context.Context) (*TrustStore, error) {
	reg, err := s.cfg.Parties(ctx)
	global := s.global.Load()
	s.trustMu.Lock()
	defer s.trustMu.Unlock()
	if err != nil {
		// The registry cannot be read (the database is down). Handshakes
		// go on against the parties as last read, for a while: the
		// requests on them then fail closed with 503, which says more to a
		// partner than a failed handshake would.
		if s.trust != nil && s.trustGen == global && time.Since(s.trustAt) < staleTrust {
			return s.trust, nil
		}
		return nil, err
	}
	if s.trust != nil && s.trustFor == reg && s.trustGen == global {
		s.trustAt = time.Now()
		return s.trust, nil
	}
	ts, err := NewTrustStore(s.cfg.TrustDomain, *global, s.cfg.RevocationHosts, reg.Parties())
	if err != nil {
		return nil, err
	}
	s.trust, s.trustFor, s.trustGen, s.trustAt = ts, reg, global, time.Now()
	return ts, nil
}

// ErrRegistryUnavailable is returned by Identify when the parties cannot be
// read: the request should fail closed as unavailable, not as unidentified.
var ErrRegistryUnavailable = errors.New("the party registry cannot be read")

// staleTrust is how long handshakes may use the parties as last read while
// the registry cannot be read.
const staleTrust = 15 * time.Minute

// ErrCertificateExpired is returned by Identify for a connection whose
// client certificate has expired since its handshake.
var ErrCertificateExpired = errors.New("the client certificate has expired")

// Identify names the party of a verified connection (see TrustStore.Bind),
// for each request on it. The handshake checked revocation; a keep-alive
// connection can outlast that answer, so revocation is checked again here
// from what the checker holds (CRLs in memory, OCSP answers until their next
// update), and a certificate that has expired since is refused too.
func (s *Server) Identify(ctx context.Context, cs *tls.ConnectionState) (string, error) {
	ts, err := s.trustStore(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrRegistryUnavailable, err)
	}
	id, chain, err := ts.Bind(cs)
	if err != nil {
		return "", err
	}
	if now := s.checker.now(); now.After(chain[0].NotAfter) {
		return "", ErrCertificateExpired
	}
	if err := s.checker.CheckChain(ctx, chain, ts.RevocationHosts(id, chain)); err != nil {
		return "", err
	}
	return id, nil
}

// verify is the listener's VerifyConnection: chain length, key policy,
// binding to exactly one party, and revocation of the binding chain. It
// runs on every handshake, resumed ones included.
func (s *Server) verify(cs tls.ConnectionState) error {
	err := s.verifyState(context.Background(), &cs)
	if err != nil {
		attrs := []any{"reason", err.Error()}
		if len(cs.PeerCertificates) > 0 {
			leaf := cs.PeerCertificates[0]
			attrs = append(attrs, "subject", leaf.Subject.String(), "serial", fmt.Sprintf("%x", leaf.SerialNumber))
		}
		s.cfg.Log.Warn("client certificate refused", attrs...)
		if s.cfg.Refused != nil {
			s.cfg.Refused(refusalReason(err))
		}
	}
	return err
}

func (s *Server) verifyState(ctx context.Context, cs *tls.ConnectionState) error {
	if len(cs.PeerCertificates) > s.cfg.MaxChain {
		return fmt.Errorf("%w: %d certificates (at most %d)", ErrChainTooLong, len(cs.PeerCertificates), s.cfg.MaxChain)
	}
	if len(cs.PeerCertificates) == 0 {
		return ErrNoCertificatePresented
	}
	if err := CheckKey(cs.PeerCertificates[0], s.cfg.MinRSABits); err != nil {
		return err
	}
	ts, err := s.trustStore(ctx)
	if err != nil {
		return err
	}
	party, chain, err := ts.Bind(cs)
	if err != nil {
		return err
	}
	for _, c := range chain[1:] {
		if err := CheckKey(c, s.cfg.MinRSABits); err != nil {
			return fmt.Errorf("issuer %s: %w", c.Subject, err)
		}
	}
	return s.checker.CheckChain(ctx, chain, ts.RevocationHosts(party, chain))
}

// refusalReason is a short, stable label for metrics.
func refusalReason(err error) string {
	switch {
	case errors.Is(err, ErrRevoked):
		return "revoked"
	case errors.Is(err, ErrRevocationUnknown):
		return "revocation-unknown"
	case errors.Is(err, ErrWrongAnchor):
		return "wrong-anchor"
	case errors.Is(err, ErrNoBinding), errors.Is(err, ErrNoURISAN), errors.Is(err, ErrManyURISANs),
		errors.Is(err, ErrWrongTrustDomain), errors.Is(err, ErrNotSPIFFE), errors.Is(err, ErrNotPartyPath), errors.Is(err, ErrBadPartyID):
		return "no-binding"
	case errors.Is(err, ErrAmbiguousBinding):
		return "ambiguous"
	case errors.Is(err, ErrKeyPolicy):
		return "key-policy"
	case errors.Is(err, ErrChainTooLong):
		return "chain-too-long"
	}
	return "other"
}

// TLSConfig is the partner listener's TLS policy (see ServerPolicy) with
// this server's reloadable certificate, anchors and checks.
func (s *Server) TLSConfig() *tls.Config {
	return ServerPolicy{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cert.Load(), nil },
		ClientCAs: func() *x509.CertPool {
			ts, err := s.trustStore(context.Background())
			if err != nil {
				s.cfg.Log.Error("trust anchors unavailable; refusing handshakes", "err", err)
				return x509.NewCertPool() // fail closed: nothing verifies
			}
			return ts.Pool()
		},
		VerifyConnection: s.verify,
	}.Config()
}

// Certificate returns the current server certificate, for other listeners.
func (s *Server) Certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cert.Load(), nil
}
