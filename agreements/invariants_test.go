package agreements_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-gw/gatehouse/agreements"
)

// invariantRequests is how many random requests TestDecideInvariants
// decides: a million. Under the race detector, which slows this pure,
// allocation-heavy loop about tenfold, it decides a tenth of them — enough
// for the detector's part, many decisions at once over one shared snapshot
// — and `make test` runs the full million again without it.
func invariantRequests() int {
	if raceDetector {
		return 100_000
	}
	return 1_000_000
}

// Pools the generator draws from: every code the gateway knows, a few it
// does not, and the empty value where a field may be missing.
var (
	genKinds    = []agreements.PartyKind{agreements.KindPolice, agreements.KindDWP, agreements.KindCabinetOffice, agreements.KindHMRC, agreements.KindCourt, agreements.KindLocalAuthority, agreements.KindCouncilService}
	genPurposes = append(keysOf(agreements.Purposes), "", "Marketing", " SALE", "direct_marketing", "gossip")
	genBases    = append(append(keysOf(agreements.Article6), keysOf(agreements.Part3Bases)...), "", "A6-1-z")
	genSpecial  = append(append(append(keysOf(agreements.Article9), keysOf(agreements.Schedule1)...), keysOf(agreements.Part3Sensitive)...), "A10", "A9-2-z")
	genCriminal = append(keysOf(agreements.Schedule1), "A10", "A10", "A10", "A9-2-g", "DPA-S8-4")
	genExempt   = append(keysOf(agreements.Schedule2), "", "", "", "DPA-S2-P1-9")
	genCats     = append(keysOf(agreements.Categories), "shoe-size")
	genRanks    = []string{"", "constable", "inspector", "Chief Superintendent", "Det. Supt.", "commander", "officer", "service-manager",
		"Head of Service", "chief-executive", "grade-7", "HEO", "senior officer", "deputy-director", "captain"}
	genStatuses = []agreements.Status{agreements.StatusDraft, agreements.StatusApproved, agreements.StatusSuspended, agreements.StatusTerminated,
		agreements.StatusExpired, agreements.StatusSuperseded}
	genPowers = []string{"", "", "CA-2004-S11", "CA-2014-S42", "CDA-1998-S115", "Local Government Act 1972 s.111"}
)

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

type gen struct{ r *rand.Rand }

func (g gen) pick(s []string) string { return s[g.r.IntN(len(s))] }
func (g gen) some(s []string, most int) []string {
	if len(s) == 0 {
		return nil
	}
	n := g.r.IntN(most + 1)
	out := make([]string, 0, n)
	for range n {
		if c := g.pick(s); !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}
func (g gen) chance(n int) bool { return g.r.IntN(n) == 0 }

// registry makes a random registry: parties of every kind and status, and
// agreements of every status, date and DPIA state whose flows are made of
// any code at all (the decision must hold whatever was registered).
func (g gen) registry() (*agreements.Registry, []string, []string) {
	var parties []*agreements.Party
	var ids []string
	for i := range 12 {
		p := &agreements.Party{ID: fmt.Sprintf("party-%d", i), Kind: genKinds[g.r.IntN(len(genKinds))], Status: agreements.PartyActive}
		if g.chance(6) {
			p.Status = agreements.PartySuspended
		}
		parties = append(parties, p)
		ids = append(ids, p.ID)
	}
	ids = append(ids, "unknown-party")
	var ags []*agreements.Agreement
	var agIDs []string
	for i := range 6 {
		a := &agreements.Agreement{ID: fmt.Sprintf("ag-%d", i), Version: 1 + g.r.IntN(3), Status: agreements.StatusActive,
			EffectiveFrom: agreements.NewDate(now.AddDate(0, 0, -g.r.IntN(400)+10)), ReviewBy: agreements.NewDate(now.AddDate(0, 0, g.r.IntN(400)-40)),
			SubjectNotification: agreements.Notification{Default: g.pick([]string{"notify", "withhold"}), ReviewAfter: agreements.Duration(time.Duration(g.r.IntN(200)) * 24 * time.Hour)}}
		if g.chance(3) {
			a.Status = genStatuses[g.r.IntN(len(genStatuses))]
		}
		if g.chance(4) {
			a.ExpiresAt = agreements.NewDate(now.AddDate(0, 0, g.r.IntN(200)-40))
		}
		if !g.chance(8) {
			a.DPIA = &agreements.DPIA{Reference: "D", Completed: agreements.NewDate(now.AddDate(0, 0, -g.r.IntN(400)+5)),
				Outcome: g.pick([]string{agreements.DPIAApproved, agreements.DPIAApprovedWithMitigations, agreements.DPIAApproved, agreements.DPIARejected})}
		}
		for range 1 + g.r.IntN(3) {
			f := agreements.Flow{From: g.some(ids, 3), To: g.some(ids, 3), Purposes: g.some(genPurposes, 4), LawfulBases: g.some(genBases, 3),
				SpecialCategory: g.some(genSpecial, 3), CriminalOffence: g.some(genCriminal, 3), Exemptions: g.some(genExempt, 2),
				DataCategories: g.some(genCats, 6), RequiresNamedSubject: g.chance(2), EmergencyOverride: g.chance(2)}
			if g.chance(2) {
				// A flow as validation would let it be registered, mostly.
				f.From, f.To = append(f.From, g.pick(ids)), append(f.To, g.pick(ids))
				f.Purposes = []string{g.pick([]string{"crime-prevention-detection", "safeguarding-child", "tax-assessment-collection", "legal-proceedings", "serious-risk-public"})}
				f.LawfulBases = []string{"A6-1-e", g.pick([]string{"A6-1-c", "A6-1-d"})}
				f.DataCategories = []string{"identity", g.pick([]string{"contact", "health", "criminal-offence", "financial"})}
				f.SpecialCategory = [][]string{nil, {"A9-2-c"}, {"A9-2-g", "DPA-S1-P2-18"}, {"A9-2-b", "DPA-S1-P1-1"}}[g.r.IntN(4)]
				f.CriminalOffence = [][]string{nil, {"A10", "DPA-S1-P2-10"}, {"A10"}}[g.r.IntN(3)]
				f.Exemptions = [][]string{nil, {"DPA-S2-P1-2"}, {"DPA-S2-P1-5"}}[g.r.IntN(3)]
			}
			if g.chance(4) {
				f.Regime = agreements.RegimePart3
			}
			if g.chance(2) {
				f.MaxSubjects = g.r.IntN(6)
			}
			if g.chance(3) {
				f.DailyVolume = g.r.IntN(4)
			}
			if g.chance(3) {
				f.Instruments = []agreements.Instrument{{Code: g.pick(genPowers), Title: "an instrument"}}
			}
			if g.chance(2) {
				f.AuthoriserRank = agreements.RankRequirements{}
				for range 1 + g.r.IntN(2) {
					k := agreements.RankKinds[g.r.IntN(len(agreements.RankKinds))]
					f.AuthoriserRank[k] = agreements.LadderFor(k).Steps[g.r.IntN(5)].Code
				}
			}
			a.Flows = append(a.Flows, f)
		}
		ags = append(ags, a)
		agIDs = append(agIDs, a.ID)
	}
	agIDs = append(agIDs, "", "no-such-agreement")
	return agreements.NewRegistry(parties, ags), ids, agIDs
}

func (g gen) request(reg *agreements.Registry, parties, ags []string) agreements.Request {
	if g.chance(2) {
		return g.nearFlow(reg, parties, ags)
	}
	r := agreements.Request{
		Sender: g.pick(parties), Recipient: g.pick(parties), Agreement: g.pick(ags), Purpose: g.pick(genPurposes),
		LawfulBasis: g.pick(genBases), SpecialCategory: g.some(genSpecial, 3), CriminalOffence: g.some(genCriminal, 3),
		Exemption: g.pick(genExempt), DataCategories: g.some(genCats, 4), NamedSubjects: g.r.IntN(4), Instrument: g.pick(genPowers),
		AuthoriserRank: g.pick(genRanks), Emergency: g.chance(2), SentToday: g.r.IntN(4),
	}
	r.SubjectCount = r.NamedSubjects + g.r.IntN(3)*g.r.IntN(4)
	if !g.chance(4) {
		r.Justification = "j"
	}
	if !g.chance(4) {
		r.AuthoriserName = "a"
	}
	if g.chance(3) {
		r.ConsentRef, r.ConsentRecords = "C", g.r.IntN(4)
	}
	if g.chance(4) {
		r.AgreementVersion = g.r.IntN(4)
	}
	if g.chance(4) {
		r.Notification = g.pick([]string{"notify", "withhold"})
		if g.chance(2) {
			r.NotificationReviewAt = now.Add(time.Duration(g.r.IntN(400)) * 24 * time.Hour)
		}
	}
	return r
}

// TestDecideInvariants decides a million random requests against random
// registries (every status, every code and some unknown ones, emergencies,
// missing fields) and checks each allowed one against the rules written
// out independently of Decide: no allow without an active, in-force,
// DPIA-complete agreement whose flow covers sender, recipient, purpose,
// basis, every category with its condition, subjects and rank; no
// allow-override outside an emergency's legal limits.
func TestDecideInvariants(t *testing.T) {
	workers := runtime.GOMAXPROCS(0)
	per := invariantRequests() / workers
	var mu sync.Mutex
	var failures []string
	outcomes := map[agreements.Outcome]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := gen{rand.New(rand.NewPCG(uint64(w), 20261201))}
			local := map[agreements.Outcome]int{}
			var reg *agreements.Registry
			var parties, ags []string
			for i := range per {
				if i%500 == 0 {
					reg, parties, ags = g.registry()
				}
				req := g.request(reg, parties, ags)
				d := agreements.Decide(&req, reg, now)
				local[d.Outcome]++
				if msg := violation(&req, reg, &d); msg != "" {
					mu.Lock()
					if len(failures) < 10 {
						failures = append(failures, fmt.Sprintf("%s\n  request: %+v\n  decision: %+v", msg, req, d))
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			for k, v := range local {
				outcomes[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	n := per * workers
	t.Logf("checked %d requests: %d allow, %d allow-override, %d deny", n, outcomes[agreements.Allow], outcomes[agreements.AllowOverride], outcomes[agreements.Deny])
	fmt.Printf("checked %d requests\n", n)
	// The generator must reach every outcome often enough to mean something.
	for _, o := range []agreements.Outcome{agreements.Allow, agreements.AllowOverride, agreements.Deny} {
		if outcomes[o] < n/1000 {
			t.Errorf("only %d of %d requests came out %s: the generator does not reach it", outcomes[o], n, o)
		}
	}
}

// violation says which rule an allowed decision breaks ("" if none).
func violation(r *agreements.Request, reg *agreements.Registry, d *agreements.Decision) string {
	switch d.Outcome {
	case agreements.Deny:
		if len(d.FailedCodes()) == 0 {
			return "a refusal names no failing check"
		}
		if !d.ReviewBy.IsZero() {
			return "a refusal carries a review date"
		}
		return ""
	case agreements.Allow:
		if len(d.FailedCodes()) != 0 {
			return "allowed with failing checks"
		}
		return normalRules(r, reg, d)
	case agreements.AllowOverride:
		return emergencyRules(r, reg, d)
	}
	return "unknown outcome " + string(d.Outcome)
}

var policy = agreements.DefaultPolicy

func grants(a *agreements.Agreement, r *agreements.Request) bool {
	return a != nil && a.Status == agreements.StatusActive &&
		!now.Before(a.EffectiveFrom.Start()) && (a.ExpiresAt.IsZero() || now.Before(a.ExpiresAt.End())) &&
		a.DPIA.Complete(now) && !a.DPIA.Lapsed(now, policy.DPIAReview) &&
		(r.AgreementVersion == 0 || r.AgreementVersion == a.Version)
}

func normalRules(r *agreements.Request, reg *agreements.Registry, d *agreements.Decision) string {
	if !reg.Party(r.Sender).Active() || !reg.Party(r.Recipient).Active() {
		return "allowed between parties that are not both active"
	}
	a := reg.Agreement(r.Agreement)
	if !grants(a, r) {
		return "allowed under no active, in-force, DPIA-complete agreement (or not the version named)"
	}
	if !a.ReviewBy.IsZero() && !now.Before(a.ReviewBy.End().Add(policy.ReviewGrace)) {
		return "allowed past the agreement's review"
	}
	if d.Agreement != a.Ref() || d.Flow < 0 || d.Flow >= len(a.Flows) {
		return "allowed without recording the agreement and flow"
	}
	f := &a.Flows[d.Flow]
	if !f.Sends(r.Sender) || !f.Receives(r.Recipient) || !slices.Contains(f.Purposes, r.Purpose) || agreements.Purposes[r.Purpose] == "" {
		return "the flow does not cover sender, recipient and purpose"
	}
	if len(r.DataCategories) == 0 {
		return "allowed with no data categories"
	}
	special, criminal := false, false
	for _, c := range r.DataCategories {
		if !slices.Contains(f.DataCategories, c) || agreements.Categories[c] == "" {
			return "a category outside the flow"
		}
		special = special || agreements.Categories[c] == agreements.CategorySpecial
		criminal = criminal || agreements.Categories[c] == agreements.CategoryCriminalOffence
	}
	if f.RegimeOf() == agreements.RegimePart3 {
		if agreements.Part3Bases[r.LawfulBasis] == "" || !slices.Contains(f.LawfulBases, r.LawfulBasis) || len(r.CriminalOffence) > 0 ||
			!slices.Contains(agreements.LawEnforcementPurposes, r.Purpose) {
			return "Part 3 flow without a s.35(2) condition for a s.31 purpose"
		}
		if special && !slices.ContainsFunc(r.SpecialCategory, func(c string) bool { return agreements.Part3Sensitive[c] != "" }) {
			return "sensitive processing without its s.35 condition"
		}
	} else {
		if agreements.Article6[r.LawfulBasis] == "" || r.LawfulBasis == "A6-1-f" || !slices.Contains(f.LawfulBases, r.LawfulBasis) {
			return "no permitted Art 6 basis"
		}
		if special && !slices.ContainsFunc(r.SpecialCategory, func(c string) bool { _, ok := agreements.Article9[c]; return ok }) {
			return "special-category data without an Art 9 condition"
		}
		for _, c := range r.SpecialCategory {
			if !slices.Contains(f.SpecialCategory, c) {
				return "a special-category condition outside the flow"
			}
			if a9, ok := agreements.Article9[c]; ok && a9.NeedsSchedule && !slices.ContainsFunc(r.SpecialCategory, func(s string) bool { return agreements.Schedule1[s].Article9 == c }) {
				return c + " without its Sch 1 condition"
			}
		}
		if criminal && (!slices.Contains(r.CriminalOffence, "A10") || !slices.ContainsFunc(r.CriminalOffence, agreements.Article10Condition)) {
			return "criminal-offence data without A10 and a Sch 1 condition"
		}
		for _, c := range r.CriminalOffence {
			if !slices.Contains(f.CriminalOffence, c) {
				return "a criminal-offence condition outside the flow"
			}
		}
	}
	if r.Exemption != "" && (!slices.Contains(f.Exemptions, r.Exemption) || !agreements.ExemptionServes(r.Exemption, r.Purpose)) {
		return "an exemption outside the flow or its purposes"
	}
	if (f.RequiresNamedSubject || r.Exemption == agreements.ExemptionCrimeAndTaxation) && r.NamedSubjects == 0 {
		return "no named subject where one is required"
	}
	if f.MaxSubjects > 0 && max(r.SubjectCount, r.NamedSubjects) > f.MaxSubjects {
		return "more subjects than the flow allows"
	}
	if len(f.AuthoriserRank) > 0 && (r.AuthoriserName == "" || !rankMet(reg, r, f)) {
		return "authoriser rank not met"
	}
	if f.DailyVolume > 0 && r.SentToday >= f.DailyVolume {
		return "past the daily volume"
	}
	if (r.Exemption != "" || special || criminal) && strings.TrimSpace(r.Justification) == "" {
		return "no justification"
	}
	return commonRules(r, a)
}

// commonRules hold on every allowed path: consent, prohibited purposes and
// withheld notification.
func commonRules(r *agreements.Request, a *agreements.Agreement) string {
	if agreements.Prohibited(r.Purpose) && (r.LawfulBasis != "A6-1-a" || r.NamedSubjects == 0 || r.ConsentRecords < r.NamedSubjects || r.SubjectCount > r.NamedSubjects) {
		return "a prohibited purpose without consent recorded for every subject"
	}
	if r.LawfulBasis == "A6-1-a" && r.ConsentRef == "" && r.ConsentRecords == 0 {
		return "consent relied on without a record"
	}
	if r.Notification == "withhold" {
		bound := policy.NotificationReview
		byDefault := false
		if a != nil {
			byDefault = a.SubjectNotification.Default == "withhold"
			if a.SubjectNotification.ReviewAfter > 0 {
				bound = a.SubjectNotification.ReviewAfter.Std()
			}
		}
		if r.Exemption == "" && !byDefault && !r.Emergency {
			return "notification withheld without an exemption or the agreement's default"
		}
		if r.NotificationReviewAt.After(now.Add(bound)) {
			return "notification withheld past its bound"
		}
	}
	return ""
}

func emergencyRules(r *agreements.Request, reg *agreements.Registry, d *agreements.Decision) string {
	recipient := reg.Party(r.Recipient)
	switch {
	case !r.Emergency:
		return "an override nobody asked for"
	case !reg.Party(r.Sender).Active() || !recipient.Active():
		return "an override between parties that are not both active"
	case !agreements.VitalInterest(r.Purpose):
		return "an override for a purpose that is not a vital interest"
	case strings.TrimSpace(r.Justification) == "" || strings.TrimSpace(r.AuthoriserName) == "":
		return "an override without a named authoriser and a justification"
	case !d.ReviewBy.Equal(now.Add(policy.OverrideReview)):
		return "an override not flagged for review"
	case len(r.DataCategories) == 0:
		return "an override with no data categories"
	}
	power := slices.Contains([]string{"CA-1989-S47", "CA-2004-S11", "CA-2014-S42", "CA-2014-S45", "CDA-1998-S115"}, r.Instrument)
	var f *agreements.Flow
	a := reg.Agreement(r.Agreement)
	if d.Agreement != "" {
		if !grants(a, r) || d.Agreement != a.Ref() || d.Flow < 0 || d.Flow >= len(a.Flows) {
			return "an override under an agreement that cannot grant it"
		}
		f = &a.Flows[d.Flow]
		if !f.Sends(r.Sender) || !f.Receives(r.Recipient) || !f.EmergencyOverride {
			return "an override under a flow that does not allow it"
		}
		for _, c := range r.DataCategories {
			if !slices.Contains(f.DataCategories, c) {
				return "an override past the flow's categories"
			}
		}
		if f.MaxSubjects > 0 && max(r.SubjectCount, r.NamedSubjects) > f.MaxSubjects {
			return "an override past the flow's subject limit"
		}
		if len(f.AuthoriserRank) > 0 && !rankMet(reg, r, f) {
			return "an override past the flow's authoriser rank"
		}
		if r.Exemption != "" && (!slices.Contains(f.Exemptions, r.Exemption) || !agreements.ExemptionServes(r.Exemption, r.Purpose)) {
			return "an override with an exemption outside the flow"
		}
		if r.Instrument == "" {
			power = power || slices.ContainsFunc(f.Instruments, func(in agreements.Instrument) bool {
				return slices.Contains([]string{"CA-1989-S47", "CA-2004-S11", "CA-2014-S42", "CA-2014-S45", "CDA-1998-S115"}, in.Code)
			})
		}
	} else if recipient.Kind != agreements.KindPolice && recipient.Kind != agreements.KindCouncilService {
		return "an override under no agreement to a party that is not the police or a council service"
	}
	if r.LawfulBasis != "A6-1-d" && !(r.LawfulBasis == "A6-1-e" && power) {
		return "an override without a lawful basis fit for an emergency"
	}
	special, criminal := false, false
	for _, c := range r.DataCategories {
		switch agreements.Categories[c] {
		case "":
			return "an override with an unknown category"
		case agreements.CategorySpecial:
			special = true
		case agreements.CategoryCriminalOffence:
			criminal = true
		}
	}
	if special && !slices.Contains(r.SpecialCategory, "A9-2-c") && !(slices.Contains(r.SpecialCategory, "A9-2-g") && slices.Contains(r.SpecialCategory, "DPA-S1-P2-18")) {
		return "special-category data in an emergency without A9-2-c or A9-2-g with DPA-S1-P2-18"
	}
	if criminal && (!slices.Contains(r.CriminalOffence, "A10") || !slices.ContainsFunc(r.CriminalOffence, agreements.Article10Condition)) {
		return "criminal-offence data in an emergency without A10 and a Sch 1 condition"
	}
	var ag *agreements.Agreement // a set-aside agreement grants nothing
	if d.Agreement != "" {
		ag = a
	}
	return commonRules(r, ag)
}

// nearFlow makes a request that a flow of a registered agreement would
// permit, then breaks it in a few random places: most come out near the
// line between allowed and refused, where mistakes hide.
func (g gen) nearFlow(reg *agreements.Registry, parties, ags []string) agreements.Request {
	a := reg.Agreement(ags[g.r.IntN(len(ags)-2)])
	f := &a.Flows[g.r.IntN(len(a.Flows))]
	from := func(s []string, or []string) string {
		if len(s) == 0 {
			return g.pick(or)
		}
		return g.pick(s)
	}
	r := agreements.Request{
		Sender: from(f.From, parties), Recipient: from(f.To, parties), Agreement: a.ID, Purpose: from(f.Purposes, genPurposes),
		LawfulBasis: from(f.LawfulBases, genBases), SpecialCategory: f.SpecialCategory, CriminalOffence: f.CriminalOffence,
		DataCategories: g.some(f.DataCategories, 3), NamedSubjects: 1 + g.r.IntN(2), Justification: "j", AuthoriserName: "a",
		Emergency: g.chance(3),
	}
	r.SubjectCount = r.NamedSubjects
	if len(f.Exemptions) > 0 && g.chance(2) {
		r.Exemption = g.pick(f.Exemptions)
	}
	// Mostly a rank of the sender's own ladder; sometimes one of another
	// kind the flow names (a council officer quoting a police rank).
	if p := reg.Party(r.Sender); p != nil && agreements.LadderFor(p.Kind) != nil && !g.chance(4) {
		l := agreements.LadderFor(p.Kind)
		r.AuthoriserRank = l.Steps[g.r.IntN(len(l.Steps))].Code
	} else {
		for k := range f.AuthoriserRank {
			r.AuthoriserRank = agreements.LadderFor(k).Steps[g.r.IntN(len(agreements.LadderFor(k).Steps))].Code
			break
		}
	}
	if len(f.Instruments) > 0 {
		r.Instrument = f.Instruments[0].Code
	}
	if agreements.Prohibited(r.Purpose) {
		r.ConsentRef, r.ConsentRecords = "C", r.NamedSubjects
	}
	if g.chance(5) {
		r.Purpose = g.pick([]string{"safeguarding-child", "safeguarding-adult", "serious-risk-public"})
	}
	if g.chance(5) {
		r.LawfulBasis = g.pick([]string{"A6-1-d", "A6-1-e"})
	}
	for range g.r.IntN(3) * g.r.IntN(2) {
		switch g.r.IntN(12) {
		case 0:
			r.Recipient = g.pick(parties)
		case 1:
			r.Agreement = g.pick(ags)
		case 2:
			r.DataCategories = append(slices.Clone(r.DataCategories), g.pick(genCats))
		case 3:
			r.SpecialCategory = g.some(genSpecial, 2)
		case 4:
			r.CriminalOffence = g.some(genCriminal, 2)
		case 5:
			r.Justification = ""
		case 6:
			r.AuthoriserName = ""
		case 7:
			r.SubjectCount = 3 + g.r.IntN(5)
		case 8:
			r.SentToday = g.r.IntN(4)
		case 9:
			r.Notification, r.NotificationReviewAt = "withhold", now.Add(time.Duration(g.r.IntN(400))*24*time.Hour)
		case 10:
			r.AgreementVersion = g.r.IntN(4)
		case 11:
			r.Purpose, r.LawfulBasis = g.pick(genPurposes), g.pick(genBases)
		}
	}
	return r
}

// rankMet is the rank rule written out: the authorising officer belongs to
// the sending organisation, so the rank must be on the sender's kind's ladder
// and at or above what the flow requires of that kind (or of a kind sharing
// the ladder).
func rankMet(reg *agreements.Registry, r *agreements.Request, f *agreements.Flow) bool {
	p := reg.Party(r.Sender)
	if p == nil {
		return false
	}
	kind := p.Kind
	l := agreements.LadderFor(kind)
	if l == nil {
		return false
	}
	want, ok := f.AuthoriserRank[kind]
	for k, v := range f.AuthoriserRank {
		if !ok && agreements.LadderFor(k) == l {
			want, ok = v, true
		}
	}
	have := l.Level(r.AuthoriserRank)
	return ok && have > 0 && have >= l.Level(want)
}
