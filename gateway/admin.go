package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/internal/idem"
	"github.com/gatehouse-gw/gatehouse/internal/logkey"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// AgreementAdmin is what the admin API needs of the registry service.
type AgreementAdmin interface {
	RegisterParty(ctx context.Context, actor agreements.Actor, p *agreements.Party, idempotencyKey string) (*agreements.Party, error)
	UpdateParty(ctx context.Context, actor agreements.Actor, p *agreements.Party) (*agreements.Party, error)
	SetPartyStatus(ctx context.Context, actor agreements.Actor, id string, status agreements.PartyStatus, reason string) (*agreements.Party, error)
	ApproveParty(ctx context.Context, actor agreements.Actor, id, sha256 string) (*agreements.Party, error)
	RejectParty(ctx context.Context, actor agreements.Actor, id, reason string) (*agreements.Party, error)
	ProposePartyChange(ctx context.Context, actor agreements.Actor, id string, edit agreements.TrustEdit, reason, idempotencyKey string) (*agreements.PartyChange, error)
	ApprovePartyChange(ctx context.Context, actor agreements.Actor, changeID, digest string) (*agreements.PartyChange, *agreements.Party, error)
	RejectPartyChange(ctx context.Context, actor agreements.Actor, changeID, reason string) (*agreements.PartyChange, error)
	PartyChanges(ctx context.Context, actor agreements.Actor, party string) ([]*agreements.PartyChange, error)
	PartyChange(ctx context.Context, actor agreements.Actor, id string) (*agreements.PartyChange, error)
	Parties(ctx context.Context, actor agreements.Actor) ([]*agreements.Party, error)
	Party(ctx context.Context, actor agreements.Actor, id string) (*agreements.Party, error)
	Register(ctx context.Context, actor agreements.Actor, doc *agreements.Agreement, idempotencyKey string) (*agreements.Agreement, error)
	Approve(ctx context.Context, actor agreements.Actor, id string, version int, digest string) (*agreements.Agreement, error)
	Activate(ctx context.Context, actor agreements.Actor, id string, version int, digest string) (*agreements.Agreement, error)
	Suspend(ctx context.Context, actor agreements.Actor, id, reason string) (*agreements.Agreement, error)
	Resume(ctx context.Context, actor agreements.Actor, id, reason string) (*agreements.Agreement, error)
	Terminate(ctx context.Context, actor agreements.Actor, id, reason string) (*agreements.Agreement, error)
	Versions(ctx context.Context, actor agreements.Actor, id string) ([]*agreements.Agreement, error)
	List(ctx context.Context, actor agreements.Actor) ([]*agreements.Agreement, error)
}

func (s *Server) adminRoutes() {
	app := s.app
	app.Use(s.requestLog)
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/pki/crl", s.crl)
	// /metrics names parties, agreements and certificate serials: an
	// auditor's or admin's token (or admin.metrics_listen, served apart).
	app.Get("/metrics", s.authenticate, needAnyRole(agreements.RoleAuditor, agreements.RoleAdmin), metricsHandler)
	app.Get("/openapi.json", s.openapi)
	// The keys that verify exports and checkpoints, for whoever holds one.
	app.Get("/.well-known/jwks.json", s.jwks)
	app.Get("/.well-known/gatehouse-checkpoint-key", s.checkpointKey)
	if s.admin.Console != nil {
		// The console signs people in itself (OpenID Connect, session cookies).
		console := adaptor.HTTPHandler(s.admin.Console)
		app.All("/console", console)
		app.All("/console/*", console)
	}
	a := app.Group("/admin/v1", s.authenticate, checkIdempotencyKey)
	a.Get("/certificates", s.listCertificates)
	a.Post("/certificates/inspect", s.inspectCertificate)
	a.Get("/whoami", s.adminWhoami)
	a.Get("/parties", s.listParties)
	a.Post("/parties", s.registerParty)
	a.Get("/parties/:id", s.showParty)
	a.Put("/parties/:id", s.updateParty)
	a.Post("/parties/:id/suspend", s.partyStatus(agreements.PartySuspended))
	a.Post("/parties/:id/resume", s.partyStatus(agreements.PartyActive))
	a.Post("/parties/:id/approve", s.approveParty)
	a.Post("/parties/:id/reject", s.rejectParty)
	a.Get("/parties/:id/changes", s.listPartyChanges)
	a.Post("/parties/:id/changes", s.proposePartyChange)
	a.Get("/party-changes", s.listPartyChanges)
	a.Get("/party-changes/:id", s.showPartyChange)
	a.Post("/party-changes/:id/approve", s.approvePartyChange)
	a.Post("/party-changes/:id/reject", s.rejectPartyChange)
	a.Get("/agreements", s.listAgreements)
	a.Post("/agreements", s.registerAgreement)
	a.Get("/agreements/:id", s.showAgreement)
	a.Get("/agreements/:id/versions", s.agreementVersions)
	a.Get("/agreements/:id/versions/:version", s.agreementVersion)
	a.Post("/agreements/:id/approve", s.agreementVersionAction(AgreementAdmin.Approve))
	a.Post("/agreements/:id/activate", s.agreementVersionAction(AgreementAdmin.Activate))
	a.Post("/agreements/:id/suspend", s.agreementReasonAction(AgreementAdmin.Suspend))
	a.Post("/agreements/:id/resume", s.agreementReasonAction(AgreementAdmin.Resume))
	a.Post("/agreements/:id/terminate", s.agreementReasonAction(AgreementAdmin.Terminate))
	a.Post("/decisions", s.adminDryRun)
	a.Post("/exports/subject-access", s.exportSubjectAccess)
	a.Get("/exports/:kind", s.export)
	a.Post("/overrides/:id/review", s.reviewOverride)
	a.Post("/exchanges/:id/release", s.releaseExchange)
	a.Post("/notifications/:id", s.recordNotification)
	a.Post("/rectifications", s.rectify)
	a.Get("/consents", s.listConsents)
	a.Post("/consents", s.recordConsent)
	a.Post("/consents/:id/withdraw", s.withdrawConsent)
	a.Get("/alerts/deliveries", s.listDeliveries)
	a.Post("/alerts/deliveries/:id/retry", s.retryDelivery)
	s.proofRoutes(a, mayAudit)
}

type actorKey struct{}

func actorOf(c *fiber.Ctx) agreements.Actor {
	a, _ := c.Locals(actorKey{}).(agreements.Actor)
	return a
}

// authenticate verifies the bearer token; without one nothing is answered.
func (s *Server) authenticate(c *fiber.Ctx) error {
	raw, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok || strings.TrimSpace(raw) == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="gatehouse-admin"`)
		return problem(http.StatusUnauthorized, CodeTokenMissing, "A bearer token is required.")
	}
	actor, err := s.admin.Tokens.Verify(c.UserContext(), strings.TrimSpace(raw))
	if err != nil {
		if !errors.Is(err, ErrToken) {
			return unavailable(err)
		}
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="gatehouse-admin", error="invalid_token"`)
		return problem(http.StatusUnauthorized, CodeTokenInvalid, "The bearer token is not valid.").withDetail(tokenDetail(err)).withCause(err)
	}
	c.Locals(actorKey{}, actor)
	c.Locals(callerKey{}, &agreements.Party{ID: "admin:" + actor.Subject}) // for log lines
	return c.Next()
}

// needAnyRole lets the request on only if the token's actor holds one of
// roles.
func needAnyRole(roles ...string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		for _, r := range actorOf(c).Roles {
			if slices.Contains(roles, r) {
				return c.Next()
			}
		}
		return problem(http.StatusForbidden, CodeRoleForbidden, "Your role does not allow this.").
			withDetail("needs one of the roles " + strings.Join(roles, ", "))
	}
}

func (s *Server) adminWhoami(c *fiber.Ctx) error {
	a := actorOf(c)
	return c.JSON(api.AdminWhoAmI{Subject: a.Subject, Roles: a.Roles})
}

func (s *Server) listParties(c *fiber.Ctx) error {
	ps, err := s.admin.Agreements.Parties(c.UserContext(), actorOf(c))
	if err != nil {
		return err
	}
	out := api.PartyList{Parties: make([]api.Party, len(ps))}
	for i, p := range ps {
		out.Parties[i] = partyView(p)
	}
	return c.JSON(out)
}

func (s *Server) showParty(c *fiber.Ctx) error {
	p, err := s.admin.Agreements.Party(c.UserContext(), actorOf(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(partyView(p))
}

func (s *Server) registerParty(c *fiber.Ctx) error {
	var d api.PartyRegistration
	if err := s.readJSON(c, &d); err != nil {
		return err
	}
	p, err := s.admin.Agreements.RegisterParty(c.UserContext(), actorOf(c), partyOf(&d), c.Get(idem.Header))
	if err != nil {
		return err
	}
	c.Location("/admin/v1/parties/" + p.ID)
	return c.Status(http.StatusCreated).JSON(partyView(p))
}

func (s *Server) updateParty(c *fiber.Ctx) error {
	var d api.PartyRegistration
	if err := s.readJSON(c, &d); err != nil {
		return err
	}
	if d.ID != "" && d.ID != c.Params("id") {
		return fieldProblem("id", "match", "must match the party in the URL")
	}
	d.ID = c.Params("id")
	p, err := s.admin.Agreements.UpdateParty(c.UserContext(), actorOf(c), partyOf(&d))
	if err != nil {
		return err
	}
	return c.JSON(partyView(p))
}

// proposePartyChange proposes a change to a party's trust; nothing changes
// until someone else approves it.
func (s *Server) proposePartyChange(c *fiber.Ctx) error {
	var d api.PartyChangeProposal
	if err := s.readJSON(c, &d); err != nil {
		return err
	}
	ch, err := s.admin.Agreements.ProposePartyChange(c.UserContext(), actorOf(c), c.Params("id"), trustEditOf(&d), d.Reason, c.Get(idem.Header))
	if err != nil {
		return err
	}
	c.Location("/admin/v1/party-changes/" + ch.ID)
	return c.Status(http.StatusCreated).JSON(partyChangeView(ch))
}

// listPartyChanges lists one party's change proposals (under
// /parties/{id}) or every party's, newest first, optionally of one status.
func (s *Server) listPartyChanges(c *fiber.Ctx) error {
	status := c.Query("status")
	switch agreements.ChangeStatus(status) {
	case "", agreements.ChangeProposed, agreements.ChangeApproved, agreements.ChangeRejected, agreements.ChangeWithdrawn:
	default:
		return fieldProblem("status", "enum", "must be one of proposed, approved, rejected, withdrawn")
	}
	all, err := s.admin.Agreements.PartyChanges(c.UserContext(), actorOf(c), c.Params("id"))
	if err != nil {
		return err
	}
	if status != "" {
		all = slices.DeleteFunc(all, func(ch *agreements.PartyChange) bool { return string(ch.Status) != status })
	}
	return c.JSON(partyChangeList(all))
}

func (s *Server) showPartyChange(c *fiber.Ctx) error {
	ch, err := s.admin.Agreements.PartyChange(c.UserContext(), actorOf(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(partyChangeView(ch))
}

// approvePartyChange approves a proposal by its digest and applies it.
func (s *Server) approvePartyChange(c *fiber.Ctx) error {
	var b api.PartyChangeApproval
	if err := s.readJSON(c, &b); err != nil {
		return err
	}
	ch, _, err := s.admin.Agreements.ApprovePartyChange(c.UserContext(), actorOf(c), c.Params("id"), b.SHA256)
	if err != nil {
		return err
	}
	s.log.Info("party change approved", logkey.Party, ch.Party, "change", ch.ID, "actor", actorOf(c).Subject)
	return c.JSON(partyChangeView(ch))
}

func (s *Server) rejectPartyChange(c *fiber.Ctx) error {
	var b api.Reason
	if err := s.readJSON(c, &b); err != nil {
		return err
	}
	ch, err := s.admin.Agreements.RejectPartyChange(c.UserContext(), actorOf(c), c.Params("id"), b.Reason)
	if err != nil {
		return err
	}
	return c.JSON(partyChangeView(ch))
}

// approveParty approves a new party's registration by its digest; the party
// becomes active.
func (s *Server) approveParty(c *fiber.Ctx) error {
	var b api.PartyApproval
	if err := s.readJSON(c, &b); err != nil {
		return err
	}
	p, err := s.admin.Agreements.ApproveParty(c.UserContext(), actorOf(c), c.Params("id"), b.SHA256)
	if err != nil {
		return err
	}
	s.log.Info("party registration approved", logkey.Party, p.ID, "actor", actorOf(c).Subject)
	return c.JSON(partyView(p))
}

func (s *Server) rejectParty(c *fiber.Ctx) error {
	var b api.Reason
	if err := s.readJSON(c, &b); err != nil {
		return err
	}
	p, err := s.admin.Agreements.RejectParty(c.UserContext(), actorOf(c), c.Params("id"), b.Reason)
	if err != nil {
		return err
	}
	return c.JSON(partyView(p))
}

func (s *Server) partyStatus(status agreements.PartyStatus) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var b api.Reason
		if err := s.readJSON(c, &b); err != nil {
			return err
		}
		p, err := s.admin.Agreements.SetPartyStatus(c.UserContext(), actorOf(c), c.Params("id"), status, b.Reason)
		if err != nil {
			return err
		}
		return c.JSON(partyView(p))
	}
}

func (s *Server) listAgreements(c *fiber.Ctx) error {
	list, err := s.admin.Agreements.List(c.UserContext(), actorOf(c))
	if err != nil {
		return err
	}
	return c.JSON(api.AgreementList{Agreements: s.agreementViews(list)})
}

// registerAgreement takes an agreement document as JSON or YAML: the
// registry's own document format (docs/agreements.md), decoded strictly into
// the domain's type, the same format `gatehouse agreements register` files
// and seeds use. The answer is the registered version as api.Agreement.
func (s *Server) registerAgreement(c *fiber.Ctx) error {
	body, mt, err := s.readBody(c, api.MediaJSON, "application/yaml", "application/x-yaml", "text/yaml")
	if err != nil {
		return err
	}
	decode := agreements.DecodeYAML
	if mt == api.MediaJSON {
		decode = agreements.DecodeJSON
	}
	doc, err := decode(body)
	if err != nil {
		return err // every problem with its path, bounded (agreements/codec.go)
	}
	a, err := s.admin.Agreements.Register(c.UserContext(), actorOf(c), doc, c.Get(idem.Header))
	if err != nil {
		return err
	}
	c.Location(fmt.Sprintf("/admin/v1/agreements/%s/versions/%d", a.ID, a.Version))
	return c.Status(http.StatusCreated).JSON(agreementView(a, s.now()))
}

func (s *Server) showAgreement(c *fiber.Ctx) error {
	versions, err := s.admin.Agreements.Versions(c.UserContext(), actorOf(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(agreementView(agreements.Governing(versions)[0], s.now()))
}

func (s *Server) agreementVersions(c *fiber.Ctx) error {
	versions, err := s.admin.Agreements.Versions(c.UserContext(), actorOf(c), c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(api.AgreementVersions{Versions: s.agreementViews(versions)})
}

func (s *Server) agreementVersion(c *fiber.Ctx) error {
	n, err := strconv.Atoi(c.Params("version"))
	if err != nil || n < 1 {
		return fieldProblem("version", "format", "must be a version number (1, 2, …)")
	}
	versions, err := s.admin.Agreements.Versions(c.UserContext(), actorOf(c), c.Params("id"))
	if err != nil {
		return err
	}
	for _, a := range versions {
		if a.Version == n {
			return c.JSON(agreementView(a, s.now()))
		}
	}
	return fmt.Errorf("%w: agreement %s version %d", agreements.ErrNotFound, c.Params("id"), n)
}

// agreementVersionAction approves or activates the version the body names,
// bound to the digest of the document the person was shown
// (api.VersionBinding); the domain refuses a digest that is not the
// version's.
func (s *Server) agreementVersionAction(fn func(AgreementAdmin, context.Context, agreements.Actor, string, int, string) (*agreements.Agreement, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var b api.VersionBinding
		// No body at all is answered as a body naming nothing: 400 with
		// the version and sha256 fields required.
		if len(c.Request().Header.ContentType()) > 0 || len(c.Body()) > 0 {
			if err := s.readJSON(c, &b); err != nil {
				return err
			}
		}
		a, err := fn(s.admin.Agreements, c.UserContext(), actorOf(c), c.Params("id"), b.Version, b.SHA256)
		if err != nil {
			return err
		}
		return c.JSON(agreementView(a, s.now()))
	}
}

func (s *Server) agreementReasonAction(fn func(AgreementAdmin, context.Context, agreements.Actor, string, string) (*agreements.Agreement, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var b api.Reason
		if err := s.readJSON(c, &b); err != nil {
			return err
		}
		a, err := fn(s.admin.Agreements, c.UserContext(), actorOf(c), c.Params("id"), b.Reason)
		if err != nil {
			return err
		}
		s.log.Info("agreement status changed", logkey.Agreement, a.Ref(), "status", a.Status, "actor", actorOf(c).Subject)
		return c.JSON(agreementView(a, s.now()))
	}
}

// adminDryRun decides a declaration as if sender had made it.
func (s *Server) adminDryRun(c *fiber.Ctx) error {
	var b api.DecisionCheck
	if err := s.readJSON(c, &b); err != nil {
		return err
	}
	if !agreements.ValidPartyID(b.Sender) {
		return fieldProblem("sender", "required", "is required: the party whose disclosure to decide")
	}
	if _, err := s.admin.Agreements.Parties(c.UserContext(), actorOf(c)); err != nil {
		return err // the actor's roles must allow reading the registry
	}
	dec, err := s.admin.Decisions.Check(c.UserContext(), b.Sender, &b.Declaration)
	if err != nil {
		return prefixFields(err, "declaration")
	}
	return c.JSON(decisionView(&dec))
}

// prefixFields puts the paths of validation problems under prefix.
func prefixFields(err error, prefix string) error {
	v, ok := valid.As(err)
	if !ok {
		return err
	}
	out := make(valid.Errors, len(v))
	for i, p := range v {
		p.Path = prefix + "." + p.Path
		out[i] = p
	}
	return out
}

// readBody reads a body of one of the given media types, within the JSON limit.
func (s *Server) readBody(c *fiber.Ctx, types ...string) ([]byte, string, error) {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || !contains(types, mt) {
		return nil, "", problem(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Unsupported content type.").
			withDetail("send one of " + strings.Join(types, ", "))
	}
	limit := s.opts.MaxJSONBody
	body, err := io.ReadAll(io.LimitReader(c.Context().RequestBodyStream(), limit+1))
	if err != nil {
		return nil, "", problem(http.StatusBadRequest, CodeInvalidJSON, "The request body could not be read.").withCause(err)
	}
	if int64(len(body)) > limit {
		return nil, "", problem(http.StatusRequestEntityTooLarge, CodeTooLarge, "The request body is too large.")
	}
	return body, mt, nil
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}
