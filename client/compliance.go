package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse-gw/gatehouse/api"
)

// Export is an export being downloaded. Close Body when done.
type Export struct {
	Body io.ReadCloser
	// Size is the export's length in bytes, -1 if not known.
	Size int64
	// Signature is the detached JWS over the export's bytes.
	Signature string
	// Filename is the name the gateway suggests.
	Filename string
	Rows     int
}

// Export downloads an export (dpo or auditor role). query holds format,
// from, to, state or within as the kind needs.
func (a *Admin) Export(ctx context.Context, kind string, query url.Values) (*Export, error) {
	return openExport(a.get(ctx, "/admin/v1/exports/"+url.PathEscape(kind)+"?"+query.Encode(), "*/*"))
}

// SubjectAccess downloads the subject access export for one person (dpo role).
func (a *Admin) SubjectAccess(ctx context.Context, r api.SubjectAccessRequest) (*Export, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return openExport(a.post(ctx, "/admin/v1/exports/subject-access", api.MediaJSON, "*/*", b))
}

// openExport checks an export's answer; its body is the caller's to read.
func openExport(resp *http.Response, err error) (*Export, error) {
	if err != nil {
		return nil, err
	}
	sig := resp.Header.Get("Gatehouse-Signature")
	if sig == "" {
		resp.Body.Close()
		return nil, fmt.Errorf("client: the export came without its signature")
	}
	rows, _ := strconv.Atoi(resp.Header.Get("Gatehouse-Export-Rows"))
	name := ""
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		name = params["filename"]
	}
	return &Export{Body: resp.Body, Size: resp.ContentLength, Signature: sig, Filename: name, Rows: rows}, nil
}

// JWKS fetches the gateway's public keys, which verify exports,
// checkpoints and manifests.
func (a *Admin) JWKS(ctx context.Context) (jwk.Set, error) {
	var raw json.RawMessage
	if err := a.getJSON(ctx, "/.well-known/jwks.json", &raw); err != nil {
		return nil, err
	}
	return jwk.Parse(raw)
}

// ReviewOverride records the DPO's review of an emergency override.
func (a *Admin) ReviewOverride(ctx context.Context, exchangeID string, r api.OverrideReview) (*api.Override, error) {
	var out api.Override
	return &out, a.postJSON(ctx, "/admin/v1/overrides/"+url.PathEscape(exchangeID)+"/review", r, &out)
}

// Release lets the recipient fetch an exchange that the state of its
// agreement or parties holds back (dpo role).
func (a *Admin) Release(ctx context.Context, exchangeID, reason string) (*api.Released, error) {
	var out api.Released
	return &out, a.postJSON(ctx, "/admin/v1/exchanges/"+url.PathEscape(exchangeID)+"/release", api.ExchangeRelease{Reason: reason}, &out)
}

// RecordNotification records that a disclosure's subjects were told, or
// that telling them stays withheld.
func (a *Admin) RecordNotification(ctx context.Context, exchangeID string, u api.NotificationUpdate) (*api.NotificationRecord, error) {
	var out api.NotificationRecord
	return &out, a.postJSON(ctx, "/admin/v1/notifications/"+url.PathEscape(exchangeID), u, &out)
}

// Rectify records a correction, erasure or restriction of a subject's data
// and notifies every recipient of it.
func (a *Admin) Rectify(ctx context.Context, r api.RectificationRequest) (*api.Rectification, error) {
	var out api.Rectification
	return &out, a.postJSON(ctx, "/admin/v1/rectifications", r, &out)
}

// Notices lists the rectification notices sent to the caller's party.
func (c *Client) Notices(ctx context.Context, pending bool) ([]api.Notice, error) {
	var out api.Notices
	path := "/v1/notices"
	if pending {
		path += "?pending=true"
	}
	return out.Notices, c.getJSON(ctx, path, &out)
}

// AcknowledgeNotice records that the caller acted on a notice.
func (c *Client) AcknowledgeNotice(ctx context.Context, id string) (*api.Notice, error) {
	var out api.Notice
	return &out, c.postJSON(ctx, "/v1/notices/"+url.PathEscape(id)+"/ack", struct{}{}, &out)
}

// RecordConsent enters a subject's consent to a sending party in the
// consent register (admin or dpo role).
func (a *Admin) RecordConsent(ctx context.Context, r api.ConsentRecord) (*api.Consent, error) {
	var out api.Consent
	return &out, a.postJSON(ctx, "/admin/v1/consents", r, &out)
}

// WithdrawConsent records that the subject withdrew a consent (admin or dpo
// role); a zero withdrawnAt means now.
func (a *Admin) WithdrawConsent(ctx context.Context, id string, withdrawnAt time.Time) (*api.Consent, error) {
	var out api.Consent
	return &out, a.postJSON(ctx, "/admin/v1/consents/"+url.PathEscape(id)+"/withdraw", api.ConsentWithdrawal{WithdrawnAt: withdrawnAt}, &out)
}

// Consents lists the consent register, or one sending party's part of it.
func (a *Admin) Consents(ctx context.Context, party string) ([]api.Consent, error) {
	path := "/admin/v1/consents"
	if party != "" {
		path += "?party=" + url.QueryEscape(party)
	}
	var out api.Consents
	return out.Consents, a.getJSON(ctx, path, &out)
}
