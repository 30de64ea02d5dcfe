// Package demo holds the demonstration parties and agreements of docs/design.md §3–4:
// a fictional council, Northshire, and its partner agencies. make run loads
// them, and the end-to-end tests use them.
package demo

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// TrustDomain is the SPIFFE trust domain of the demo parties.
const TrustDomain = "northshire.test"

//go:embed parties.yaml agreements/*.yaml
var files embed.FS

// Parties returns the demo parties, active, without keys or anchors (a
// registry as it is once each registration is approved; Seed registers them
// the way an administrator does).
func Parties() []*agreements.Party {
	b, err := files.ReadFile("parties.yaml")
	if err != nil {
		panic(err)
	}
	ps, err := agreements.DecodePartiesYAML(b)
	if err != nil {
		panic(fmt.Sprintf("demo parties: %v", err))
	}
	for _, p := range ps {
		p.Status = agreements.PartyActive
	}
	return ps
}

// PartyIDs returns the ids of the demo parties.
func PartyIDs() []string {
	var ids []string
	for _, p := range Parties() {
		ids = append(ids, p.ID)
	}
	return ids
}

// writtenAsOf is the day the demo agreements' dates are written for. They
// are loaded relative to today (AgreementsAt), so that the demo is always
// in force, its DPIAs current and no review lapsed.
var writtenAsOf = agreements.MustDate("2026-01-15")

// Agreements returns the demo agreements as documents (version 0, no
// status), their dates as of today.
func Agreements() []*agreements.Agreement { return AgreementsAt(time.Now()) }

// AgreementsAt returns the demo agreements with every date moved by the days
// from writtenAsOf to the day of now: signed, assessed, in force and due for
// review as long before or after now as they are before or after
// writtenAsOf in the files.
func AgreementsAt(now time.Time) []*agreements.Agreement {
	names, err := fs.Glob(files, "agreements/*.yaml")
	if err != nil {
		panic(err)
	}
	slices.Sort(names)
	shift := int(math.Round(agreements.NewDate(now).Start().Sub(writtenAsOf.Start()).Hours() / 24))
	move := func(d *agreements.Date) {
		if !d.IsZero() {
			*d = d.AddDays(shift)
		}
	}
	var out []*agreements.Agreement
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			panic(err)
		}
		a, err := agreements.DecodeYAML(b)
		if err != nil {
			panic(fmt.Sprintf("demo agreement %s: %v", path.Base(n), err))
		}
		for i := range a.Signatories {
			move(&a.Signatories[i].SignedOn)
		}
		if a.DPIA != nil {
			move(&a.DPIA.Completed)
		}
		move(&a.EffectiveFrom)
		move(&a.ExpiresAt)
		move(&a.ReviewBy)
		out = append(out, a)
	}
	return out
}

// Seed registers the demo parties with their public encryption keys (JWK
// JSON by party id), each registered by an administrator and approved by a
// different person (a DPO), and takes every demo agreement through its lifecycle:
// registered by an administrator, approved by a different person (a DPO),
// activated. Every step is audited like any other.
func Seed(ctx context.Context, svc *agreements.Service, encryptionKeys map[string][]byte) error {
	admin := agreements.Actor{Subject: "demo-admin", Roles: []string{agreements.RoleAdmin}}
	dpo := agreements.Actor{Subject: "demo-dpo", Roles: []string{agreements.RoleDPO}}
	for _, p := range Parties() {
		key, ok := encryptionKeys[p.ID]
		if !ok {
			return fmt.Errorf("demo: no encryption key for %s", p.ID)
		}
		p.EncryptionKey, p.Status = key, ""
		reg, err := svc.RegisterParty(ctx, admin, p, "")
		if errors.Is(err, agreements.ErrExists) {
			continue
		}
		if err != nil {
			return fmt.Errorf("demo party %s: %w", p.ID, err)
		}
		if _, err := svc.ApproveParty(ctx, dpo, reg.ID, reg.RegistrationSHA256); err != nil {
			return fmt.Errorf("demo party %s: %w", p.ID, err)
		}
	}
	for _, a := range Agreements() {
		reg, err := svc.Register(ctx, admin, a, "")
		if err != nil {
			return fmt.Errorf("demo agreement %s: %w", a.ID, err)
		}
		if _, err := svc.Approve(ctx, dpo, reg.ID, reg.Version, agreements.Digest(reg)); err != nil {
			return fmt.Errorf("demo agreement %s: %w", a.ID, err)
		}
		if _, err := svc.Activate(ctx, admin, reg.ID, reg.Version, agreements.Digest(reg)); err != nil {
			return fmt.Errorf("demo agreement %s: %w", a.ID, err)
		}
	}
	return nil
}
