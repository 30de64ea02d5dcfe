package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// ErrWrongAnchor is returned when a certificate names a party but does not
// chain to one of that party's trust anchors.
var ErrWrongAnchor = errors.New("certificate does not chain to a trust anchor of the party it names")

// TrustStore holds the trust anchors of every party, and the anchors
// trusted for all parties (the deployment's own CA, if any).
type TrustStore struct {
	pool    *x509.CertPool
	global  []*x509.Certificate
	parties map[string][]*x509.Certificate
}

// NewTrustStore builds the trust store. A party whose anchors do not parse is
// an error: it must not silently lose (or gain) the ability to connect.
func NewTrustStore(global []*x509.Certificate, parties []*agreements.Party) (*TrustStore, error) {
	ts := &TrustStore{pool: x509.NewCertPool(), global: global, parties: map[string][]*x509.Certificate{}}
	for _, c := range global {
		ts.pool.AddCert(c)
	}
	for _, p := range parties {
		if p.TrustAnchors == "" {
			continue
		}
		anchors, err := ParseCertificates([]byte(p.TrustAnchors))
		if err != nil {
			return nil, fmt.Errorf("party %s trust anchors: %w", p.ID, err)
		}
		for _, a := range anchors {
			ts.pool.AddCert(a)
		}
		ts.parties[p.ID] = anchors
	}
	return ts, nil
}

// Pool is every anchor, for tls.Config.ClientCAs.
func (ts *TrustStore) Pool() *x509.CertPool { return ts.pool }

// Bind returns the party a verified connection identifies: the party named
// by the leaf's URI SAN, provided one of the verified chains ends at that
// party's own anchor or at a global anchor. A party that is not registered
// gets no anchors of its own; the request layer refuses it.
func (ts *TrustStore) Bind(cs *tls.ConnectionState, trustDomain string) (string, error) {
	id, err := PartyFromConnection(cs, trustDomain)
	if err != nil {
		return "", err
	}
	allowed := append(ts.parties[id][:len(ts.parties[id]):len(ts.parties[id])], ts.global...)
	for _, chain := range cs.VerifiedChains {
		root := chain[len(chain)-1]
		for _, a := range allowed {
			if root.Equal(a) {
				return id, nil
			}
		}
	}
	return "", fmt.Errorf("%w: %s", ErrWrongAnchor, id)
}
