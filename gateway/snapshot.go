package gateway

import (
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// snapshot takes the registry snapshot this request is decided against and
// puts it in the request's context (agreements.ContextWithRegistry), so that
// identification, the decision and the records all see the same parties and
// agreements even if an administrator changes them meanwhile. It is read
// back by identify (below) and by the registry cache's Snapshot
// (store.RegistryCache), which returns the request's snapshot when there is
// one. An unreadable registry fails closed with 503.
func (s *Server) snapshot(c *fiber.Ctx) error {
	reg, err := s.partner.Registry.Snapshot(c.UserContext())
	if err != nil {
		return unavailable(err)
	}
	c.SetUserContext(agreements.ContextWithRegistry(c.UserContext(), reg))
	return c.Next()
}
