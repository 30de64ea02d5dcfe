package gateway

import (
	"encoding/pem"
	"errors"
	"net/http"
	"os"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/certs"
	"github.com/gatehouse-gw/gatehouse/internal/metrics"
)

// GET /pki/crl: the CRL of the CA that issues party certificates, in DER,
// for partners and for certificates that name it as their distribution point.
func (s *Server) crl(c *fiber.Ctx) error {
	if s.opts.PublishCRL == "" {
		return problem(http.StatusNotFound, CodeNotFound, "This gateway publishes no CRL.")
	}
	b, err := os.ReadFile(s.opts.PublishCRL)
	if err != nil {
		return unavailable(err)
	}
	if block, _ := pem.Decode(b); block != nil {
		b = block.Bytes
	}
	c.Set(fiber.HeaderContentType, "application/pkix-crl")
	c.Set(fiber.HeaderCacheControl, "max-age=300")
	return c.Send(b)
}

// GET /admin/v1/certificates: the party certificates seen, soonest to expire first.
func (s *Server) listCertificates(c *fiber.Ctx) error {
	if _, err := s.admin.Agreements.Parties(c.UserContext(), actorOf(c)); err != nil {
		return err // any gatehouse role may read
	}
	list, err := s.admin.Certificates.List(c.UserContext(), s.now())
	if err != nil {
		return unavailable(err)
	}
	out := api.CertificateList{Certificates: make([]api.SeenCertificate, len(list))}
	for i := range list {
		out.Certificates[i] = seenCertificateView(&list[i])
	}
	return c.JSON(out)
}

// POST /admin/v1/certificates/inspect: what the gateway would make of a PEM
// certificate chain (leaf first): the party, the chain, expiry and
// revocation, and why it would be refused.
func (s *Server) inspectCertificate(c *fiber.Ctx) error {
	if _, err := s.admin.Agreements.Parties(c.UserContext(), actorOf(c)); err != nil {
		return err
	}
	body, _, err := s.readBody(c, "application/x-pem-file", "text/plain", "application/pem-certificate-chain")
	if err != nil {
		return err
	}
	out, err := s.admin.Inspect(c.UserContext(), body, s.now())
	if errors.Is(err, certs.ErrRegistryUnavailable) {
		return unavailable(err)
	}
	if err != nil {
		return fieldProblem("(body)", "pem", err.Error())
	}
	return c.JSON(inspectionView(out))
}

// GET /metrics: Prometheus metrics (admin listener only).
var metricsHandler = adaptor.HTTPHandler(promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
