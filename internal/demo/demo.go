// Package demo holds the demonstration parties and agreements of BRIEF §3–4:
// a fictional council, Northshire, and its partner agencies. make run loads
// them, and the end-to-end tests use them.
package demo

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"time"

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

// Registrar is what Seed needs to register parties and agreements.
type Registrar interface {
	PutParty(ctx context.Context, p *agreements.Party) error
	PutAgreement(ctx context.Context, a *agreements.Agreement) error
}

// Seed registers the demo parties with their public encryption keys (JWK
// JSON by party id) and activates version 1 of every demo agreement.
func Seed(ctx context.Context, r Registrar, encryptionKeys map[string][]byte, now time.Time) error {
	for _, p := range Parties() {
		key, ok := encryptionKeys[p.ID]
		if !ok {
			return fmt.Errorf("demo: no encryption key for %s", p.ID)
		}
		p.EncryptionKey = key
		p.UpdatedAt = now
		if err := r.PutParty(ctx, p); err != nil {
			return err
		}
	}
	for _, a := range Agreements() {
		a.Version = 1
		a.Status = agreements.StatusActive
		a.Author = "demo"
		a.ApprovedBy = "demo-dpo"
		a.CreatedAt, a.UpdatedAt = now, now
		if err := r.PutAgreement(ctx, a); err != nil {
			return err
		}
	}
	return nil
}
