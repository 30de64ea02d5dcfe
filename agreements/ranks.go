package agreements

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// A Ladder orders the ranks or grades of one kind of organisation, lowest
// first. Each step has its code and the forms people write it in; a rank is
// looked up after normalise, so "Chief Superintendent", "chief_superintendent"
// and "Ch. Supt." are one rank.
type Ladder struct {
	// Name says whose ranks these are, for messages.
	Name  string
	Steps []Step
	index map[string]int
}

// Step is one rank of a ladder.
type Step struct {
	Code    string
	Aliases []string
}

func newLadder(name string, steps ...Step) *Ladder {
	l := &Ladder{Name: name, Steps: steps, index: map[string]int{}}
	for i, s := range steps {
		l.index[s.Code] = i + 1
		for _, a := range s.Aliases {
			l.index[normalise(a)] = i + 1
		}
	}
	return l
}

// Level returns the rank's place on the ladder (1 is the lowest), or 0 if it
// is not one of its ranks.
func (l *Ladder) Level(rank string) int {
	if l == nil {
		return 0
	}
	n := normalise(rank)
	if lv, ok := l.index[n]; ok {
		return lv
	}
	// "Detective Inspector" holds the rank of inspector.
	for _, p := range []string{"detective-", "det-"} {
		if rest, ok := strings.CutPrefix(n, p); ok {
			return l.index[rest]
		}
	}
	return 0
}

// Codes lists the ladder's rank codes, lowest first.
func (l *Ladder) Codes() []string {
	out := make([]string, len(l.Steps))
	for i, s := range l.Steps {
		out[i] = s.Code
	}
	return out
}

// The ladders. Police ranks are those of the Police Act 1996 and the Police
// Regulations 2003; the Metropolitan Police and the City of London Police
// name their chief officers differently (a commander stands with an
// assistant chief constable). Where a City title means a lower rank than
// the Met title of the same words, it is written with "city-".
var (
	PoliceRanks = newLadder("police ranks",
		Step{"constable", []string{"police-constable", "pc", "dc"}},
		Step{"sergeant", []string{"police-sergeant", "ps", "ds", "sgt"}},
		Step{"inspector", []string{"insp", "di"}},
		Step{"chief-inspector", []string{"ch-insp", "chief-insp", "ci", "dci"}},
		Step{"superintendent", []string{"supt", "dsupt", "dsu"}},
		Step{"chief-superintendent", []string{"ch-supt", "chief-supt", "dcs", "detective-chief-superintendent"}},
		Step{"assistant-chief-constable", []string{"acc", "commander", "cmdr"}},
		Step{"deputy-chief-constable", []string{"dcc", "deputy-assistant-commissioner", "dac", "city-assistant-commissioner"}},
		Step{"chief-constable", []string{"cc", "assistant-commissioner", "city-commissioner"}},
		Step{"deputy-commissioner", nil},
		Step{"commissioner", []string{"metropolitan-police-commissioner"}},
	)
	// CouncilGrades are the management grades of a local authority and its
	// services, with the statutory chief officers where they sit.
	CouncilGrades = newLadder("council grades",
		Step{"officer", []string{"council-officer"}},
		Step{"senior-officer", []string{"senior-practitioner"}},
		Step{"team-manager", []string{"team-leader"}},
		Step{"service-manager", nil},
		Step{"head-of-service", nil},
		Step{"assistant-director", nil},
		Step{"director", []string{"corporate-director", "executive-director", "strategic-director",
			"director-of-childrens-services", "director-of-adult-social-services", "director-of-public-health"}},
		Step{"deputy-chief-executive", nil},
		Step{"chief-executive", []string{"head-of-paid-service"}},
	)
	// CivilServiceGrades are the grades of the Civil Service (DWP, the
	// Cabinet Office).
	CivilServiceGrades = newLadder("civil service grades", civilService()...)
	// HMRCGrades are the civil service grades with HMRC's own titles for them.
	HMRCGrades = newLadder("HMRC grades", hmrcGrades()...)
)

func civilService() []Step {
	return []Step{
		{"administrative-assistant", []string{"aa"}},
		{"administrative-officer", []string{"ao"}},
		{"executive-officer", []string{"eo"}},
		{"higher-executive-officer", []string{"heo"}},
		{"senior-executive-officer", []string{"seo"}},
		{"grade-7", []string{"g7"}},
		{"grade-6", []string{"g6"}},
		{"deputy-director", []string{"scs1", "scs-1", "scs-pay-band-1"}},
		{"director", []string{"scs2", "scs-2", "scs-pay-band-2"}},
		{"director-general", []string{"scs3", "scs-3", "scs-pay-band-3"}},
		{"permanent-secretary", []string{"scs4", "scs-4"}},
	}
}

func hmrcGrades() []Step {
	steps := civilService()
	for i, extra := range map[int][]string{1: {"assistant-officer"}, 2: {"officer"}, 3: {"higher-officer"}, 4: {"senior-officer"}} {
		steps[i].Aliases = append(steps[i].Aliases, extra...)
	}
	return steps
}

// LadderFor returns the ladder of a kind of party, or nil if its people hold
// no ranks the gateway knows (courts).
func LadderFor(k PartyKind) *Ladder {
	switch k {
	case KindPolice:
		return PoliceRanks
	case KindCouncilService, KindLocalAuthority:
		return CouncilGrades
	case KindDWP, KindCabinetOffice:
		return CivilServiceGrades
	case KindHMRC:
		return HMRCGrades
	}
	return nil
}

// RankKinds are the kinds of party that have a ladder, in a fixed order.
var RankKinds = []PartyKind{KindPolice, KindCouncilService, KindLocalAuthority, KindDWP, KindHMRC, KindCabinetOffice}

// KnownRank reports whether rank is on any ladder.
func KnownRank(rank string) bool {
	for _, k := range RankKinds {
		if LadderFor(k).Level(rank) > 0 {
			return true
		}
	}
	return false
}

// RankRequirements is what a flow requires of an authorising officer, by the
// kind of organisation the officer belongs to: {police: inspector,
// council-service: service-manager}. An officer of a kind it does not name
// cannot authorise on the flow.
type RankRequirements map[PartyKind]string

// Kinds returns the kinds required, in RankKinds order.
func (r RankRequirements) Kinds() []PartyKind {
	var out []PartyKind
	for _, k := range RankKinds {
		if _, ok := r[k]; ok {
			out = append(out, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r)) {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// String is "police: inspector, council-service: service-manager".
func (r RankRequirements) String() string {
	parts := make([]string, 0, len(r))
	for _, k := range r.Kinds() {
		parts = append(parts, string(k)+": "+r[k])
	}
	return strings.Join(parts, ", ")
}

// MeetsAs reports whether an officer of an organisation of the given kind,
// holding rank, meets the requirement. The authorising officer belongs to the
// organisation that sends, so the rank is judged on that kind's ladder against
// what the flow requires of that kind (or of a kind sharing its ladder, as a
// local authority shares a council service's grades). A council cannot
// authorise its disclosure with a police rank; a kind the flow names no rank
// for cannot authorise on it at all.
func (r RankRequirements) MeetsAs(kind PartyKind, rank string) bool {
	req, ok := r[kind]
	l := LadderFor(kind)
	if !ok {
		for k, v := range r {
			if l != nil && LadderFor(k) == l {
				req, ok = v, true
				break
			}
		}
	}
	if !ok || l == nil {
		return false
	}
	have := l.Level(rank)
	return have > 0 && have >= l.Level(req)
}

// UnmarshalJSON refuses the single rank of earlier documents with a message
// that says what to write instead.
func (r *RankRequirements) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return fmt.Errorf(`authoriser_rank names the rank required for each kind of authoriser, e.g. {"police": "inspector", "council-service": "service-manager"}`)
	}
	var m map[PartyKind]string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*r = m
	return nil
}
