package gateway

import (
	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/api"
)

// Party change proposals: domain ↔ wire.

func trustEditOf(d *api.PartyChangeProposal) agreements.TrustEdit {
	e := agreements.TrustEdit{TrustAnchors: d.TrustAnchors, RevocationHosts: d.RevocationHosts, EncryptionKey: []byte(d.EncryptionKey)}
	if d.EncryptionKey == nil {
		e.EncryptionKey = nil
	}
	if d.Kind != nil {
		k := agreements.PartyKind(*d.Kind)
		e.Kind = &k
	}
	if d.Identity != nil {
		e.Identity = &agreements.IdentityRule{SubjectDN: d.Identity.SubjectDN, IssuerFingerprint: d.Identity.IssuerFingerprint}
	}
	return e
}

func trustView(t agreements.PartyTrust) api.PartyTrust {
	v := api.PartyTrust{
		Kind: string(t.Kind), TrustAnchors: t.TrustAnchors, RevocationHosts: t.RevocationHosts, EncryptionKey: t.EncryptionKey,
	}
	if v.RevocationHosts == nil {
		v.RevocationHosts = []string{}
	}
	if t.Identity != (agreements.IdentityRule{}) {
		v.Identity = &api.IdentityRule{SubjectDN: t.Identity.SubjectDN, IssuerFingerprint: t.Identity.IssuerFingerprint}
	}
	return v
}

func partyChangeView(c *agreements.PartyChange) api.PartyChange {
	fields := c.Fields()
	if fields == nil {
		fields = []string{}
	}
	return api.PartyChange{
		ID: c.ID, Party: c.Party, Status: string(c.Status), Reason: c.Reason, Fields: fields,
		Before: trustView(c.Before), After: trustView(c.After),
		ProposedBy: c.ProposedBy, ProposedByName: c.ProposedByName, ProposedAt: c.ProposedAt,
		SHA256:    c.Digest,
		DecidedBy: c.DecidedBy, DecidedByName: c.DecidedByName, DecidedAt: c.DecidedAt, DecisionReason: c.DecisionReason,
	}
}

func partyChangeList(cs []*agreements.PartyChange) api.PartyChangeList {
	out := api.PartyChangeList{Changes: make([]api.PartyChange, len(cs))}
	for i, c := range cs {
		out.Changes[i] = partyChangeView(c)
	}
	return out
}
