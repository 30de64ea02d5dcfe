package gateway

import (
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
)

// The admin API's registry documents: domain ↔ wire.

// mapSlice maps each element of in; a nil slice stays nil (and renders as
// null, as the domain's own encoding did).
func mapSlice[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

func partyOf(d *api.PartyRegistration) *agreements.Party {
	p := &agreements.Party{ID: d.ID, Kind: agreements.PartyKind(d.Kind), Name: d.Name, TrustAnchors: d.TrustAnchors,
		RevocationHosts: d.RevocationHosts, EncryptionKey: []byte(d.EncryptionKey)}
	if d.Identity != nil {
		p.Identity = agreements.IdentityRule{SubjectDN: d.Identity.SubjectDN, IssuerFingerprint: d.Identity.IssuerFingerprint}
	}
	return p
}

func partyView(p *agreements.Party) api.Party {
	v := api.Party{
		ID: p.ID, Kind: string(p.Kind), Name: p.Name, Status: string(p.Status),
		TrustAnchors: p.TrustAnchors, RevocationHosts: p.RevocationHosts, EncryptionKey: p.EncryptionKey, UpdatedAt: p.UpdatedAt,
		RegisteredBy: p.RegisteredBy, RegisteredByName: p.RegisteredByName, RegisteredAt: p.RegisteredAt, RegistrationSHA256: p.RegistrationSHA256,
		DecidedBy: p.DecidedBy, DecidedByName: p.DecidedByName, DecidedAt: p.DecidedAt,
	}
	if p.Identity != (agreements.IdentityRule{}) {
		v.Identity = &api.IdentityRule{SubjectDN: p.Identity.SubjectDN, IssuerFingerprint: p.Identity.IssuerFingerprint}
	}
	return v
}

// agreementView is an agreement version as the admin API shows it, with the
// status it has at now (an active agreement past its expiry shows as expired).
func agreementView(a *agreements.Agreement, now time.Time) api.Agreement {
	v := api.Agreement{
		ID: a.ID, Version: a.Version, Status: string(a.Status), Title: a.Title, Controllers: a.Controllers,
		Signatories: mapSlice(a.Signatories, func(s agreements.Signatory) api.Signatory {
			return api.Signatory{Party: s.Party, Name: s.Name, Role: s.Role, SignedOn: s.SignedOn.String()}
		}),
		AppropriatePolicyDocument: a.AppropriatePolicyDocument,
		Flows:                     mapSlice(a.Flows, flowView),
		EffectiveFrom:             a.EffectiveFrom.String(),
		ExpiresAt:                 a.ExpiresAt.String(),
		ReviewBy:                  a.ReviewBy.String(),
		Retention:                 a.Retention.String(),
		SubjectNotification: api.NotificationPolicy{
			Default: a.SubjectNotification.Default, Reason: a.SubjectNotification.Reason,
		},
		Author: a.Author, ApprovedBy: a.ApprovedBy, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
		SHA256: agreements.Digest(a), ApprovedSHA256: a.ApprovedSHA256,
		EffectiveStatus: string(a.EffectiveStatus(now)),
	}
	if d := a.SubjectNotification.ReviewAfter; d != 0 {
		v.SubjectNotification.ReviewAfter = d.String()
	}
	if d := a.DPIA; d != nil {
		v.DPIA = &api.DPIA{Reference: d.Reference, Completed: d.Completed.String(), Outcome: d.Outcome, Approver: d.Approver}
	}
	return v
}

func flowView(f agreements.Flow) api.Flow {
	v := api.Flow{
		Regime: f.Regime, From: f.From, To: f.To, Purposes: f.Purposes, LawfulBases: f.LawfulBases,
		SpecialCategory: f.SpecialCategory, CriminalOffence: f.CriminalOffence, Exemptions: f.Exemptions,
		Instruments: mapSlice(f.Instruments, func(i agreements.Instrument) api.Instrument {
			return api.Instrument{Code: i.Code, Title: i.Title}
		}),
		DataCategories: f.DataCategories, MaxSubjects: f.MaxSubjects, DailyVolume: f.DailyVolume,
		RequiresNamedSubject: f.RequiresNamedSubject, AuthoriserRank: rankView(f.AuthoriserRank),
		Handler: f.Handler, EmergencyOverride: f.EmergencyOverride,
	}
	if p := f.Fields; p != nil {
		v.Fields = &api.FieldPolicy{Allow: p.Allow, Pseudonymise: p.Pseudonymise, OnExtra: p.OnExtra, Subject: p.Subject}
	}
	return v
}

func (s *Server) agreementViews(list []*agreements.Agreement) []api.Agreement {
	now := s.now()
	out := make([]api.Agreement, len(list))
	for i, a := range list {
		out[i] = agreementView(a, now)
	}
	return out
}

func rankView(r agreements.RankRequirements) map[string]string {
	if len(r) == 0 {
		return nil
	}
	out := make(map[string]string, len(r))
	for k, v := range r {
		out[string(k)] = v
	}
	return out
}
