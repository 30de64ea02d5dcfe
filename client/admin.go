package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/certs"
)

// AdminConfig says how to reach the admin API.
type AdminConfig struct {
	// URL is the admin API's base URL, e.g. https://127.0.0.1:8444.
	URL string
	// Token is a JWT bearer token with the admin, dpo or auditor role.
	Token string
	// CAFile is the CA of the gateway's server certificate; empty: system roots.
	CAFile     string
	HTTPClient *http.Client
}

// Admin talks to the admin API.
type Admin struct{ conn }

// NewAdmin returns an admin API client.
func NewAdmin(cfg AdminConfig) (*Admin, error) {
	base, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("client: admin URL %q is not an https:// URL", cfg.URL)
	}
	if cfg.Token == "" {
		return nil, errors.New("client: an admin token is required")
	}
	return newAdmin(base, cfg)
}

// AdminKeys fetches the gateway's public keys from the admin API's
// /.well-known/jwks.json, which needs no token.
func AdminKeys(ctx context.Context, cfg AdminConfig) (jwk.Set, error) {
	base, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("client: admin URL %q is not an https:// URL", cfg.URL)
	}
	a, err := newAdmin(base, cfg)
	if err != nil {
		return nil, err
	}
	return a.JWKS(ctx)
}

func newAdmin(base *url.URL, cfg AdminConfig) (*Admin, error) {
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if cfg.CAFile != "" {
			pool, err := readPool(cfg.CAFile)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig.RootCAs = pool
		}
		hc = &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	}
	return &Admin{conn{base: base, hc: hc, token: cfg.Token}}, nil
}

// Agreement is an agreement version as the admin API shows it.
type Agreement struct {
	agreements.Agreement
	// EffectiveStatus is the status today: an active agreement past its
	// expiry date shows as expired.
	EffectiveStatus agreements.Status `json:"effective_status"`
}

// WhoAmI returns the token's subject and roles.
func (a *Admin) WhoAmI(ctx context.Context) (subject string, roles []string, err error) {
	var out struct {
		Subject string   `json:"subject"`
		Roles   []string `json:"roles"`
	}
	err = a.getJSON(ctx, "/admin/v1/whoami", &out)
	return out.Subject, out.Roles, err
}

// Parties lists every party.
func (a *Admin) Parties(ctx context.Context) ([]*agreements.Party, error) {
	var out struct {
		Parties []*agreements.Party `json:"parties"`
	}
	return out.Parties, a.getJSON(ctx, "/admin/v1/parties", &out)
}

// Party shows one party.
func (a *Admin) Party(ctx context.Context, id string) (*agreements.Party, error) {
	var p agreements.Party
	return &p, a.getJSON(ctx, "/admin/v1/parties/"+url.PathEscape(id), &p)
}

// RegisterParty registers a party (admin role).
func (a *Admin) RegisterParty(ctx context.Context, p *agreements.Party) (*agreements.Party, error) {
	reg := api.PartyRegistration{ID: p.ID, Kind: string(p.Kind), Name: p.Name, TrustAnchors: p.TrustAnchors, EncryptionKey: p.EncryptionKey}
	if p.Identity.SubjectDN != "" || p.Identity.IssuerFingerprint != "" {
		reg.Identity = &api.IdentityRule{SubjectDN: p.Identity.SubjectDN, IssuerFingerprint: p.Identity.IssuerFingerprint}
	}
	var out agreements.Party
	return &out, a.postJSON(ctx, "/admin/v1/parties", reg, &out)
}

// SuspendParty suspends a party; it takes effect on its next request.
func (a *Admin) SuspendParty(ctx context.Context, id, reason string) (*agreements.Party, error) {
	var out agreements.Party
	return &out, a.postJSON(ctx, "/admin/v1/parties/"+url.PathEscape(id)+"/suspend", map[string]string{"reason": reason}, &out)
}

// ResumeParty lifts a party's suspension.
func (a *Admin) ResumeParty(ctx context.Context, id, reason string) (*agreements.Party, error) {
	var out agreements.Party
	return &out, a.postJSON(ctx, "/admin/v1/parties/"+url.PathEscape(id)+"/resume", map[string]string{"reason": reason}, &out)
}

// Agreements lists the governing version of every agreement.
func (a *Admin) Agreements(ctx context.Context) ([]Agreement, error) {
	var out struct {
		Agreements []Agreement `json:"agreements"`
	}
	return out.Agreements, a.getJSON(ctx, "/admin/v1/agreements", &out)
}

// Agreement shows the governing version of an agreement.
func (a *Admin) Agreement(ctx context.Context, id string) (*Agreement, error) {
	var out Agreement
	return &out, a.getJSON(ctx, "/admin/v1/agreements/"+url.PathEscape(id), &out)
}

// Versions lists every version of an agreement.
func (a *Admin) Versions(ctx context.Context, id string) ([]Agreement, error) {
	var out struct {
		Versions []Agreement `json:"versions"`
	}
	return out.Versions, a.getJSON(ctx, "/admin/v1/agreements/"+url.PathEscape(id)+"/versions", &out)
}

// Register stores an agreement document (JSON or YAML, by contentType) as a
// new draft version (admin role).
func (a *Admin) Register(ctx context.Context, doc []byte, contentType string) (*Agreement, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url("/admin/v1/agreements"), bytes.NewReader(doc))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", api.MediaJSON)
	var out Agreement
	return &out, a.do(req, &out)
}

func (a *Admin) lifecycle(ctx context.Context, id, action string, body any) (*Agreement, error) {
	var out Agreement
	return &out, a.postJSON(ctx, "/admin/v1/agreements/"+url.PathEscape(id)+"/"+action, body, &out)
}

// Approve approves a draft version (dpo role; not the author). Version 0
// means the latest.
func (a *Admin) Approve(ctx context.Context, id string, version int) (*Agreement, error) {
	return a.lifecycle(ctx, id, "approve", map[string]int{"version": version})
}

// Activate puts an approved version into force (admin role). Version 0
// means the latest.
func (a *Admin) Activate(ctx context.Context, id string, version int) (*Agreement, error) {
	return a.lifecycle(ctx, id, "activate", map[string]int{"version": version})
}

// Suspend pauses sharing under an agreement (admin role).
func (a *Admin) Suspend(ctx context.Context, id, reason string) (*Agreement, error) {
	return a.lifecycle(ctx, id, "suspend", map[string]string{"reason": reason})
}

// Resume lifts a suspension (admin role).
func (a *Admin) Resume(ctx context.Context, id, reason string) (*Agreement, error) {
	return a.lifecycle(ctx, id, "resume", map[string]string{"reason": reason})
}

// Terminate ends an agreement (admin role).
func (a *Admin) Terminate(ctx context.Context, id, reason string) (*Agreement, error) {
	return a.lifecycle(ctx, id, "terminate", map[string]string{"reason": reason})
}

// Check decides a declaration as sender would make it: a dry run.
func (a *Admin) Check(ctx context.Context, sender string, d *api.ExchangeDeclaration) (*api.Decision, error) {
	var dec api.Decision
	return &dec, a.postJSON(ctx, "/admin/v1/decisions", api.DecisionCheck{Sender: sender, Declaration: *d}, &dec)
}

// Certificates lists the party certificates the gateway has seen, soonest
// to expire first.
func (a *Admin) Certificates(ctx context.Context) ([]certs.SeenCertificate, error) {
	var out struct {
		Certificates []certs.SeenCertificate `json:"certificates"`
	}
	return out.Certificates, a.getJSON(ctx, "/admin/v1/certificates", &out)
}

// Inspect asks what the gateway would make of a PEM certificate chain.
func (a *Admin) Inspect(ctx context.Context, chainPEM []byte) (*certs.Inspection, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url("/admin/v1/certificates/inspect"), bytes.NewReader(chainPEM))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-pem-file")
	var out certs.Inspection
	return &out, a.do(req, &out)
}
