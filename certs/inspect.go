package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// Inspection is what the gateway would make of a certificate chain.
type Inspection struct {
	// Accepted says whether the gateway would serve requests made with this
	// chain: the handshake succeeds and it identifies a registered, active
	// party (a handshake alone is not enough: the partner listener then
	// refuses an unregistered or suspended party).
	Accepted bool `json:"accepted"`
	// Party is the party it would identify, if any.
	Party string `json:"party,omitempty"`
	// Registered says whether Party is registered with the gateway, and
	// PartyStatus its status there (active, suspended).
	Registered  bool   `json:"registered"`
	PartyStatus string `json:"party_status,omitempty"`
	// Problem says why it would be refused.
	Problem string           `json:"problem,omitempty"`
	Chain   []InspectedCert  `json:"chain"`
	Leaf    *InspectedExpiry `json:"leaf,omitempty"`
}

// InspectedCert is one certificate of the presented (or verified) chain.
type InspectedCert struct {
	Subject      string    `json:"subject"`
	Issuer       string    `json:"issuer"`
	Serial       string    `json:"serial"`
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
	Fingerprint  string    `json:"sha256"`
	URIs         []string  `json:"uris,omitempty"`
	Revocation   Status    `json:"revocation,omitempty"`
	RevocationBy string    `json:"revocation_source,omitempty"`
}

// InspectedExpiry says how long the leaf has left.
type InspectedExpiry struct {
	NotAfter time.Time `json:"not_after"`
	DaysLeft int       `json:"days_left"`
}

// Inspect runs the handshake's checks on a PEM chain (leaf first) without a
// handshake, and then the partner listener's: that the party is registered
// and active. An error is a chain that does not parse, or
// ErrRegistryUnavailable.
func (s *Server) Inspect(ctx context.Context, chainPEM []byte, now time.Time) (*Inspection, error) {
	certs, err := ParseCertificates(chainPEM)
	if err != nil {
		return nil, err
	}
	out := &Inspection{}
	describe := func(c *x509.Certificate) InspectedCert {
		ic := InspectedCert{
			Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: fmt.Sprintf("%x", c.SerialNumber),
			NotBefore: c.NotBefore, NotAfter: c.NotAfter, Fingerprint: fingerprint(c),
		}
		for _, u := range c.URIs {
			ic.URIs = append(ic.URIs, u.String())
		}
		return ic
	}
	leaf := certs[0]
	out.Leaf = &InspectedExpiry{NotAfter: leaf.NotAfter, DaysLeft: int(leaf.NotAfter.Sub(now).Hours() / 24)}
	ts, err := s.trustStore(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRegistryUnavailable, err)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, verr := leaf.Verify(x509.VerifyOptions{
		Roots: ts.Pool(), Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if verr != nil {
		for _, c := range certs {
			out.Chain = append(out.Chain, describe(c))
		}
		out.Problem = "chain does not verify: " + verr.Error()
		return out, nil
	}
	cs := &tls.ConnectionState{PeerCertificates: certs, VerifiedChains: chains}
	party, chain, berr := ts.Bind(cs)
	if berr != nil {
		chain = chains[0]
	}
	hosts := ts.RevocationHosts(party, chain)
	if berr != nil {
		hosts = nil // no party: nothing a certificate names is fetched
	}
	for i, c := range chain {
		ic := describe(c)
		if i+1 < len(chain) {
			ic.Revocation, ic.RevocationBy = s.checker.Status(ctx, c, chain[i+1], hosts)
		}
		out.Chain = append(out.Chain, ic)
	}
	switch {
	case berr != nil:
		out.Problem = berr.Error()
	case len(certs) > s.cfg.MaxChain:
		out.Problem = fmt.Sprintf("%v: %d certificates", ErrChainTooLong, len(certs))
	default:
		if err := CheckKey(leaf, s.cfg.MinRSABits); err != nil {
			out.Problem = err.Error()
		} else if err := s.checker.CheckChain(ctx, chain, hosts); err != nil {
			out.Problem = err.Error()
		}
	}
	out.Party = party
	if party != "" {
		// What the partner listener does after the handshake (identify):
		// the party must be registered and active.
		reg, err := s.cfg.Parties(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrRegistryUnavailable, err)
		}
		p := reg.Party(party)
		out.Registered = p != nil
		switch {
		case p == nil:
			if out.Problem == "" {
				out.Problem = "party " + party + " is not registered with this gateway: the handshake succeeds, but every request is refused (party-unknown)"
			}
		case !p.Active():
			out.PartyStatus = string(p.Status)
			if out.Problem == "" {
				code := "party-suspended"
				if p.Status == agreements.PartyPending || p.Status == agreements.PartyRejected {
					code = "party-pending"
				}
				out.Problem = "party " + party + " is " + string(p.Status) + ": every request is refused (" + code + ")"
			}
		default:
			out.PartyStatus = string(p.Status)
		}
	}
	out.Accepted = out.Problem == ""
	return out, nil
}
