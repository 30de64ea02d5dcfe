package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// Identity errors. Each names the rule a certificate broke.
var (
	ErrNoCertificatePresented = errors.New("no client certificate was presented")
	ErrNoURISAN               = errors.New("certificate has no URI SAN")
	ErrManyURISANs            = errors.New("certificate has more than one URI SAN")
	ErrNotSPIFFE              = errors.New("URI SAN is not a spiffe:// identity")
	ErrWrongTrustDomain       = errors.New("URI SAN is in another trust domain")
	ErrNotPartyPath           = errors.New("URI SAN path is not /party/<party-id>")
	ErrBadPartyID             = errors.New("party id is not a valid slug")
)

// ValidPartyID reports whether id is a party slug: lower-case letters and
// digits in words joined by '.' or '-', at most 64 characters.
func ValidPartyID(id string) bool { return agreements.ValidPartyID(id) }

// PartyURI returns spiffe://<trustDomain>/party/<partyID>.
func PartyURI(trustDomain, partyID string) (*url.URL, error) {
	if !ValidPartyID(partyID) {
		return nil, fmt.Errorf("%w: %q", ErrBadPartyID, partyID)
	}
	if trustDomain == "" || strings.ContainsAny(trustDomain, "/:@") {
		return nil, fmt.Errorf("invalid trust domain %q", trustDomain)
	}
	return &url.URL{Scheme: "spiffe", Host: trustDomain, Path: "/party/" + partyID}, nil
}

// PartyFromCertificate returns the party id named by cert's single URI SAN
// spiffe://<trustDomain>/party/<id>. Anything else is refused: no URI SAN,
// several, another scheme, another trust domain, another path.
func PartyFromCertificate(cert *x509.Certificate, trustDomain string) (string, error) {
	switch len(cert.URIs) {
	case 0:
		return "", ErrNoURISAN
	case 1:
	default:
		return "", ErrManyURISANs
	}
	u := cert.URIs[0]
	if u.Scheme != "spiffe" || u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Port() != "" {
		return "", fmt.Errorf("%w: %s", ErrNotSPIFFE, u)
	}
	if !strings.EqualFold(u.Host, trustDomain) {
		return "", fmt.Errorf("%w: %q, want %q", ErrWrongTrustDomain, u.Host, trustDomain)
	}
	id, ok := strings.CutPrefix(u.Path, "/party/")
	if !ok || u.RawPath != "" {
		return "", fmt.Errorf("%w: %q", ErrNotPartyPath, u.Path)
	}
	if !ValidPartyID(id) {
		return "", fmt.Errorf("%w: %q", ErrBadPartyID, id)
	}
	return id, nil
}

// PartyFromConnection returns the party named by the verified leaf
// certificate of a TLS connection. It is a pure function of the state.
func PartyFromConnection(cs *tls.ConnectionState, trustDomain string) (string, error) {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return "", ErrNoCertificatePresented
	}
	if len(cs.VerifiedChains) == 0 {
		return "", errors.New("client certificate was not verified")
	}
	return PartyFromCertificate(cs.PeerCertificates[0], trustDomain)
}
