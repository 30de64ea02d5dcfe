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
	"path"
	"slices"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// TrustDomain is the SPIFFE trust domain of the demo parties.
const TrustDomain = "northshire.test"

//go:embed parties.yaml agreements/*.yaml
var files embed.FS

// Parties returns the demo parties, active, without keys or anchors.
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

// Agreements returns the demo agreements as documents (version 0, no status).
func Agreements() []*agreements.Agreement {
	names, err := fs.Glob(files, "agreements/*.yaml")
	if err != nil {
		panic(err)
	}
	slices.Sort(names)
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
		out = append(out, a)
	}
	return out
}

// Seed registers the demo parties with their public encryption keys (JWK
// JSON by party id) and takes every demo agreement through its lifecycle:
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
		p.EncryptionKey = key
		if _, err := svc.RegisterParty(ctx, admin, p, ""); err != nil && !errors.Is(err, agreements.ErrExists) {
			return fmt.Errorf("demo party %s: %w", p.ID, err)
		}
	}
	for _, a := range Agreements() {
		reg, err := svc.Register(ctx, admin, a, "")
		if err != nil {
			return fmt.Errorf("demo agreement %s: %w", a.ID, err)
		}
		if _, err := svc.Approve(ctx, dpo, reg.ID, reg.Version); err != nil {
			return fmt.Errorf("demo agreement %s: %w", a.ID, err)
		}
		if _, err := svc.Activate(ctx, admin, reg.ID, reg.Version); err != nil {
			return fmt.Errorf("demo agreement %s: %w", a.ID, err)
		}
	}
	return nil
}
