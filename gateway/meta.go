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

// GET /.well-known/gatehouse-checkpoint-key: the verifier key of the audit
// log's checkpoint notes.
func (s *Server) checkpointKey(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "max-age=300")
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.SendString(s.opts.CheckpointKey + "\n")
}

// GET /openapi.json: api/openapi.yaml, as JSON.
func (s *Server) openapi(c *fiber.Ctx) error {
	b, err := openAPI()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, api.MediaJSON)
	c.Set(fiber.HeaderCacheControl, "max-age=300")
	return c.Send(b)
}

var openAPI = sync.OnceValues(api.OpenAPIJSON)

// GET /healthz: the process is up.
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(api.Health{Status: "ok"})
}

// GET /readyz: every dependency answers. The checks run together, each
// with a short timeout, and their result is kept for ReadyCache so that
// frequent probes (a load balancer, several of them) do not become load —
// but no longer than until a store's writes change between working and
// failing (Common.ReadyGeneration): a failed commit or upload turns the
// answer not-ready at once, and the next write that succeeds turns it back.
func (s *Server) readyz(c *fiber.Ctx) error {
	out := s.readiness(c.UserContext())
	if out.Status != "ok" {
		c.Status(http.StatusServiceUnavailable)
	}
	return c.JSON(out)
}

// ReadyCache is how long a readiness result is reused, and how old the
// outcome of a store's last write may be before readiness writes to it
// itself.
const ReadyCache = 2 * time.Second

type readyState struct {
	mu   sync.Mutex
	at   time.Time
	gen  uint64
	last api.Health
}

func (s *Server) readiness(ctx context.Context) api.Health {
	s.ready.mu.Lock()
	defer s.ready.mu.Unlock()
	var gen uint64
	if s.opts.ReadyGeneration != nil {
		gen = s.opts.ReadyGeneration()
	}
	if time.Since(s.ready.at) < ReadyCache && gen == s.ready.gen {
		return s.ready.last
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
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
				if rc.Warn {
					result = "warning"
				}
				s.log.Warn("readiness check "+result, logkey.Component, rc.Name, logkey.Error, err)
			}
			mu.Lock()
			out.Checks[rc.Name] = result
			if result == "failing" {
				out.Status = "unavailable"
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	// The generation read before the checks: a change during them shows
	// at the next request.
	s.ready.at, s.ready.gen, s.ready.last = time.Now(), gen, out
	return out
}
