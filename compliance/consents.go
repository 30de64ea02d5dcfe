package compliance

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
	"github.com/gatehouse-gw/gatehouse/exchange"
	"github.com/gatehouse-gw/gatehouse/internal/idem"
	"github.com/gatehouse-gw/gatehouse/internal/strictjson"
	"github.com/gatehouse-gw/gatehouse/internal/valid"
)

// Bounds of a consent record.
const (
	maxConsentRef      = 256
	maxConsentPurposes = 16
	maxSubjectValue    = 256
)

// RecordConsent enters a subject's consent to a sending party in the
// consent register, audited as consent.recorded with the subject as its
// keyed digest. It needs an admin or a DPO; with an idempotency key a
// repeat returns the record the first made.
func (s *Service) RecordConsent(ctx context.Context, actor agreements.Actor, r *api.ConsentRecord, key string) (*exchange.Consent, error) {
	if err := needRole(actor, agreements.RoleAdmin, agreements.RoleDPO); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	var v valid.Errors
	if v.Required("party", r.Party) && !agreements.ValidPartyID(r.Party) {
		v.Add("party", "format", "is not a party id")
	}
	if v.Required("consent_ref", r.ConsentRef) {
		if len(r.ConsentRef) > maxConsentRef {
			v.Add("consent_ref", "max-length", "is longer than %d characters", maxConsentRef)
		} else if i := valid.ControlAt(r.ConsentRef, false); i >= 0 {
			v.Add("consent_ref", "control-character", "%s", valid.ControlMessage(r.ConsentRef, i))
		}
	}
	if r.Subject != nil && len(r.Subject.Value) > maxSubjectValue {
		v.Add("subject.value", "max-length", "is longer than %d characters", maxSubjectValue)
	}
	subject := s.subjectKey(&v, r.Subject, r.SubjectKey)
	purposes := consentPurposes(&v, r.Purposes)
	given := r.GivenAt.UTC()
	switch {
	case r.GivenAt.IsZero():
		given = now
	case given.After(now):
		v.Add("given_at", "not-future", "lies in the future: record a consent once it is given")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.partyRegistered(ctx, r.Party); err != nil {
		return nil, err
	}
	scope := "admin:" + actor.Subject
	fingerprint := idem.Fingerprint(api.ConsentRecord{Party: r.Party, ConsentRef: r.ConsentRef, SubjectKey: subject, Purposes: purposes, GivenAt: r.GivenAt})
	if id, err := idem.Replay(ctx, s.store, scope, key, fingerprint); err != nil || id != "" {
		if err != nil {
			return nil, unavailable(err)
		}
		c, err := s.store.Consent(ctx, id)
		return c, unavailable(err)
	}
	c := &exchange.Consent{
		ID: uuid.Must(uuid.NewV7()).String(), Party: r.Party, ConsentRef: r.ConsentRef, SubjectKey: subject,
		Purposes: purposes, GivenAt: given, RecordedBy: actor.Subject, RecordedAt: now,
	}
	e := s.entry(actor, AuditConsentRecorded)
	e.Subjects = []string{subject}
	e.Detail["consent"] = c.ID
	e.Detail["party"] = c.Party
	e.Detail["consent_ref"] = c.ConsentRef
	e.Detail["purposes"] = strings.Join(purposes, " ")
	e.Detail["given_at"] = given.Format(time.RFC3339)
	err := s.store.Update(ctx, func(tx Tx) error {
		if key != "" {
			if err := tx.ClaimKey(ctx, scope, key, fingerprint, c.ID, now); err != nil {
				return err
			}
		}
		if err := tx.AppendAudit(ctx, e); err != nil {
			return err
		}
		return tx.CreateConsent(ctx, c)
	})
	if err != nil {
		if id, rerr := idem.Replay(ctx, s.store, scope, key, fingerprint); rerr == nil && id != "" {
			c, err := s.store.Consent(ctx, id)
			return c, unavailable(err)
		}
		return nil, unavailable(err)
	}
	return c, nil
}

// consentPurposes checks the purposes a consent covers: known codes, each
// once, compared and kept in lower case.
func consentPurposes(v *valid.Errors, in []string) []string {
	if len(in) == 0 {
		v.Add("purposes", "required", "name at least one purpose the consent covers")
		return nil
	}
	if len(in) > maxConsentPurposes {
		v.Add("purposes", "max-items", "has more than %d entries", maxConsentPurposes)
		return nil
	}
	out := make([]string, 0, len(in))
	for i, p := range in {
		code := strings.ToLower(strings.TrimSpace(p))
		switch {
		case agreements.Purposes[code] == "":
			v.Add(valid.Path("purposes", i), "enum", "%q is not a purpose; valid: %s", p, strings.Join(slices.Sorted(maps.Keys(agreements.Purposes)), ", "))
		case slices.Contains(out, code):
			v.Add(valid.Path("purposes", i), "unique", "%q is listed twice", p)
		default:
			out = append(out, code)
		}
	}
	return out
}

// partyRegistered refuses a consent to a party the registry does not know.
func (s *Service) partyRegistered(ctx context.Context, id string) error {
	parties, err := s.store.Parties(ctx)
	if err != nil {
		return unavailable(err)
	}
	if !slices.ContainsFunc(parties, func(p *agreements.Party) bool { return p.ID == id }) {
		return valid.Errors{{Path: "party", Rule: "unknown", Message: "no party " + strictjson.Quote(id) + " is registered"}}
	}
	return nil
}

// WithdrawConsent records that the subject withdrew a consent, audited as
// consent.withdrawn. From then on no disclosure may rely on it. It needs an
// admin or a DPO; a consent is withdrawn once (ErrState after).
func (s *Service) WithdrawConsent(ctx context.Context, actor agreements.Actor, id string, w *api.ConsentWithdrawal) (*exchange.Consent, error) {
	if err := needRole(actor, agreements.RoleAdmin, agreements.RoleDPO); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	at := w.WithdrawnAt.UTC()
	if w.WithdrawnAt.IsZero() {
		at = now
	} else if at.After(now) {
		return nil, valid.Errors{{Path: "withdrawn_at", Rule: "not-future", Message: "lies in the future: record a withdrawal once it is made"}}
	}
	var c *exchange.Consent
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if c, err = tx.LockConsent(ctx, id); err != nil {
			return err
		}
		if !c.WithdrawnAt.IsZero() {
			return ErrState
		}
		if at.Before(c.GivenAt) {
			return valid.Errors{{Path: "withdrawn_at", Rule: "after-given", Message: "is before the consent was given (" + c.GivenAt.Format(time.RFC3339) + ")"}}
		}
		c.WithdrawnAt, c.WithdrawnBy = at, actor.Subject
		e := s.entry(actor, AuditConsentWithdrawn)
		e.Subjects = []string{c.SubjectKey}
		e.Detail["consent"] = c.ID
		e.Detail["party"] = c.Party
		e.Detail["consent_ref"] = c.ConsentRef
		e.Detail["withdrawn_at"] = at.Format(time.RFC3339)
		if err := tx.AppendAudit(ctx, e); err != nil {
			return err
		}
		return tx.WithdrawConsent(ctx, c)
	})
	if err != nil {
		return nil, unavailable(err)
	}
	return c, nil
}

// Consents lists the consent register, or one party's part of it. Admins,
// DPOs and auditors may read it.
func (s *Service) Consents(ctx context.Context, actor agreements.Actor, party string) ([]*exchange.Consent, error) {
	if err := needRole(actor, agreements.RoleAdmin, agreements.RoleDPO, agreements.RoleAuditor); err != nil {
		return nil, err
	}
	if party != "" && !agreements.ValidPartyID(party) {
		return nil, valid.Errors{{Path: "party", Rule: "format", Message: "is not a party id"}}
	}
	cs, err := s.store.Consents(ctx, party)
	return cs, unavailable(err)
}
