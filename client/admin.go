package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/gatehouse-gw/gatehouse/api"
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
	// Retry is how failed requests are repeated; the zero value is the default.
	Retry Retry
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
	return &Admin{conn{base: base, hc: hc, token: cfg.Token, retry: cfg.Retry}}, nil
}

// WhoAmI returns the token's subject and roles.
func (a *Admin) WhoAmI(ctx context.Context) (subject string, roles []string, err error) {
	var out api.AdminWhoAmI
	err = a.getJSON(ctx, "/admin/v1/whoami", &out)
	return out.Subject, out.Roles, err
}

// Parties lists every party.
func (a *Admin) Parties(ctx context.Context) ([]api.Party, error) {
	var out api.PartyList
	return out.Parties, a.getJSON(ctx, "/admin/v1/parties", &out)
}

// Party shows one party.
func (a *Admin) Party(ctx context.Context, id string) (*api.Party, error) {
	var p api.Party
	return &p, a.getJSON(ctx, "/admin/v1/parties/"+url.PathEscape(id), &p)
}

// RegisterParty registers a party (admin role).
func (a *Admin) RegisterParty(ctx context.Context, reg *api.PartyRegistration) (*api.Party, error) {
	var out api.Party
	return &out, a.postJSON(ctx, "/admin/v1/parties", reg, &out)
}

// ApproveParty approves a new party's registration (admin or dpo, not its
// registrant), naming the registration's digest (Party.RegistrationSHA256)
// as the approver was shown it; the party becomes active.
func (a *Admin) ApproveParty(ctx context.Context, id, sha256 string) (*api.Party, error) {
	var out api.Party
	return &out, a.postJSON(ctx, "/admin/v1/parties/"+url.PathEscape(id)+"/approve", api.PartyApproval{SHA256: sha256}, &out)
}

// RejectParty refuses a new party's registration (admin or dpo).
func (a *Admin) RejectParty(ctx context.Context, id, reason string) (*api.Party, error) {
	var out api.Party
	return &out, a.postJSON(ctx, "/admin/v1/parties/"+url.PathEscape(id)+"/reject", api.Reason{Reason: reason}, &out)
}

// SuspendParty suspends a party; it takes effect on its next request.
func (a *Admin) SuspendParty(ctx context.Context, id, reason string) (*api.Party, error) {
	var out api.Party
	return &out, a.postJSON(ctx, "/admin/v1/parties/"+url.PathEscape(id)+"/suspend", api.Reason{Reason: reason}, &out)
}

// ResumeParty lifts a party's suspension.
func (a *Admin) ResumeParty(ctx context.Context, id, reason string) (*api.Party, error) {
	var out api.Party
	return &out, a.postJSON(ctx, "/admin/v1/parties/"+url.PathEscape(id)+"/resume", api.Reason{Reason: reason}, &out)
}

// ProposePartyChange proposes a change to a party's kind, trust anchors,
// identity rule, revocation hosts or encryption key (admin role). Nothing
// changes until someone else approves it (ApprovePartyChange).
func (a *Admin) ProposePartyChange(ctx context.Context, id string, p *api.PartyChangeProposal) (*api.PartyChange, error) {
	var out api.PartyChange
	return &out, a.postJSON(ctx, "/admin/v1/parties/"+url.PathEscape(id)+"/changes", p, &out)
}

// PartyChanges lists change proposals, newest first: one party's, or every
// party's if party is empty; of one status if status is not empty.
func (a *Admin) PartyChanges(ctx context.Context, party, status string) ([]api.PartyChange, error) {
	path := "/admin/v1/party-changes"
	if party != "" {
		path = "/admin/v1/parties/" + url.PathEscape(party) + "/changes"
	}
	if status != "" {
		path += "?status=" + url.QueryEscape(status)
	}
	var out api.PartyChangeList
	return out.Changes, a.getJSON(ctx, path, &out)
}

// PartyChange shows one change proposal.
func (a *Admin) PartyChange(ctx context.Context, id string) (*api.PartyChange, error) {
	var out api.PartyChange
	return &out, a.getJSON(ctx, "/admin/v1/party-changes/"+url.PathEscape(id), &out)
}

// ApprovePartyChange approves a change proposal and puts it into effect
// (admin or dpo; not its proposer). sha256 is the proposal's digest as the
// approver was shown it.
func (a *Admin) ApprovePartyChange(ctx context.Context, id, sha256 string) (*api.PartyChange, error) {
	var out api.PartyChange
	return &out, a.postJSON(ctx, "/admin/v1/party-changes/"+url.PathEscape(id)+"/approve", api.PartyChangeApproval{SHA256: sha256}, &out)
}

// RejectPartyChange rejects a change proposal (admin or dpo); its own
// proposer withdraws it.
func (a *Admin) RejectPartyChange(ctx context.Context, id, reason string) (*api.PartyChange, error) {
	var out api.PartyChange
	return &out, a.postJSON(ctx, "/admin/v1/party-changes/"+url.PathEscape(id)+"/reject", api.Reason{Reason: reason}, &out)
}

// Agreements lists the governing version of every agreement.
func (a *Admin) Agreements(ctx context.Context) ([]api.Agreement, error) {
	var out api.AgreementList
	return out.Agreements, a.getJSON(ctx, "/admin/v1/agreements", &out)
}

// Agreement shows the governing version of an agreement.
func (a *Admin) Agreement(ctx context.Context, id string) (*api.Agreement, error) {
	var out api.Agreement
	return &out, a.getJSON(ctx, "/admin/v1/agreements/"+url.PathEscape(id), &out)
}

// Versions lists every version of an agreement.
func (a *Admin) Versions(ctx context.Context, id string) ([]api.Agreement, error) {
	var out api.AgreementVersions
	return out.Versions, a.getJSON(ctx, "/admin/v1/agreements/"+url.PathEscape(id)+"/versions", &out)
}

// Register stores an agreement document (JSON or YAML, by contentType) as a
// new draft version (admin role).
func (a *Admin) Register(ctx context.Context, doc []byte, contentType string) (*api.Agreement, error) {
	var out api.Agreement
	resp, err := a.post(ctx, "/admin/v1/agreements", contentType, api.MediaJSON, doc)
	return &out, decode(resp, err, &out)
}

func (a *Admin) lifecycle(ctx context.Context, id, action string, body any) (*api.Agreement, error) {
	var out api.Agreement
	return &out, a.postJSON(ctx, "/admin/v1/agreements/"+url.PathEscape(id)+"/"+action, body, &out)
}

// Approve approves a draft version (dpo role; not the author): the version
// the DPO read, named by the SHA-256 of its document (api.Agreement's
// SHA256, as Version or Versions shows it). A digest that is no longer the
// version's is refused with 409 agreement-digest-mismatch.
func (a *Admin) Approve(ctx context.Context, id string, version int, sha256 string) (*api.Agreement, error) {
	return a.lifecycle(ctx, id, "approve", api.VersionBinding{Version: version, SHA256: sha256})
}

// Activate puts an approved version into force (admin role): the version
// read, named by its digest, as Approve.
func (a *Admin) Activate(ctx context.Context, id string, version int, sha256 string) (*api.Agreement, error) {
	return a.lifecycle(ctx, id, "activate", api.VersionBinding{Version: version, SHA256: sha256})
}

// Version returns one version of an agreement, with the digest of its
// document that approving or activating it names.
func (a *Admin) Version(ctx context.Context, id string, version int) (*api.Agreement, error) {
	var out api.Agreement
	return &out, a.getJSON(ctx, fmt.Sprintf("/admin/v1/agreements/%s/versions/%d", url.PathEscape(id), version), &out)
}

// Suspend pauses sharing under an agreement (admin role).
func (a *Admin) Suspend(ctx context.Context, id, reason string) (*api.Agreement, error) {
	return a.lifecycle(ctx, id, "suspend", api.Reason{Reason: reason})
}

// Resume lifts a suspension (admin role).
func (a *Admin) Resume(ctx context.Context, id, reason string) (*api.Agreement, error) {
	return a.lifecycle(ctx, id, "resume", api.Reason{Reason: reason})
}

// Terminate ends an agreement (admin role).
func (a *Admin) Terminate(ctx context.Context, id, reason string) (*api.Agreement, error) {
	return a.lifecycle(ctx, id, "terminate", api.Reason{Reason: reason})
}

// Check decides a declaration as sender would make it: a dry run.
func (a *Admin) Check(ctx context.Context, sender string, d *api.ExchangeDeclaration) (*api.Decision, error) {
	var dec api.Decision
	return &dec, a.postJSON(ctx, "/admin/v1/decisions", api.DecisionCheck{Sender: sender, Declaration: *d}, &dec)
}

// Certificates lists the party certificates the gateway has seen, soonest
// to expire first.
func (a *Admin) Certificates(ctx context.Context) ([]api.SeenCertificate, error) {
	var out api.CertificateList
	return out.Certificates, a.getJSON(ctx, "/admin/v1/certificates", &out)
}

// Inspect asks what the gateway would make of a PEM certificate chain.
func (a *Admin) Inspect(ctx context.Context, chainPEM []byte) (*api.Inspection, error) {
	var out api.Inspection
	resp, err := a.post(ctx, "/admin/v1/certificates/inspect", "application/x-pem-file", api.MediaJSON, chainPEM)
	return &out, decode(resp, err, &out)
}
