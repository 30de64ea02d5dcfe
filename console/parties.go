package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/certs"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// Parties: the list, a party's page (who it is, how it is identified, the
// certificates it has used and when they expire, its key), registering a
// party, suspending and resuming one, and the two-person changes to its
// trust: an administrator proposes a new key or anchors, someone else
// approves the proposal bound to the digest shown, or rejects it.

// kindNames are the party kinds as people say them.
var kindNames = []struct{ Code, Name string }{
	{string(agreements.KindPolice), "Police force"},
	{string(agreements.KindDWP), "Department for Work and Pensions"},
	{string(agreements.KindCabinetOffice), "Cabinet Office"},
	{string(agreements.KindHMRC), "HM Revenue and Customs"},
	{string(agreements.KindCourt), "Court"},
	{string(agreements.KindLocalAuthority), "Local authority"},
	{string(agreements.KindCouncilService), "Council service"},
}

// partyDone are the confirmations the party page shows after an action.
var partyDone = map[string]string{
	"registered":            "Party registered. It is not active until someone other than you, an administrator or a DPO, approves its registration.",
	"registration-approved": "Registration approved. The party is active from its next request.",
	"registration-rejected": "Registration rejected. The party stays inactive.",
	"suspended":             "Party suspended. It is refused from its next request.",
	"resumed":               "Suspension lifted.",
	"proposed":              "Change proposed. Nothing has changed yet: someone other than you must approve it.",
	"approved":              "Change approved. It is in effect from the party's next request.",
	"rejected":              "Change rejected. Nothing has changed.",
	"withdrawn":             "Change withdrawn. Nothing has changed.",
}

// trustSummary is a party's trust as a person compares it.
type trustSummary struct {
	Kind     string
	Anchors  []string // SHA-256 of each CA certificate; none: the deployment's CA
	Identity string
	Hosts    string
	KeyID    string
	KeyPrint string // RFC 7638 thumbprint
}

func summarise(t agreements.PartyTrust, id string) trustSummary {
	s := trustSummary{Kind: string(t.Kind), Anchors: agreements.AnchorFingerprints(t.TrustAnchors), Hosts: strings.Join(t.RevocationHosts, ", ")}
	if t.Identity == (agreements.IdentityRule{}) {
		s.Identity = "URI SAN spiffe://…/party/" + id
	} else {
		s.Identity = fmt.Sprintf("subject %s issued by the CA with SHA-256 %s", t.Identity.SubjectDN, t.Identity.IssuerFingerprint)
	}
	var k struct {
		Kid string `json:"kid"`
	}
	if json.Unmarshal(t.EncryptionKey, &k) == nil {
		s.KeyID = k.Kid
	}
	s.KeyPrint = agreements.KeyFingerprint(t.EncryptionKey)
	return s
}

type changeView struct {
	*agreements.PartyChange
	Before, After trustSummary
	Fields        []string
}

func (c *Console) partiesPage(w http.ResponseWriter, r *http.Request, s *session) {
	ps, err := c.opts.Registry.Parties(r.Context(), s.actor())
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
	open, err := c.opts.Registry.PartyChanges(r.Context(), s.actor(), "")
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	pending := map[string]bool{}
	for _, ch := range open {
		if ch.Status == agreements.ChangeProposed {
			pending[ch.Party] = true
		}
	}
	c.render(w, r, http.StatusOK, "parties", s, page{Title: "Parties", Nav: "parties",
		Data: map[string]any{"Parties": ps, "Pending": pending}})
}

func (c *Console) partyPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.partyView(w, r, s, http.StatusOK, r.PathValue("id"), nil, partyDone[r.URL.Query().Get("done")], nil)
}

// partyView renders a party's page; form holds what was typed into a form
// that is shown again with errors.
func (c *Console) partyView(w http.ResponseWriter, r *http.Request, s *session, status int, id string, errs []fieldError, done string, form map[string]string) {
	ctx, actor := r.Context(), s.actor()
	p, err := c.opts.Registry.Party(ctx, actor, id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	changes, err := c.opts.Registry.PartyChanges(ctx, actor, id)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	var pending, decided []changeView
	for _, ch := range changes {
		v := changeView{PartyChange: ch, Before: summarise(ch.Before, id), After: summarise(ch.After, id), Fields: ch.Fields()}
		if ch.Status == agreements.ChangeProposed {
			pending = append(pending, v)
		} else {
			decided = append(decided, v)
		}
	}
	type seen struct {
		certs.SeenCertificate
		Soon bool
	}
	var seenCerts []seen
	if c.opts.Certificates != nil {
		all, err := c.opts.Certificates.List(ctx, c.now())
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		for _, sc := range all {
			if sc.Party == id {
				seenCerts = append(seenCerts, seen{sc, sc.DaysLeft <= 30})
			}
		}
	}
	if form == nil {
		form = map[string]string{}
	}
	c.render(w, r, status, "party", s, page{Title: p.Name, Nav: "parties", Errors: errs, Done: done, Data: map[string]any{
		"Party": p, "Trust": summarise(agreements.TrustOf(p), id), "Pending": pending, "Decided": decided,
		"Certificates": seenCerts, "CertificatesKnown": c.opts.Certificates != nil, "Form": form,
		"Awaiting": p.Status == agreements.PartyPending, "Registrant": agreements.SamePerson(p.RegisteredBy, actor.Subject),
		"Inactive": p.Status == agreements.PartyPending || p.Status == agreements.PartyRejected,
	}})
}

// partyAction suspends, resumes, or proposes a change to a party's trust.
func (c *Console) partyAction(w http.ResponseWriter, r *http.Request, s *session) {
	id, action := r.PathValue("id"), r.PathValue("action")
	ctx, actor := r.Context(), s.actor()
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	var (
		errs []fieldError
		err  error
		done string
		form map[string]string
	)
	switch action {
	case "suspend", "resume":
		field := action + "-reason"
		switch {
		case reason == "":
			errs = append(errs, fieldError{field, "Enter the reason, for the audit record"})
		case len(reason) > 500:
			errs = append(errs, fieldError{field, "The reason must be 500 characters or fewer"})
		default:
			status, word := agreements.PartySuspended, "suspended"
			if action == "resume" {
				status, word = agreements.PartyActive, "resumed"
			}
			if _, err = c.opts.Registry.SetPartyStatus(ctx, actor, id, status, reason); err == nil {
				done = word
			} else {
				errs = c.actionErrors(err, field, nil)
			}
		}
	case "approve-registration":
		if _, err = c.opts.Registry.ApproveParty(ctx, actor, id, r.PostFormValue("sha256")); err == nil {
			done = "registration-approved"
		} else {
			errs = c.actionErrors(err, "approve-registration", nil)
		}
	case "reject-registration":
		switch {
		case reason == "":
			errs = append(errs, fieldError{"reject-registration-reason", "Enter the reason, for the audit record"})
		case len(reason) > 500:
			errs = append(errs, fieldError{"reject-registration-reason", "The reason must be 500 characters or fewer"})
		default:
			if _, err = c.opts.Registry.RejectParty(ctx, actor, id, reason); err == nil {
				done = "registration-rejected"
			} else {
				errs = c.actionErrors(err, "reject-registration-reason", nil)
			}
		}
	case "propose":
		key, anchors := strings.TrimSpace(r.PostFormValue("encryption-key")), strings.TrimSpace(r.PostFormValue("trust-anchors"))
		form = map[string]string{"encryption-key": key, "trust-anchors": anchors, "propose-reason": reason}
		var edit agreements.TrustEdit
		if key != "" {
			edit.EncryptionKey = json.RawMessage(key)
			if !json.Valid(edit.EncryptionKey) {
				errs = append(errs, fieldError{"encryption-key", "Enter the public key as a JWK (JSON), as the partner sent it"})
			}
		}
		if anchors != "" {
			anchors += "\n"
			edit.TrustAnchors = &anchors
		}
		switch {
		case len(errs) > 0:
		case key == "" && anchors == "":
			errs = append(errs, fieldError{"encryption-key", "Enter a new encryption key or new trust anchors"})
		case reason == "":
			errs = append(errs, fieldError{"propose-reason", "Enter the reason, shown to the approver and recorded in the audit"})
		default:
			var ch *agreements.PartyChange
			if ch, err = c.opts.Registry.ProposePartyChange(ctx, actor, id, edit, reason, ""); err == nil {
				done = "proposed"
				http.Redirect(w, r, fmt.Sprintf("%s/parties/%s?done=%s#change-%s", Prefix, id, done, ch.ID), http.StatusSeeOther)
				return
			}
			errs = c.actionErrors(err, "propose-reason", map[string]string{"encryption_key": "encryption-key", "trust_anchors": "trust-anchors", "reason": "propose-reason"})
		}
	default:
		c.fail(w, r, s, agreements.ErrNotFound)
		return
	}
	if errors.Is(err, agreements.ErrNotFound) {
		c.fail(w, r, s, err)
		return
	}
	if len(errs) > 0 {
		status := http.StatusUnprocessableEntity
		if errors.Is(err, agreements.ErrForbidden) {
			status = http.StatusForbidden
		}
		c.partyView(w, r, s, status, id, errs, "", form)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("%s/parties/%s?done=%s", Prefix, id, done), http.StatusSeeOther)
}

// actionErrors turns a domain error into errors at the form's fields:
// validation errors at the field their path names (fields maps a path's
// first part to an input), anything else at field.
func (c *Console) actionErrors(err error, field string, fields map[string]string) []fieldError {
	ve, ok := valid.As(err)
	if !ok {
		return []fieldError{{field, publicError(err)}}
	}
	var out []fieldError
	for _, p := range ve {
		f := field
		head, _, _ := strings.Cut(p.Path, "[")
		head, _, _ = strings.Cut(head, ".")
		if in, ok := fields[head]; ok {
			f = in
		}
		out = append(out, fieldError{f, p.Message})
	}
	return out
}

// changeAction approves (bound to the digest shown) or rejects a proposal.
func (c *Console) changeAction(w http.ResponseWriter, r *http.Request, s *session) {
	changeID, action := r.PathValue("id"), r.PathValue("action")
	ctx, actor := r.Context(), s.actor()
	ch, err := c.opts.Registry.PartyChange(ctx, actor, changeID)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	var (
		errs []fieldError
		done string
	)
	field := action + "-" + changeID
	switch action {
	case "approve":
		var applied *agreements.Party
		_, applied, err = c.opts.Registry.ApprovePartyChange(ctx, actor, changeID, r.PostFormValue("sha256"))
		if err == nil && applied != nil {
			done = "approved"
		}
	case "reject":
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		field = "reject-reason-" + changeID
		if reason == "" {
			errs = append(errs, fieldError{field, "Enter the reason, for the proposer and the audit record"})
			break
		}
		var out *agreements.PartyChange
		if out, err = c.opts.Registry.RejectPartyChange(ctx, actor, changeID, reason); err == nil {
			done = string(out.Status)
		}
	default:
		c.fail(w, r, s, agreements.ErrNotFound)
		return
	}
	if err != nil {
		errs = c.actionErrors(err, field, nil)
	}
	if len(errs) > 0 {
		status := http.StatusConflict
		if errors.Is(err, agreements.ErrForbidden) || errors.Is(err, agreements.ErrSameProposer) {
			status = http.StatusForbidden
		} else if err == nil {
			status = http.StatusUnprocessableEntity
		}
		c.partyView(w, r, s, status, ch.Party, errs, "", nil)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("%s/parties/%s?done=%s", Prefix, ch.Party, done), http.StatusSeeOther)
}

func (c *Console) newPartyPage(w http.ResponseWriter, r *http.Request, s *session) {
	if !slices.Contains(s.Roles, agreements.RoleAdmin) {
		c.forbidden(w, r, s, "Parties are registered by administrators.")
		return
	}
	c.render(w, r, http.StatusOK, "party-new", s, page{Title: "Register a party", Nav: "parties", Data: map[string]any{"Kinds": kindNames, "Form": map[string]string{}}})
}

// registerParty registers a party from the form; errors are shown at the
// field, what was typed kept.
func (c *Console) registerParty(w http.ResponseWriter, r *http.Request, s *session) {
	form := map[string]string{}
	for _, f := range []string{"id", "kind", "name", "encryption-key", "trust-anchors"} {
		form[f] = strings.TrimSpace(r.PostFormValue(f))
	}
	p := &agreements.Party{ID: form["id"], Kind: agreements.PartyKind(form["kind"]), Name: form["name"]}
	var errs []fieldError
	if form["encryption-key"] != "" {
		if !json.Valid([]byte(form["encryption-key"])) {
			errs = append(errs, fieldError{"encryption-key", "Enter the public key as a JWK (JSON), as the partner sent it"})
		}
		p.EncryptionKey = json.RawMessage(form["encryption-key"])
	}
	if form["trust-anchors"] != "" {
		p.TrustAnchors = form["trust-anchors"] + "\n"
	}
	status := http.StatusUnprocessableEntity
	if len(errs) == 0 {
		_, err := c.opts.Registry.RegisterParty(r.Context(), s.actor(), p, "")
		if err == nil {
			http.Redirect(w, r, fmt.Sprintf("%s/parties/%s?done=registered", Prefix, p.ID), http.StatusSeeOther)
			return
		}
		switch {
		case errors.Is(err, agreements.ErrForbidden):
			status = http.StatusForbidden
		case errors.Is(err, agreements.ErrExists):
			status = http.StatusConflict
			errs = append(errs, fieldError{"id", "A party with this id is registered already"})
		}
		if !errors.Is(err, agreements.ErrExists) {
			errs = append(errs, c.actionErrors(err, "id", map[string]string{
				"id": "id", "kind": "kind", "name": "name", "encryption_key": "encryption-key", "trust_anchors": "trust-anchors",
			})...)
		}
	}
	c.render(w, r, status, "party-new", s, page{Title: "Register a party", Nav: "parties", Errors: errs, Data: map[string]any{"Kinds": kindNames, "Form": form}})
}
