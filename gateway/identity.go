package gateway

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/certs"
)

// callerKey holds the identified caller (*agreements.Party) in the fiber
// locals of a request. It is put there by identify on the partner listener
// (and, for log lines only, by authenticate on the admin listener) and read
// through caller and callerParty.
type callerKey struct{}

// callerParty returns the id of the identified caller, or "".
func callerParty(c *fiber.Ctx) string {
	if p, ok := c.Locals(callerKey{}).(*agreements.Party); ok {
		return p.ID
	}
	return ""
}

// caller returns the identified caller; identify guarantees it is set on
// every partner route after it.
func caller(c *fiber.Ctx) *agreements.Party {
	p, _ := c.Locals(callerKey{}).(*agreements.Party)
	return p
}

// identify names the caller from the verified client certificate and
// refuses anyone who is not a registered, active party of the request's
// registry snapshot (put in the context by snapshot, which runs first).
// Nothing in the request itself can name the caller.
func (s *Server) identify(c *fiber.Ctx) error {
	p, err := s.party(c)
	if err != nil {
		return err
	}
	c.Locals(callerKey{}, p)
	if s.partner.Certificates != nil {
		s.partner.Certificates.Seen(p.ID, tlsState(c).PeerCertificates[0], s.now())
	}
	return c.Next()
}

// party returns the registered, active party the connection's verified
// certificate names, in the request's registry snapshot.
func (s *Server) party(c *fiber.Ctx) (*agreements.Party, error) {
	cs := tlsState(c)
	id, err := s.partner.Identify(c.UserContext(), cs)
	switch {
	case errors.Is(err, certs.ErrRegistryUnavailable):
		return nil, unavailable(err)
	case errors.Is(err, certs.ErrRevoked), errors.Is(err, certs.ErrRevocationUnknown), errors.Is(err, certs.ErrCertificateExpired):
		// Checked again on every request: this keep-alive connection
		// outlasted its certificate. It is closed after the answer.
		c.Context().SetConnectionClose()
		detail := "the client certificate has been revoked since this connection opened"
		switch {
		case errors.Is(err, certs.ErrRevocationUnknown):
			detail = "the client certificate's revocation status can no longer be established"
		case errors.Is(err, certs.ErrCertificateExpired):
			detail = "the client certificate has expired since this connection opened"
		}
		return nil, problem(http.StatusUnauthorized, CodeRevoked, "The client certificate is no longer accepted.").withDetail(detail).withCause(err)
	}
	if err != nil {
		// The handshake already bound the certificate to a party; if that
		// no longer holds (anchors changed since), refuse.
		return nil, problem(http.StatusUnauthorized, CodeNoIdentity, "The client certificate identifies no party.").withDetail(err.Error()).withCause(err)
	}
	p := agreements.RegistryFromContext(c.UserContext()).Party(id)
	switch {
	case p == nil:
		return nil, problem(http.StatusForbidden, CodeUnknownParty, "The certificate names a party that is not registered.").
			withDetail("party " + id + " is not registered with this gateway")
	case p.Status == agreements.PartyPending || p.Status == agreements.PartyRejected:
		return nil, problem(http.StatusForbidden, CodePendingParty, "The party's registration is not approved.").
			withDetail("party " + id + " is " + string(p.Status) + ": a second person must approve its registration before it may exchange data")
	case !p.Active():
		return nil, problem(http.StatusForbidden, CodeSuspendedParty, "The party is suspended.").
			withDetail("party " + id + " is " + string(p.Status))
	}
	return p, nil
}
