package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/compliance"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/internal/idem"
)

// Compliance is what the admin API needs of the compliance record.
type Compliance interface {
	Export(ctx context.Context, actor agreements.Actor, req compliance.ExportRequest) (*compliance.Export, error)
	ReviewOverride(ctx context.Context, actor agreements.Actor, exchangeID string, r *api.OverrideReview) (*compliance.Override, error)
	RecordNotification(ctx context.Context, actor agreements.Actor, exchangeID string, u *api.NotificationUpdate) (*compliance.Notification, error)
	Rectify(ctx context.Context, actor agreements.Actor, r *api.RectificationRequest, idempotencyKey string) (*compliance.Rectification, error)
	RecordConsent(ctx context.Context, actor agreements.Actor, r *api.ConsentRecord, idempotencyKey string) (*exchange.Consent, error)
	WithdrawConsent(ctx context.Context, actor agreements.Actor, id string, w *api.ConsentWithdrawal) (*exchange.Consent, error)
	Consents(ctx context.Context, actor agreements.Actor, party string) ([]*exchange.Consent, error)
}

// Notices is what the partner API needs of the compliance record: the
// rectification notices sent to a party, and their acknowledgement.
type Notices interface {
	Notices(ctx context.Context, party string, pending bool) ([]*compliance.Notice, error)
	AcknowledgeNotice(ctx context.Context, party, id string) (*compliance.Notice, error)
}

// HeaderSignature carries an export's detached JWS.
const HeaderSignature = "Gatehouse-Signature"

// GET /admin/v1/exports/{kind}: an export, signed. Query: format (csv,
// json), from and to (disclosures; RFC 3339 or YYYY-MM-DD), state
// (overrides), within (agreements; days).
func (s *Server) export(c *fiber.Ctx) error {
	req := compliance.ExportRequest{Kind: c.Params("kind"), Format: c.Query("format"), Filter: c.Query("state")}
	if req.Kind == compliance.KindSubjectAccess {
		c.Set(fiber.HeaderAllow, http.MethodPost)
		return problem(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "A subject access export is asked for with POST, so that the subject's identifier stays out of URLs and logs.")
	}
	var err error
	if req.From, err = queryTime(c, "from", false); err != nil {
		return err
	}
	if req.To, err = queryTime(c, "to", true); err != nil {
		return err
	}
	if w := c.Query("within"); w != "" {
		days, err := strconv.Atoi(strings.TrimSuffix(w, "d"))
		if err != nil {
			return fieldProblem("within", "format", "must be a number of days, e.g. 30")
		}
		req.Within = time.Duration(days) * 24 * time.Hour
	}
	return s.sendExport(c, req)
}

// POST /admin/v1/exports/subject-access: everything shared about one person.
func (s *Server) exportSubjectAccess(c *fiber.Ctx) error {
	var body api.SubjectAccessRequest
	if err := s.readJSON(c, &body); err != nil {
		return err
	}
	return s.sendExport(c, compliance.ExportRequest{
		Kind: compliance.KindSubjectAccess, Format: body.Format, Subject: body.Subject, SubjectKey: body.SubjectKey,
		Subjects: body.Subjects, SubjectKeys: body.SubjectKeys,
	})
}

func (s *Server) sendExport(c *fiber.Ctx, req compliance.ExportRequest) error {
	ex, err := s.admin.Compliance.Export(c.UserContext(), actorOf(c), req)
	if err != nil {
		return err
	}
	ct := api.MediaJSON
	if ex.Format == compliance.FormatCSV {
		ct = "text/csv; charset=utf-8; header=present"
	}
	name := fmt.Sprintf("%s-%s.%s", ex.Table.Kind, ex.Table.GeneratedAt.Format("20060102T150405Z"), ex.Format)
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set(HeaderSignature, ex.Signature)
	c.Set("Gatehouse-Export-Rows", strconv.Itoa(len(ex.Table.Rows)))
	return c.Send(ex.Body)
}

// queryTime reads a time from the query: RFC 3339, or a date (the start of
// that day in UTC; for an end bound, the start of the next day, so that
// to=2026-03-31 includes the 31st).
func queryTime(c *fiber.Ctx, name string, end bool) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, fieldProblem(name, "format", "must be a date (YYYY-MM-DD) or an RFC 3339 time")
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// POST /admin/v1/overrides/{exchange}/review: the DPO's review of an
// emergency override.
func (s *Server) reviewOverride(c *fiber.Ctx) error {
	var body api.OverrideReview
	if err := s.readJSON(c, &body); err != nil {
		return err
	}
	o, err := s.admin.Compliance.ReviewOverride(c.UserContext(), actorOf(c), c.Params("id"), &body)
	if err != nil {
		return err
	}
	return c.JSON(overrideView(o))
}

// POST /admin/v1/exchanges/{id}/release: a DPO lets the recipient fetch an
// exchange its agreement or parties hold back.
func (s *Server) releaseExchange(c *fiber.Ctx) error {
	var body api.ExchangeRelease
	if err := s.readJSON(c, &body); err != nil {
		return err
	}
	e, err := s.admin.Releases.Release(c.UserContext(), actorOf(c), c.Params("id"), body.Reason)
	if err != nil {
		return err
	}
	return c.JSON(api.Released{
		ExchangeID: e.ID, Recipient: e.Recipient, Agreement: e.AgreementRef(), State: string(e.State),
		ReleasedBy: e.Release.By, Reason: e.Release.Reason, ReleasedAt: e.Release.At,
	})
}

// POST /admin/v1/notifications/{exchange}: the subjects were told, or
// telling them stays withheld until a new review date.
func (s *Server) recordNotification(c *fiber.Ctx) error {
	var body api.NotificationUpdate
	if err := s.readJSON(c, &body); err != nil {
		return err
	}
	n, err := s.admin.Compliance.RecordNotification(c.UserContext(), actorOf(c), c.Params("id"), &body)
	if err != nil {
		return err
	}
	return c.JSON(notificationView(n))
}

// POST /admin/v1/rectifications: a subject's data was corrected, erased or
// restricted; every recipient of it gets a notice.
func (s *Server) rectify(c *fiber.Ctx) error {
	var body api.RectificationRequest
	if err := s.readJSON(c, &body); err != nil {
		return err
	}
	r, err := s.admin.Compliance.Rectify(c.UserContext(), actorOf(c), &body, c.Get(idem.Header))
	if err != nil {
		return err
	}
	c.Location("/admin/v1/exports/rectifications")
	return c.Status(http.StatusCreated).JSON(rectificationView(r))
}

// GET /v1/notices: the rectification notices sent to the caller
// (?pending=true: only those not yet acknowledged).
func (s *Server) listNotices(c *fiber.Ctx) error {
	ns, err := s.partner.Notices.Notices(c.UserContext(), caller(c).ID, c.QueryBool("pending"))
	if err != nil {
		return err
	}
	out := api.Notices{Notices: make([]api.Notice, len(ns))}
	for i, n := range ns {
		out.Notices[i] = noticeView(n)
	}
	return c.JSON(out)
}

// POST /v1/notices/{id}/ack: the recipient acted on a notice.
func (s *Server) ackNotice(c *fiber.Ctx) error {
	n, err := s.partner.Notices.AcknowledgeNotice(c.UserContext(), caller(c).ID, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(noticeView(n))
}

// POST /admin/v1/consents: a subject's consent to a sending party, entered
// in the consent register.
func (s *Server) recordConsent(c *fiber.Ctx) error {
	var body api.ConsentRecord
	if err := s.readJSON(c, &body); err != nil {
		return err
	}
	rec, err := s.admin.Compliance.RecordConsent(c.UserContext(), actorOf(c), &body, c.Get(idem.Header))
	if err != nil {
		return err
	}
	c.Location("/admin/v1/consents/" + rec.ID)
	return c.Status(http.StatusCreated).JSON(consentView(rec))
}

// POST /admin/v1/consents/{id}/withdraw: the subject withdrew the consent.
func (s *Server) withdrawConsent(c *fiber.Ctx) error {
	var body api.ConsentWithdrawal
	if err := s.readJSON(c, &body); err != nil {
		return err
	}
	rec, err := s.admin.Compliance.WithdrawConsent(c.UserContext(), actorOf(c), c.Params("id"), &body)
	if err != nil {
		return err
	}
	return c.JSON(consentView(rec))
}

// GET /admin/v1/consents: the consent register (?party=: one party's).
func (s *Server) listConsents(c *fiber.Ctx) error {
	cs, err := s.admin.Compliance.Consents(c.UserContext(), actorOf(c), c.Query("party"))
	if err != nil {
		return err
	}
	out := api.Consents{Consents: make([]api.Consent, len(cs))}
	for i, rec := range cs {
		out.Consents[i] = consentView(rec)
	}
	return c.JSON(out)
}
