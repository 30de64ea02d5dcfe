package certs

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// Binding errors.
var (
	// ErrWrongAnchor: the certificate names a party but does not chain to
	// one of that party's trust anchors.
	ErrWrongAnchor = errors.New("certificate does not chain to a trust anchor of the party it names")
	// ErrNoBinding: no party's identity rule matches the certificate.
	ErrNoBinding = errors.New("no party's identity rule matches the certificate")
	// ErrAmbiguousBinding: more than one party's rule matches.
	ErrAmbiguousBinding = errors.New("more than one party's identity rule matches the certificate")
	// ErrKeyPolicy: the certificate's key is too weak or of a refused kind.
	ErrKeyPolicy = errors.New("certificate key does not meet the gateway's policy")
	// ErrChainTooLong: the client sent too many certificates.
	ErrChainTooLong = errors.New("certificate chain is too long")
)

// dnRule is a party bound by subject DN and issuing-CA fingerprint.
type dnRule struct {
	party     string
	subjectDN string
	issuerFP  string
}

// TrustStore holds the trust anchors of every party, the anchors trusted
// for all parties (the deployment's own CA, if any), and the identity rules
// that bind certificates to parties.
type TrustStore struct {
	trustDomain string
	pool        *x509.CertPool
	global      []*x509.Certificate
	parties     map[string][]*x509.Certificate
	uriBound    map[string]bool
	dnRules     []dnRule
	// hosts are each party's revocation hosts; globalHosts those of the
	// anchors trusted for every party (the deployment's own CA).
	hosts       map[string]Hosts
	globalHosts Hosts
}

// NewTrustStore builds the trust store. A party whose anchors do not parse is
// an error: it must not silently lose (or gain) the ability to connect.
// globalHosts are the revocation hosts of the global anchors.
func NewTrustStore(trustDomain string, global []*x509.Certificate, globalHosts Hosts, parties []*agreements.Party) (*TrustStore, error) {
	ts := &TrustStore{
		trustDomain: trustDomain, pool: x509.NewCertPool(), global: global,
		parties: map[string][]*x509.Certificate{}, uriBound: map[string]bool{},
		hosts: map[string]Hosts{}, globalHosts: globalHosts,
	}
	for _, c := range global {
		ts.pool.AddCert(c)
	}
	for _, p := range parties {
		if p.TrustAnchors != "" {
			anchors, err := ParseCertificates([]byte(p.TrustAnchors))
			if err != nil {
				return nil, fmt.Errorf("party %s trust anchors: %w", p.ID, err)
			}
			for _, a := range anchors {
				ts.pool.AddCert(a)
			}
			ts.parties[p.ID] = anchors
		}
		ts.hosts[p.ID] = Hosts(p.RevocationHosts)
		if p.Identity.SubjectDN != "" {
			ts.dnRules = append(ts.dnRules, dnRule{party: p.ID, subjectDN: p.Identity.SubjectDN, issuerFP: p.Identity.IssuerFingerprint})
		} else {
			ts.uriBound[p.ID] = true
		}
	}
	return ts, nil
}

// Pool is every anchor, for tls.Config.ClientCAs.
func (ts *TrustStore) Pool() *x509.CertPool { return ts.pool }

// anchoredTo returns the first verified chain that ends at one of the
// party's anchors or a global anchor.
func (ts *TrustStore) anchoredTo(party string, chains [][]*x509.Certificate) []*x509.Certificate {
	allowed := append(ts.parties[party][:len(ts.parties[party]):len(ts.parties[party])], ts.global...)
	for _, chain := range chains {
		root := chain[len(chain)-1]
		for _, a := range allowed {
			if root.Equal(a) {
				return chain
			}
		}
	}
	return nil
}

// Bind returns the party a verified connection identifies and the chain
// that binds it. Exactly one rule must match: the leaf's single URI SAN
// spiffe://<trust-domain>/party/<id> (for parties bound by URI SAN, or not
// registered, which the request layer then refuses), or a party's subject DN
// with the SHA-256 of the CA that issued the leaf. The chain must end at an
// anchor of that party (or a global anchor): a certificate from party A's
// CA can never identify party B.
func (ts *TrustStore) Bind(cs *tls.ConnectionState) (string, []*x509.Certificate, error) {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return "", nil, ErrNoCertificatePresented
	}
	if len(cs.VerifiedChains) == 0 {
		return "", nil, errors.New("client certificate was not verified")
	}
	leaf := cs.PeerCertificates[0]
	type match struct {
		party string
		chain []*x509.Certificate
	}
	var matches []match
	var uriErr error
	if len(leaf.URIs) > 0 {
		id, err := PartyFromCertificate(leaf, ts.trustDomain)
		switch {
		case err != nil:
			uriErr = err
		case ts.uriBound[id] || !ts.registered(id):
			chain := ts.anchoredTo(id, cs.VerifiedChains)
			if chain == nil {
				return "", nil, fmt.Errorf("%w: %s", ErrWrongAnchor, id)
			}
			matches = append(matches, match{id, chain})
		}
	}
	dn := leaf.Subject.String()
	for _, r := range ts.dnRules {
		if r.subjectDN != dn {
			continue
		}
		for _, chain := range cs.VerifiedChains {
			if len(chain) < 2 || fingerprint(chain[1]) != r.issuerFP {
				continue
			}
			if ts.anchoredTo(r.party, [][]*x509.Certificate{chain}) != nil {
				matches = append(matches, match{r.party, chain})
				break
			}
		}
	}
	switch len(matches) {
	case 1:
		return matches[0].party, matches[0].chain, nil
	case 0:
		if uriErr != nil {
			return "", nil, uriErr
		}
		if len(leaf.URIs) == 0 {
			return "", nil, fmt.Errorf("%w: %w (subject %q)", ErrNoBinding, ErrNoURISAN, dn)
		}
		return "", nil, fmt.Errorf("%w (subject %q)", ErrNoBinding, dn)
	}
	return "", nil, fmt.Errorf("%w: %s and %s", ErrAmbiguousBinding, matches[0].party, matches[1].party)
}

// RevocationHosts are the hosts that the CRL and OCSP addresses in a
// chain that binds party may be fetched from: the deployment's own list
// for a chain that ends at a global anchor, else the party's own list.
func (ts *TrustStore) RevocationHosts(party string, chain []*x509.Certificate) Hosts {
	if len(chain) == 0 {
		return nil
	}
	root := chain[len(chain)-1]
	for _, a := range ts.global {
		if root.Equal(a) {
			return ts.globalHosts
		}
	}
	return ts.hosts[party]
}

func (ts *TrustStore) registered(id string) bool {
	if ts.uriBound[id] {
		return true
	}
	for _, r := range ts.dnRules {
		if r.party == id {
			return true
		}
	}
	return false
}

// CheckKey applies the key policy to a certificate: ECDSA on P-256 or
// P-384, Ed25519, or RSA of at least minRSABits.
func CheckKey(c *x509.Certificate, minRSABits int) error {
	switch k := c.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("%w: ECDSA curve %s", ErrKeyPolicy, k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("%w: RSA key of %d bits (at least %d)", ErrKeyPolicy, k.N.BitLen(), minRSABits)
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("%w: %T key", ErrKeyPolicy, k)
	}
	return nil
}
