package gateway

import (
	"context"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/internal/logkey"
)

// GET /v1/whoami: who the gateway takes the caller to be.
func (s *Server) whoami(c *fiber.Ctx) error {
	p := caller(c)
	leaf := tlsState(c).PeerCertificates[0]
	return c.JSON(api.WhoAmI{
		Party:             p.ID,
		Kind:              string(p.Kind),
		Name:              p.Name,
		CertificateSerial: hex.EncodeToString(leaf.SerialNumber.Bytes()),
		CertificateExpiry: leaf.NotAfter.UTC(),
	})
}

// GET /.well-known/jwks.json: the keys that verify the gateway's signatures.
func (s *Server) jwks(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "max-age=300")
	return c.JSON(s.opts.JWKS)
}

// GET /healthz: the process is up.
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(api.Health{Status: "ok"})
}

// GET /readyz: every dependency answers. Each check has a short timeout and
// they run together.
func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
	defer cancel()
	out := api.Health{Status: "ok", Checks: map[string]string{}}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, rc := range s.opts.Ready {
		wg.Go(func() {
			result := "ok"
			if err := rc.Check(ctx); err != nil {
				result = "failing"
				s.log.Warn("readiness check failing", logkey.Component, rc.Name, logkey.Error, err)
			}
			mu.Lock()
			out.Checks[rc.Name] = result
			if result != "ok" {
				out.Status = "unavailable"
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if out.Status != "ok" {
		c.Status(http.StatusServiceUnavailable)
	}
	return c.JSON(out)
}
