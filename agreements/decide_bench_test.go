package agreements_test

import (
	"fmt"
	"testing"

	"github.com/gatehouse-gw/gatehouse/agreements"
	"github.com/gatehouse-gw/gatehouse/devenv/demo"
)

// benchRegistry registers 10,000 agreements; "big" has 20 flows and the
// request matches its last one, so Decide scans every flow.
func benchRegistry(b *testing.B) (*agreements.Registry, agreements.Request) {
	b.Helper()
	base := demo.AgreementsAt(now)[4] // police-crime
	var ags []*agreements.Agreement
	for i := range 9999 {
		a := *base
		a.ID, a.Version, a.Status = fmt.Sprintf("agreement-%05d", i), 1, agreements.StatusActive
		ags = append(ags, &a)
	}
	big := *base
	big.ID, big.Version, big.Status = "big", 1, agreements.StatusActive
	big.Flows = nil
	for i := range 20 {
		f := base.Flows[0]
		f.From = []string{fmt.Sprintf("council.service-%02d", i), "council.other"}
		if i == 19 {
			f.From = []string{"council.other", "council.revenues"}
		}
		big.Flows = append(big.Flows, f)
	}
	ags = append(ags, &big)
	reg := agreements.NewRegistry(demo.Parties(), ags)
	req := councilToPolice()
	req.Agreement = "big"
	req.DataCategories = []string{"identity", "criminal-offence"}
	req.CriminalOffence = []string{"A10", "DPA-S1-P2-10"}
	return reg, req
}

// BenchmarkDecide is target P1: a 20-flow agreement among 10,000
// registered; ≤ 5 µs/op and ≤ 20 allocs/op.
func BenchmarkDecide(b *testing.B) {
	reg, req := benchRegistry(b)
	if d := agreements.Decide(&req, reg, now); d.Outcome != agreements.Allow || d.Flow != 19 {
		b.Fatalf("benchmark request is not allowed on flow 19: %+v", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		d := agreements.Decide(&req, reg, now)
		if d.Outcome != agreements.Allow {
			b.Fatal("refused")
		}
	}
}

// BenchmarkDecideDeny measures a refusal, whose messages name the failures.
func BenchmarkDecideDeny(b *testing.B) {
	reg, req := benchRegistry(b)
	req.Purpose = "marketing"
	req.NamedSubjects, req.SubjectCount = 9, 9
	b.ReportAllocs()
	for b.Loop() {
		d := agreements.Decide(&req, reg, now)
		if d.Outcome != agreements.Deny {
			b.Fatal("allowed")
		}
	}
}
