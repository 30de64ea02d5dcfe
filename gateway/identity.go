package gateway

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/certs"
)

type callerKey struct{}

// callerParty returns the id of the identified caller, or "".
func callerParty(c *fiber.Ctx) string {
	if p, ok := c.Locals(callerKey{}).(*agreements.Party); ok {
		return p.ID
	}
	return ""
}

// caller returns the identified caller; identify guarantees it is set.
func caller(c *fiber.Ctx) *agreements.Party {
	p, _ := c.Locals(callerKey{}).(*agreements.Party)
	return p
}

// identify names the caller from the verified client certificate and the
// registry, and refuses anyone who is not a registered, active party.
func (s *Server) identify(c *fiber.Ctx) error {
	cs := tlsState(c)
	id, err := s.opts.Identify(c.UserContext(), cs)
	if errors.Is(err, certs.ErrRegistryUnavailable) {
		return unavailable(err)
	}
	if err != nil {
		// The handshake already bound the certificate to a party; if that
		// no longer holds (anchors changed since), refuse.
		return problem(http.StatusUnauthorized, CodeNoIdentity, "The client certificate identifies no party.").withDetail(err.Error()).withCause(err)
	}
	reg, err := s.opts.Registry.Snapshot(c.UserContext())
	if err != nil {
		return unavailable(err)
	}
	p := reg.Party(id)
	switch {
	case p == nil:
		return problem(http.StatusForbidden, CodeUnknownParty, "The certificate names a party that is not registered.").
			withDetail("party " + id + " is not registered with this gateway")
	case !p.Active():
		return problem(http.StatusForbidden, CodeSuspendedParty, "The party is suspended.").
			withDetail("party " + id + " is " + string(p.Status))
	}
	c.Locals(callerKey{}, p)
	if s.opts.Certificates != nil {
		s.opts.Certificates.Seen(p.ID, cs.PeerCertificates[0], s.now())
	}
	if wait, ok := s.limits.allow(p.ID, ""); !ok {
		return rateLimited(p.ID, "party", wait)
	}
	// The rest of the request decides against this same snapshot.
	c.SetUserContext(agreements.ContextWithRegistry(c.UserContext(), reg))
	return c.Next()
}
